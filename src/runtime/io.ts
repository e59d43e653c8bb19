import { FileNotFoundError, GradcamError, InvalidInputError } from '../errors.js';
import { runtime } from './env.js';

/** Bytes given directly, a local path (runtimes with a file system), or an http(s)/file URL. */
export type BytesSource = string | URL | Uint8Array | ArrayBuffer;

const isUrlString = (s: string): boolean => /^(https?|file|data|blob):/i.test(s);

export async function readBytes(source: BytesSource, what: string): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new InvalidInputError(`${what} must be a path, a URL, a Uint8Array or an ArrayBuffer`);
  }
  // Without a file system (browsers, workers) a plain string is a URL relative to the page.
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const url = source instanceof URL ? source : isUrlString(source) ? new URL(source) : !runtime.hasNodeFs && base ? new URL(source, base) : undefined;
  if (url && url.protocol !== 'file:') return fetchBytes(url, what);
  const path = url ? decodeURIComponent(url.pathname) : (source as string);
  if (!runtime.hasNodeFs) throw new GradcamError('UNSUPPORTED', `cannot read the local file ${path} in this runtime; pass a URL or the bytes`);
  const { readFile } = await import('node:fs/promises');
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if (code === 'ENOENT') throw new FileNotFoundError(path);
    if (code === 'EISDIR') throw new InvalidInputError(`${what} path is a directory: ${path}`);
    throw new GradcamError('INVALID_INPUT', `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

async function fetchBytes(url: URL, what: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (cause) {
    throw new GradcamError('INVALID_INPUT', `cannot fetch ${what} from ${url.href}: ${(cause as Error).message}`, { cause });
  }
  if (!res.ok) throw new GradcamError('INVALID_INPUT', `cannot fetch ${what} from ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
