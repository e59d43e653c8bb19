#!/usr/bin/env node
// Cold start: createExplainer (ResNet34 from a local file) + the first seed figure, one fresh process per
// sample (bench/figure.js --runs 0). With --base DIR (another build's dist/), its processes alternate
// with ours, for an A/B in one run on a shared machine. Medians over the samples.
//   node bench/cold.js [--samples 5] [--base DIR] [--json]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: { samples: { type: 'string', default: '5' }, base: { type: 'string' }, json: { type: 'boolean', default: false }, cold: { type: 'boolean' } },
});
const weights = process.env.GRADCAM_BENCH_WEIGHTS ?? resolve(here, '../../shared/reference/resnet34-seed1.safetensors');
if (!existsSync(weights)) {
  console.error(`bench: weights not found at ${weights}; set GRADCAM_BENCH_WEIGHTS`);
  process.exit(2);
}
function sample(dist) {
  const args = [join(here, 'figure.js'), '--weights', weights, '--runs', '0', ...(dist ? ['--dist', dist] : [])];
  const p = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`bench: figure.js failed:\n${p.stderr}`);
  return JSON.parse(p.stdout.trim().split('\n').at(-1));
}
const median = (xs) => +[...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(1);
const summary = (runs) => ({
  importMs: median(runs.map((r) => r.importMs)),
  createMs: median(runs.map((r) => r.createMs)),
  firstFigureMs: median(runs.map((r) => r.firstFigureMs)),
  totalMs: median(runs.map((r) => r.createMs + r.firstFigureMs)),
  coldCpuMs: median(runs.map((r) => r.coldCpuMs)),
  peakRssMB: median(runs.map((r) => r.peakRssMB)),
});
const ours = [];
const base = [];
for (let i = 0; i < Number(opts.samples); i++) {
  ours.push(sample());
  if (opts.base) base.push(sample(resolve(opts.base)));
}
const result = { samples: ours.length, ours: summary(ours), ...(opts.base ? { base: summary(base) } : {}) };
if (opts.json) console.log(JSON.stringify(result));
else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(8)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
