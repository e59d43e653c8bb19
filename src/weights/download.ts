import { DownloadError, OfflineError, WeightsError } from '../errors.js';
import { openLocalFile, type ByteSource } from '../runtime/io.js';

/** Typed progress events, in order: start, progress..., done (or cached when no download was needed). */
export type DownloadEvent =
  | { readonly type: 'cached'; readonly path: string }
  | { readonly type: 'start'; readonly url: string; readonly total: number | undefined }
  | { readonly type: 'progress'; readonly loaded: number; readonly total: number | undefined }
  | { readonly type: 'done'; readonly path: string; readonly bytes: number };

export interface CachedDownloadOptions {
  readonly url: string;
  /** File name inside the cache folder. */
  readonly fileName: string;
  readonly cacheDir: string;
  /** Never touch the network; fail with OfflineError on a cache miss. */
  readonly offline?: boolean;
  /** Throws if the downloaded file (read from its temporary path) is not what it should be; it is then never cached. */
  readonly validate: (file: ByteSource) => void;
  /**
   * Hex SHA-256 the file must have, when known. Either way, the hash of the downloaded file is
   * recorded beside it (`<file>.sha256`) and checked on every later use.
   */
  readonly sha256?: string;
  readonly onProgress?: (event: DownloadEvent) => void;
  readonly fetch?: typeof fetch;
}

/**
 * Returns the path of `url`'s copy in the cache, downloading it first when absent. The download is
 * streamed to a temporary file in the cache folder (never whole in memory) and renamed into place
 * only after it is complete and validated, so a partial or corrupt file is never used and never
 * left behind as the cached copy.
 */
export async function cachedDownload(o: CachedDownloadOptions): Promise<string> {
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  const target = join(o.cacheDir, o.fileName);
  if (await fs.stat(target).then((s) => s.isFile(), () => false)) {
    await verifyCached(target, o.sha256?.toLowerCase());
    o.onProgress?.({ type: 'cached', path: target });
    return target;
  }
  if (o.offline) throw new OfflineError(`offline and no cached copy at ${target}; pass --weights FILE (a local safetensors file), or run once with network access`);

  await fs.mkdir(o.cacheDir, { recursive: true });
  const temp = `${target}.partial-${process.pid}-${Date.now()}`;
  try {
    const { bytes, sha256 } = await fetchToFile(o, temp);
    const file = await openLocalFile(temp, 'download');
    try {
      o.validate(file!);
    } catch (cause) {
      throw cause instanceof WeightsError ? new WeightsError(`downloaded file from ${o.url} is not usable: ${cause.message}`) : cause;
    } finally {
      file!.close();
    }
    if (o.sha256 && sha256 !== o.sha256.toLowerCase()) {
      throw new WeightsError(`downloaded file from ${o.url} does not have the expected SHA-256 ${o.sha256}`);
    }
    // The record first: a record without its file is simply overwritten by the next download.
    await fs.writeFile(`${target}.sha256`, `${sha256}\n`);
    await fs.rename(temp, target);
    o.onProgress?.({ type: 'done', path: target, bytes });
    return target;
  } finally {
    await fs.rm(temp, { force: true });
  }
}

/**
 * Checks a cached file against the SHA-256 recorded when it was downloaded (and the expected one,
 * when given): a file changed on disk is reported, never used. A copy cached before hashes were
 * recorded gets its record now (after the expected hash, when there is one, has matched).
 */
async function verifyCached(path: string, expected: string | undefined): Promise<void> {
  const fs = await import('node:fs/promises');
  const recorded = await fs.readFile(`${path}.sha256`, 'utf8').then((t) => t.trim().toLowerCase(), () => undefined);
  const actual = await sha256OfFile(path);
  const advice = `it was not used; delete it to download it again`;
  if (recorded !== undefined && actual !== recorded) {
    throw new WeightsError(`the cached file ${path} changed on disk since it was downloaded (SHA-256 ${actual}, recorded ${recorded}); ${advice}`);
  }
  if (expected !== undefined && actual !== expected) {
    throw new WeightsError(`the cached file ${path} has SHA-256 ${actual}, not the expected ${expected}; ${advice}`);
  }
  if (recorded === undefined) await fs.writeFile(`${path}.sha256`, `${actual}\n`);
}

async function sha256OfFile(path: string): Promise<string> {
  const [{ createReadStream }, { createHash }] = await Promise.all([import('node:fs'), import('node:crypto')]);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Uint8Array);
  return hash.digest('hex');
}

/** Streams the response body into `path`, hashing it on the way; returns its size and hex SHA-256. */
async function fetchToFile(o: CachedDownloadOptions, path: string): Promise<{ bytes: number; sha256: string }> {
  const doFetch = o.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(o.url, { redirect: 'follow' });
  } catch (cause) {
    const code = ((cause as { cause?: { code?: string } }).cause?.code) ?? '';
    if (/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT)$/.test(code)) {
      throw new OfflineError(`cannot reach ${o.url} (${code}); pass --weights FILE (a local safetensors file) or check the network / GRADCAM_HUB_URL`);
    }
    const detail = (cause as { cause?: { message?: string } }).cause?.message;
    throw new DownloadError(o.url, detail ? `${(cause as Error).message} (${detail})` : (cause as Error).message, { cause });
  }
  if (!res.ok || !res.body) throw new DownloadError(o.url, `HTTP ${res.status} ${res.statusText}`.trim());
  const header = res.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
  o.onProgress?.({ type: 'start', url: o.url, total });
  const [{ open }, { createHash }] = await Promise.all([import('node:fs/promises'), import('node:crypto')]);
  const hash = createHash('sha256');
  const out = await open(path, 'w');
  let loaded = 0;
  try {
    const reader = res.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        throw new DownloadError(o.url, `connection lost after ${loaded} bytes (${(cause as Error).message})`, { cause });
      }
      if (chunk.done) break;
      await out.write(chunk.value);
      hash.update(chunk.value);
      loaded += chunk.value.byteLength;
      o.onProgress?.({ type: 'progress', loaded, total });
    }
  } finally {
    await out.close();
  }
  if (total !== undefined && loaded !== total) throw new DownloadError(o.url, `got ${loaded} of ${total} bytes`);
  return { bytes: loaded, sha256: hash.digest('hex') };
}
