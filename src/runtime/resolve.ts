import { InvalidInputError } from '../errors.js';

const hasScheme = (s: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(s);

/**
 * Where a file that a model file names (a weights shard, metadata.json, ONNX external data) lives,
 * resolved against the model file's own location and confined to it: a model served over http may
 * only name files on the same origin (never a file: URL or another host), and a local model only
 * files in its own folder or below (no absolute paths, no `..` out of the folder). A model must not
 * be able to make the library read files its user did not point at.
 *
 * `base` is the model file's path or URL; `name` is the relative name written in it. Throws
 * InvalidInputError naming both, without touching the file.
 */
export function resolveUnderBase(base: string | URL, name: string, what: string): string | URL {
  const refuse = (why: string) => new InvalidInputError(`${what} '${name}' ${why} (the model is ${String(base)}); refusing to read it`);
  if (typeof name !== 'string' || name === '' || name.includes('\0')) throw refuse('is not a file name');
  if (base instanceof URL || hasScheme(base)) {
    const baseUrl = new URL(base);
    let url: URL;
    try {
      url = new URL(name, baseUrl);
    } catch {
      throw refuse('is not a valid relative URL');
    }
    if (url.protocol !== baseUrl.protocol || url.origin !== baseUrl.origin || url.host !== baseUrl.host) throw refuse('is not on the model\'s own origin');
    if (url.protocol === 'file:') {
      const folder = baseUrl.pathname.slice(0, baseUrl.pathname.lastIndexOf('/') + 1);
      // The URL parser has already removed `..` (also percent-encoded), so a prefix check suffices.
      if (!url.pathname.startsWith(folder)) throw refuse('is outside the model\'s folder');
    }
    return url;
  }
  // A local path: the name must stay inside the model's folder.
  if (hasScheme(name) || /^[/\\]/.test(name) || /^[a-z]:/i.test(name)) throw refuse('is not a relative path');
  let depth = 0;
  for (const part of name.split(/[/\\]/)) {
    if (part === '..') depth--;
    else if (part !== '.' && part !== '') depth++;
    if (depth < 0) throw refuse('is outside the model\'s folder');
  }
  const slash = Math.max(base.lastIndexOf('/'), base.lastIndexOf('\\'));
  return slash < 0 ? name : base.slice(0, slash + 1) + name;
}
