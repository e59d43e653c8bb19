import { rmSync } from 'node:fs';

/** The exit status of a process stopped by a signal, as shells report it: 128 + the signal's number. */
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Until the returned function is called, SIGINT (Ctrl-C) and SIGTERM remove the folders in `partial`
 * (an output folder being written), say so on stderr and exit with 130 / 143. Without this a signal
 * ends the process at once and leaves them behind.
 */
export function removeOnSignal(partial: ReadonlySet<string>, stderr: (text: string) => void): () => void {
  const on = (signal: keyof typeof EXIT_CODES) => {
    for (const folder of partial) rmSync(folder, { recursive: true, force: true });
    stderr(`gradcam: interrupted by ${signal}\n`);
    process.exit(EXIT_CODES[signal]);
  };
  process.on('SIGINT', on).on('SIGTERM', on);
  return () => void process.off('SIGINT', on).off('SIGTERM', on);
}
