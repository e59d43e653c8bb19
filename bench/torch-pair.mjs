// Paired timing against pytorch-grad-cam: the machine is shared and its speed drifts, so one run of ours
// alternates with one of a python process kept warm (`script --serve`), and the ratio is the median of the
// per-pair ratios.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** { oursMs, torchMs, ratio } over `pairs` alternating runs of `ours()` and one 'figure' of `script args --serve`. */
export async function pairedWithTorch(script, args, ours, pairs) {
  const py = spawn('/usr/bin/python3', [script, ...args, '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  const next = async () => (await lines.next()).value;
  if ((await next()) !== 'ready') throw new Error(`bench: ${script} did not start`);
  // A pause before each run: OpenMP's worker threads spin for a while after torch's last op, and
  // would otherwise eat into our next run.
  const settle = () => new Promise((r) => setTimeout(r, 300));
  const times = [];
  for (let i = 0; i < pairs; i++) {
    await settle();
    const t = performance.now();
    await ours();
    const o = performance.now() - t;
    await settle();
    py.stdin.write('figure\n');
    times.push([o, Number(await next())]);
  }
  py.stdin.end();
  return {
    oursMs: +median(times.map(([o]) => o)).toFixed(1),
    torchMs: +median(times.map(([, t]) => t)).toFixed(1),
    ratio: +median(times.map(([o, t]) => o / t)).toFixed(3),
  };
}
