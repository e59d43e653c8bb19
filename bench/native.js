#!/usr/bin/env node
// The seed figure against native PyTorch written for speed (bench/native_pytorch.py), in alternating pairs
// of warm processes: each pair runs our process (bench/figure.js), then PyTorch's, each timing N figures
// after a warm-up. Per pair: ours/native of the fastest figures and of the median figures; reported as
// the median over pairs (the machine is shared: PyTorch's median swings most, so both are given).
//   node bench/native.js [--pairs 5] [--runs 7] [--json]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: { pairs: { type: 'string', default: '5' }, runs: { type: 'string', default: '7' }, json: { type: 'boolean', default: false }, native: { type: 'boolean' } },
});
const weights = process.env.GRADCAM_BENCH_WEIGHTS ?? resolve(here, '../../shared/reference/resnet34-seed1.safetensors');
if (!existsSync(weights)) {
  console.error(`bench: weights not found at ${weights}; set GRADCAM_BENCH_WEIGHTS`);
  process.exit(2);
}
// glibc keeps freed memory instead of returning it to the kernel: PyTorch's best mode here.
const keepMemory = { MALLOC_MMAP_THRESHOLD_: '2000000000', MALLOC_TRIM_THRESHOLD_: '4000000000', MALLOC_TOP_PAD_: '268435456' };

function run(cmd, args, env = {}) {
  const p = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (p.status !== 0) throw new Error(`bench: ${cmd} ${args.join(' ')} failed:\n${p.stderr}`);
  return JSON.parse(p.stdout.trim().split('\n').at(-1));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const min = (xs) => Math.min(...xs);

const pairs = [];
for (let i = 0; i < Number(opts.pairs); i++) {
  const ours = run(process.execPath, [join(here, 'figure.js'), '--weights', weights, '--runs', opts.runs]);
  const native = run('/usr/bin/python3', [join(here, 'native_pytorch.py'), '--weights', weights, '--runs', opts.runs, '--threads', '2'], keepMemory);
  pairs.push({ ours, native });
}
const r3 = (x) => +x.toFixed(3);
const result = {
  pairs: pairs.length,
  oursFastestMs: median(pairs.map((p) => min(p.ours.figureMs))),
  nativeFastestMs: median(pairs.map((p) => min(p.native.figureMs))),
  oursMedianMs: median(pairs.map((p) => median(p.ours.figureMs))),
  nativeMedianMs: median(pairs.map((p) => median(p.native.figureMs))),
  fastestOverNative: r3(median(pairs.map((p) => min(p.ours.figureMs) / min(p.native.figureMs)))),
  medianOverNative: r3(median(pairs.map((p) => median(p.ours.figureMs) / median(p.native.figureMs)))),
  createMs: median(pairs.map((p) => p.ours.createMs)),
  firstFigureMs: median(pairs.map((p) => p.ours.firstFigureMs)),
  peakRssMB: median(pairs.map((p) => p.ours.peakRssMB)),
  runtime: pairs[0].ours.runtime,
  torch: pairs[0].native.torch,
};
if (opts.json) console.log(JSON.stringify(result));
else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(20)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
