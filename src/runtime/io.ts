import { FileNotFoundError, GradcamError, InvalidInputError } from '../errors.js';
import { runtime } from './env.js';

/** Bytes given directly, a local path (runtimes with a file system), or an http(s)/file URL. */
export type BytesSource = string | URL | Uint8Array | ArrayBuffer;

/** Random access to a file's bytes: in memory, or read on demand (openLocalFile). */
export interface ByteSource {
  readonly byteLength: number;
  /** `length` bytes from `offset`: in `into` (its first `length` bytes) when given, else in an array of their own (or a view). */
  read(offset: number, length: number, into?: Uint8Array): Uint8Array;
}

const isUrlString = (s: string): boolean => /^(https?|file|data|blob):/i.test(s);

export async function readBytes(source: BytesSource, what: string): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new InvalidInputError(`${what} must be a path, a URL, a Uint8Array or an ArrayBuffer`);
  }
  const path = await localPath(source);
  if (path === undefined) return fetchBytes(toUrl(source)!, what);
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

// Without a file system (browsers, workers) a plain string is a URL relative to the page.
function toUrl(source: string | URL): URL | undefined {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  return source instanceof URL ? source : isUrlString(source) ? new URL(source) : !runtime.hasNodeFs && base ? new URL(source, base) : undefined;
}

/** The file system path a source names (a plain path or a file: URL), or undefined for remote URLs. */
async function localPath(source: string | URL): Promise<string | undefined> {
  const url = toUrl(source);
  if (url && url.protocol !== 'file:') return undefined;
  if (!url) return source as string;
  if (!runtime.hasNodeFs) return decodeURIComponent(url.pathname);
  return fileUrlToPath(url, (await import('node:process')).platform === 'win32');
}

/** A file: URL as a path of this platform: file:///C:/x is C:\x on Windows (not /C:/x). */
export async function fileUrlToPath(url: URL, windows: boolean): Promise<string> {
  const { fileURLToPath } = await import('node:url');
  try {
    return fileURLToPath(url, { windows });
  } catch (cause) {
    throw new InvalidInputError(`${url.href} is not a local file URL: ${(cause as Error).message}`, { cause });
  }
}

/**
 * A local file opened for reads at any offset, so that a large file (weights) is never held whole
 * in memory; undefined when the source is not a local file in a runtime with a file system.
 */
export async function openLocalFile(source: BytesSource, what: string): Promise<(ByteSource & { close(): void }) | undefined> {
  if ((typeof source !== 'string' && !(source instanceof URL)) || !runtime.hasNodeFs) return undefined;
  const path = await localPath(source);
  if (path === undefined) return undefined;
  const fs = await import('node:fs');
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (cause) {
    if ((cause as { code?: string }).code === 'ENOENT') throw new FileNotFoundError(path);
    throw new GradcamError('INVALID_INPUT', `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
  const stat = fs.fstatSync(fd);
  if (stat.isDirectory()) {
    fs.closeSync(fd);
    throw new InvalidInputError(`${what} path is a directory: ${path}`);
  }
  return {
    byteLength: stat.size,
    read(offset: number, length: number, into?: Uint8Array): Uint8Array {
      const out = into ? into.subarray(0, length) : new Uint8Array(length);
      for (let done = 0; done < length; ) {
        const n = fs.readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw new GradcamError('INVALID_INPUT', `${what} ${path} changed while being read`);
        done += n;
      }
      return out;
    },
    close: () => fs.closeSync(fd),
  };
}

async function fetchBytes(url: URL, what: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (cause) {
    throw new GradcamError('INVALID_INPUT', `cannot fetch ${what} from ${url.href}: ${(cause as Error).message}`, { cause });
  }
  if (res.status === 404 || res.status === 410) throw new FileNotFoundError(url.href);
  if (!res.ok) throw new GradcamError('INVALID_INPUT', `cannot fetch ${what} from ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
