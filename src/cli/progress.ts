/** A one-line progress bar on a terminal (bytes or items, rate, ETA); plain lines otherwise. */
export interface Progress {
  update(done: number, total: number | undefined): void;
  /** Erases the bar (on a terminal) so that other output starts on a clean line. */
  clear(): void;
  finish(message?: string): void;
}

const fmtBytes = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(0)} kB` : `${n} B`);
const fmtTime = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);

export function createProgress(write: (text: string) => void, isTTY: boolean, label: string, unit: 'bytes' | 'items'): Progress {
  const start = Date.now();
  let lastPlain = -1;
  const fmt = unit === 'bytes' ? fmtBytes : (n: number) => String(n);
  return {
    update(done, total) {
      const elapsed = (Date.now() - start) / 1000;
      const rate = elapsed > 0 ? done / elapsed : 0;
      const eta = total && rate > 0 ? (total - done) / rate : undefined;
      if (isTTY) {
        const width = 24;
        const filled = total ? Math.round((done / total) * width) : 0;
        const bar = total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
        const rateText = unit === 'bytes' ? `${fmtBytes(rate)}/s` : `${rate.toFixed(2)}/s`;
        write(`\r${label} ${bar}${fmt(done)}${total ? `/${fmt(total)}` : ''}  ${rateText}${eta !== undefined ? `  ETA ${fmtTime(eta)}` : ''}\x1b[K`);
        return;
      }
      // Plain output: a line per item, or per 10% of a download.
      const step = unit === 'items' ? done : total ? Math.floor((done / total) * 10) : -1;
      if (step !== lastPlain) {
        lastPlain = step;
        write(`${label} ${fmt(done)}${total ? `/${fmt(total)}` : ''}${eta !== undefined ? ` (ETA ${fmtTime(eta)})` : ''}\n`);
      }
    },
    clear() {
      if (isTTY) write(`\r\x1b[K`);
    },
    finish(message) {
      if (isTTY) write(`\r\x1b[K`);
      if (message) write(`${message}\n`);
    },
  };
}
