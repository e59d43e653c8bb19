/**
 * Files that sit beside a model (ONNX external data, labels): resolved only inside the model's own folder,
 * with the same scheme and origin, so that a model from a URL can never make the library read local files
 * or another host, and a local model cannot reach outside its folder.
 */
import { WeightsError } from '../errors.js';

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * The file `relative` (a relative path as written in the model, '/'- or '\'-separated) in the folder of
 * `model` (a local path, or an http(s)/file URL); a WeightsError when it is absolute, has a scheme or a
 * drive, or has '.'/'..'/empty segments.
 */
/** The model as a URL when it is one (a URL or a string with a scheme; not a Windows drive path). */
export function modelUrl(model: string | URL): URL | undefined {
  if (model instanceof URL) return model;
  if (!SCHEME.test(model) || /^[a-z]:[\\/]/i.test(model)) return undefined;
  try {
    return new URL(model);
  } catch {
    throw new WeightsError(`invalid model URL ${model}`);
  }
}

export function besideModel(model: string | URL, relative: string, what: string): string | URL {
  const segments = relative.split(/[\\/]/);
  const escapes = relative === '' || relative.includes('\0') || SCHEME.test(relative) || segments.some((s) => s === '' || s === '.' || s === '..');
  if (escapes) throw new WeightsError(`${what} '${relative}' must be a relative path inside the model's folder`);
  const base = modelUrl(model);
  if (base === undefined) {
    const path = model as string;
    const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
    return path.slice(0, slash + 1) + segments.join(path[slash] === '\\' ? '\\' : '/');
  }
  let url: URL;
  try {
    url = new URL(segments.map(encodeURIComponent).join('/'), base);
  } catch {
    throw new WeightsError(`${what} '${relative}' cannot be resolved beside ${base.href}`);
  }
  const folder = base.pathname.slice(0, base.pathname.lastIndexOf('/') + 1);
  if (url.protocol !== base.protocol || url.host !== base.host || !url.pathname.startsWith(folder) || !/^(https?|file):$/.test(url.protocol)) {
    throw new WeightsError(`${what} '${relative}' resolves outside the model's folder (${url.href})`);
  }
  return url;
}
