import { DownloadError, OfflineError, WeightsError } from '../errors.js';

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
  /** Throws if the downloaded bytes are not what they should be; they are then never cached. */
  readonly validate: (bytes: Uint8Array) => void;
  /** Hex SHA-256 the file must have, when known. */
  readonly sha256?: string;
  readonly onProgress?: (event: DownloadEvent) => void;
  readonly fetch?: typeof fetch;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Returns the bytes of `url`, from the cache when present. A download goes to a temporary file in
 * the cache folder and is renamed into place only after it is complete and validated, so a partial
 * or corrupt file is never used and never left behind as the cached copy.
 */
export async function cachedDownload(o: CachedDownloadOptions): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  const target = join(o.cacheDir, o.fileName);
  try {
    const bytes = new Uint8Array(await fs.readFile(target));
    o.onProgress?.({ type: 'cached', path: target });
    return bytes;
  } catch {
    // not cached yet
  }
  if (o.offline) throw new OfflineError(`offline and no cached copy at ${target}; pass --weights FILE (a local safetensors file), or run once with network access`);

  await fs.mkdir(o.cacheDir, { recursive: true });
  const temp = `${target}.partial-${process.pid}-${Date.now()}`;
  try {
    const bytes = await fetchWithProgress(o);
    try {
      o.validate(bytes);
    } catch (cause) {
      throw cause instanceof WeightsError ? new WeightsError(`downloaded file from ${o.url} is not usable: ${cause.message}`) : cause;
    }
    if (o.sha256 && (await sha256Hex(bytes)) !== o.sha256.toLowerCase()) {
      throw new WeightsError(`downloaded file from ${o.url} does not have the expected SHA-256 ${o.sha256}`);
    }
    await fs.writeFile(temp, bytes);
    await fs.rename(temp, target);
    o.onProgress?.({ type: 'done', path: target, bytes: bytes.byteLength });
    return bytes;
  } finally {
    await fs.rm(temp, { force: true });
  }
}

async function fetchWithProgress(o: CachedDownloadOptions): Promise<Uint8Array> {
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
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      o.onProgress?.({ type: 'progress', loaded, total });
    }
  } catch (cause) {
    throw new DownloadError(o.url, `connection lost after ${loaded} bytes (${(cause as Error).message})`, { cause });
  }
  if (total !== undefined && loaded !== total) throw new DownloadError(o.url, `got ${loaded} of ${total} bytes`);
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}
