/** Which runtime we are in, detected once; other modules read these flags instead of probing globals. */
const g = globalThis as Record<string, unknown>;
const proc = g.process as { versions?: Record<string, string> } | undefined;

export const runtime = Object.freeze({
  isDeno: typeof g.Deno === 'object',
  isBun: typeof g.Bun === 'object',
  isNode: typeof proc?.versions?.node === 'string',
  isBrowser: typeof g.window === 'object' && typeof g.document === 'object',
  isWebWorker: typeof g.WorkerGlobalScope === 'function' && typeof g.importScripts === 'function',
  /** Node, Deno and Bun all provide node:fs. */
  get hasNodeFs(): boolean {
    return this.isNode || this.isDeno || this.isBun;
  },
});

/**
 * How to name a local file to a library that loads it itself (jimp's fonts): a path where it reads
 * files through node:fs, a file: URL in Deno and Bun, where it fetches them.
 */
export async function localResource(path: string): Promise<string> {
  if (!runtime.isDeno && !runtime.isBun) return path;
  const { pathToFileURL } = await import('node:url');
  return pathToFileURL(path).href;
}
