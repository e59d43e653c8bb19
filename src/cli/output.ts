import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { FileNotFoundError, InvalidInputError } from '../errors.js';

/**
 * Creates the output folder and its parents one level at a time, then proves it writable with a
 * probe folder, before any input is computed. (A recursive mkdir under /proc never returns in
 * Node 20; one level at a time fails at once with the reason.)
 */
export async function prepareOutDir(out: string): Promise<void> {
  const fail = (reason: string) => new InvalidInputError(`cannot write to the output folder ${out} (--out): ${reason}`);
  const chain: string[] = [];
  for (let p = resolve(out); ; p = dirname(p)) {
    chain.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of chain) {
    try {
      await mkdir(p);
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if (code !== 'EEXIST') throw fail(`${code ?? (cause as Error).message} at ${p}`);
      if (!(await stat(p)).isDirectory()) throw fail(`${p} is not a folder`);
    }
  }
  try {
    await rm(await mkdtemp(join(out, '.gradcam-probe-')), { recursive: true });
  } catch (cause) {
    throw fail((cause as { code?: string }).code ?? (cause as Error).message);
  }
}

/** Local input files must exist (URLs are fetched later); checked before the model loads. */
export async function checkInputs(inputs: readonly string[]): Promise<void> {
  for (const path of inputs) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path) && !path.startsWith('file:')) continue;
    const s = await stat(path.startsWith('file:') ? new URL(path) : path).catch((cause: { code?: string }) => {
      if (cause.code === 'ENOENT' || cause.code === 'ENOTDIR') throw new FileNotFoundError(path);
      throw new InvalidInputError(`cannot read input ${path}: ${cause.code}`);
    });
    if (!s.isFile()) throw new InvalidInputError(`input ${path} is not a file`);
  }
}

/**
 * One output folder per input, named after the file: `DIR/coffee/`. Inputs with the same name get
 * `coffee-2`, `coffee-3`, ... so that none overwrites another; each such renaming is returned as a
 * note for the user.
 */
export function outputFolders(inputs: readonly string[], out: string): { dirs: string[]; notes: string[] } {
  const used = new Set<string>();
  const notes: string[] = [];
  const dirs = inputs.map((path) => {
    const name = basename(path, extname(path)) || 'input';
    let unique = name;
    for (let k = 2; used.has(unique); k++) unique = `${name}-${k}`;
    used.add(unique);
    if (unique !== name) notes.push(`${path} is written to ${join(out, unique)}/ (another input is also named '${name}')`);
    return join(out, unique);
  });
  return { dirs, notes };
}

/**
 * Writes an input's files into a hidden temporary folder beside `dir`, then renames it into place,
 * so that an interrupted run never leaves a half-written or empty folder under the input's name.
 * The temporary folder is in `partial` from before it exists until it is gone, for a signal
 * handler to remove (removeOnSignal).
 */
export async function writeFolder(dir: string, files: readonly (readonly [string, Uint8Array])[], partial = new Set<string>()): Promise<void> {
  const temp = join(dirname(dir), `.${basename(dir)}.partial-${randomBytes(6).toString('hex')}`);
  partial.add(temp);
  try {
    await mkdir(temp);
    await Promise.all(files.map(([name, bytes]) => writeFile(join(temp, name), bytes)));
    await rm(dir, { recursive: true, force: true });
    await rename(temp, dir);
  } finally {
    await rm(temp, { recursive: true, force: true });
    partial.delete(temp);
  }
}
