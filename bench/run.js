#!/usr/bin/env node
// Benchmarks (never assertions): median milliseconds after warm-up on one 224x224 input.
//   npm run bench [-- --json] [-- --runs N] [-- --threads N] [-- --compare-threads] [-- --torch] [-- --pool] [-- --native] [-- --cold] [-- --profile] [-- --peak] [-- --methods]
//   npm run bench -- --serve [--seconds S] [--serve-models mobilenet,resnet34]: gradcam serve under load (bench/serve.js)
//   npm run bench -- --batch [--figure] [--rounds R]: explainBatch images/s and peak RSS at batch 1, 4 and 8
//     (bench/batch.mjs, one process per batch size, R rounds alternating the sizes; Grad-CAM layer4, or the seed figure)
// --methods adds AblationCAM (layer4, layer3) and ScoreCAM (layer4) from bench/methods.js (each in its own process).
// Weights: GRADCAM_BENCH_WEIGHTS, else the seeded ResNet34 in ../shared/reference. Timings do not depend on the values.
// An ONNX model instead (bench/zoo.mjs): --model X.onnx [--layers a,b] [--torch --torch-arch NAME --torch-seed N].
// --torch also times pytorch-grad-cam in the same run (needs python3 with torch, and PGC=<pytorch-grad-cam checkout>),
// and alternates single seed figures of both for a paired ratio (pairedSeedFigureOverPytorch).
// ROADCombined (bench/road.mjs, and with --torch bench/pytorch_road.py) runs in processes of its own on the chelsea
// reference input and its Grad-CAM layer4 map from ../shared/reference, each with its peak RSS.
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

// --batch: images/s by batch size (bench/batch.mjs).
if (process.argv.includes('--batch')) {
  const { values: b } = parseArgs({ options: { batch: { type: 'boolean' }, figure: { type: 'boolean', default: false }, rounds: { type: 'string', default: '2' }, runs: { type: 'string', default: '3' }, threads: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const script = fileURLToPath(new URL('./batch.mjs', import.meta.url));
  const rows = [];
  // Sizes alternate within each round, so that a loaded machine's drift hits every size alike.
  for (let round = 0; round < Number(b.rounds); round++) {
    for (const n of [1, 4, 8]) {
      const args = [script, '--batch', String(n), '--runs', b.runs, ...(b.figure ? ['--figure'] : []), ...(b.threads ? ['--threads', b.threads] : [])];
      const child = spawnSync(process.execPath, args, { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`batch ${n} run failed: ${child.stderr}`);
      rows.push(JSON.parse(child.stdout.trim().split('\n').at(-1)));
    }
  }
  const best = [1, 4, 8].map((n) => rows.filter((r) => r.batch === n).reduce((a, r) => (r.imagesPerSec > a.imagesPerSec ? r : a)));
  if (b.json) console.log(JSON.stringify({ rounds: rows, best }));
  else for (const r of best) console.log(`batch ${String(r.batch).padEnd(2)} ${r.call}: ${r.imagesPerSec} images/s (${r.medianMs} ms per call), peak RSS ${r.peakRssMB} MB`);
  process.exit(0);
}
// --native: the seed figure against native PyTorch in alternating pairs of processes (bench/native.js).
if (process.argv.includes('--native')) {
  await import('./native.js');
  process.exit(0);
}
// --profile: one seed figure's time per op kind and stage (bench/profile.js).
if (process.argv.includes('--profile')) {
  await import('./profile.js');
  process.exit(0);
}
// --peak: this machine's SIMD multiply-add peak, our GEMM against it, and the seed figure's floor (bench/peak.js).
if (process.argv.includes('--peak')) {
  await import('./peak.js');
  process.exit(0);
}
// --cold: createExplainer + the first figure, one process per sample (bench/cold.js; --base DIR for an A/B).
if (process.argv.includes('--cold')) {
  await import('./cold.js');
  process.exit(0);
}
const { createExplainer, createExplainerPool } = await import('../dist/index.js');
import { referenceKernels } from '../dist/kernels/reference.js';
import { loadKernels } from '../dist/runtime/index.js';
import { pairedWithTorch } from './torch-pair.mjs';
import { benchOnnxModel } from './zoo.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    runs: { type: 'string', default: '7' },
    threads: { type: 'string' },
    'compare-threads': { type: 'boolean', default: false },
    torch: { type: 'boolean', default: false },
    pool: { type: 'boolean', default: false },
    model: { type: 'string' },
    layers: { type: 'string' },
    'torch-arch': { type: 'string' },
    'torch-seed': { type: 'string' },
    serve: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '60' },
    'serve-models': { type: 'string', default: 'mobilenet,resnet34' },
    methods: { type: 'boolean', default: false },
  },
});
if (opts.serve) {
  const { benchServe } = await import('./serve.js');
  await benchServe({ seconds: Number(opts.seconds), json: opts.json, only: opts['serve-models'].split(',') });
  process.exit(0);
}
const runs = Number(opts.runs);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(fn, n = runs) {
  await fn(); // warm-up
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return +median(ms).toFixed(1);
}

const size = 224;
let seed = 1;
const tensor = Float32Array.from({ length: 3 * size * size }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2);
const input = { tensor, shape: [1, 3, size, size] };

if (opts.model) {
  print(await benchOnnxModel({ opts, runs, input, time }));
  process.exit(0);
}

const weightsPath = process.env.GRADCAM_BENCH_WEIGHTS ?? resolve(here, '../../shared/reference/resnet34-seed1.safetensors');
if (!existsSync(weightsPath)) {
  console.error(`bench: weights not found at ${weightsPath}; set GRADCAM_BENCH_WEIGHTS`);
  process.exit(2);
}

// Threads are fixed per process: the single-threaded figures come from a child process run first.
let singleThread;
if (opts['compare-threads']) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--json', '--threads', '1', '--runs', opts.runs], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`single-thread run failed: ${child.stderr}`);
  singleThread = JSON.parse(child.stdout.trim().split('\n').at(-1));
}

const all = ['layer1', 'layer2', 'layer3', 'layer4'];

// Runs before the explainer exists, so that its arrays are not part of the explainer's peak RSS.
// Post-processing alone (weights, raw map, min-max, resize, aggregation, Guided Grad-CAM) for the four
// layers of one 224x224 explanation: AssemblyScript SIMD kernels vs the plain TypeScript twins.
const shapes = [[56, 64], [28, 128], [14, 256], [7, 512]];
const random = (n) => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2);
const layers = shapes.map(([hw, c]) => ({ hw, c, A: random(hw * hw * c).map(Math.abs), G: random(hw * hw * c) }));
const gb = tensor.slice(0, size * size * 3);
const post = (K) => () => {
  const ups = layers.map(({ hw, c, A, G }) => {
    const raw = K.weightedSumRelu(A, K.channelMean(G, hw * hw, c), hw * hw, c);
    return K.resizeBilinear(K.minMaxNormalize(raw), hw, hw, size, size, 1);
  });
  const maps = ups.map((u) => K.minMaxNormalize(K.meanRelu([u])));
  K.minMaxNormalize(K.meanRelu(ups));
  maps.forEach((m) => K.guidedProduct(gb, m));
};
const wasmKernels = await loadKernels();
const postprocess = { postprocessAsMs: await time(post(wasmKernels), 21), postprocessTsMs: await time(post(referenceKernels), 21) };
const explainer = await createExplainer({ weights: weightsPath, threads: opts.threads ? Number(opts.threads) : undefined });

const result = {
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version, simd: explainer.runtime.simd, threads: explainer.runtime.threads },
  input: `${size}x${size}`,
  forwardMs: await time(() => explainer.predict(input)),
  gradcamLayer4Ms: await time(() => explainer.explain(input, { layers: ['layer4'] })),
  gradcamAllLayersMs: await time(() => explainer.explain(input, { layers: all })),
  seedFigureMs: await time(() => explainer.explain(input, { layers: all, guided: true })),
  ...postprocess,
  postprocessTsOverAs: +(postprocess.postprocessTsMs / postprocess.postprocessAsMs).toFixed(2),
};

result.peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
if (opts.torch) {
  const figure = () => explainer.explain(input, { layers: all, guided: true });
  const paired = await pairedWithTorch(join(here, 'pytorch_gradcam.py'), ['--weights', weightsPath], figure, Math.max(runs, 11));
  result.pairedSeedFigureMs = paired.oursMs;
  result.pairedPytorchSeedFigureMs = paired.torchMs;
  result.pairedSeedFigureOverPytorch = paired.ratio;
}
if (opts.pool) {
  // Throughput on a batch of 16 seed figures: one explainer (intra-op threads) vs a worker pool
  // (one explainer per core, 1 thread each).
  const batch = Array.from({ length: 16 }, (_, i) => ({ tensor: tensor.map((v) => v * (1 + i / 100)), shape: [1, 3, size, size] }));
  const options = { layers: all, guided: true };
  let t = performance.now();
  for (const x of batch) await explainer.explain(x, options);
  result.batch16SingleImagesPerSec = +((16 * 1000) / (performance.now() - t)).toFixed(2);
  const pool = await createExplainerPool({ size: result.machine.cpus, weights: weightsPath });
  await Promise.all(batch.slice(0, pool.size).map((x) => pool.explain(x, options))); // warm-up
  t = performance.now();
  await Promise.all(batch.map((x) => pool.explain(x, options)));
  result.batch16PoolImagesPerSec = +((16 * 1000) / (performance.now() - t)).toFixed(2);
  result.poolSize = pool.size;
  result.peakRssWithPoolMB = Math.round(process.resourceUsage().maxRSS / 1024);
  await pool.dispose();
}
if (singleThread) {
  result.singleThread = { forwardMs: singleThread.forwardMs, seedFigureMs: singleThread.seedFigureMs, peakRssMB: singleThread.peakRssMB };
  result.forwardSpeedup = +(singleThread.forwardMs / result.forwardMs).toFixed(2);
  result.seedFigureSpeedup = +(singleThread.seedFigureMs / result.seedFigureMs).toFixed(2);
}
explainer.dispose();

if (opts.torch) {
  const py = spawnSync('/usr/bin/python3', [join(here, 'pytorch_gradcam.py'), '--weights', weightsPath, '--runs', String(runs)], { encoding: 'utf8', env: { ...process.env } });
  if (py.status !== 0) {
    console.error(`bench: pytorch-grad-cam run failed:\n${py.stderr}`);
  } else {
    result.pytorch = JSON.parse(py.stdout.trim().split('\n').at(-1));
    result.seedFigureOverPytorch = +(result.seedFigureMs / result.pytorch.seedFigureMs).toFixed(2);
  }
}

const reference = resolve(here, '../../shared/reference');
if (existsSync(join(reference, 'inputs/chelsea.input.npy'))) {
  const road = ['--weights', weightsPath, '--input', join(reference, 'inputs/chelsea.input.npy'), '--map', join(reference, 'refs/chelsea/gradcam_layer4_top1.npy'), '--target', '494', '--runs', '3'];
  const ours = spawnSync(process.execPath, [join(here, 'road.mjs'), ...road, ...(opts.threads ? ['--threads', opts.threads] : [])], { encoding: 'utf8' });
  if (ours.status !== 0) throw new Error(`ROAD run failed: ${ours.stderr}`);
  result.road = JSON.parse(ours.stdout.trim().split('\n').at(-1));
  if (opts.torch) {
    const py = spawnSync('/usr/bin/python3', [join(here, 'pytorch_road.py'), ...road], { encoding: 'utf8', env: { ...process.env } });
    if (py.status !== 0) console.error(`bench: pytorch-grad-cam ROAD run failed:\n${py.stderr}`);
    else {
      result.pytorchRoad = JSON.parse(py.stdout.trim().split('\n').at(-1));
      result.roadCombinedOverPytorch = +(result.road.roadCombinedMs / result.pytorchRoad.roadCombinedMs).toFixed(2);
    }
  }
} else {
  console.error(`bench: ROADCombined skipped (no ${reference})`);
}

if (opts.methods) {
  const child = spawnSync(process.execPath, [join(here, 'methods.js'), '--json', ...(opts.torch ? ['--torch'] : []), ...(opts.threads ? ['--threads', opts.threads] : [])], { encoding: 'utf8' });
  if (child.status !== 0) console.error(`bench: methods run failed:\n${child.stderr}`);
  else result.methods = JSON.parse(child.stdout.trim().split('\n').at(-1));
}

print(result);

function print(result) {
  if (opts.json) return console.log(JSON.stringify(result));
  const rows = Object.entries(result).filter(([, v]) => typeof v !== 'object');
  for (const [k, v] of rows) console.log(`${k.padEnd(24)} ${v}`);
  for (const [k, v] of Object.entries(result.methods ?? {})) console.log(`methods.${k}`.padEnd(25) + ` ${JSON.stringify(v)}`);
  for (const group of ['pytorch', 'singleThread', 'road', 'pytorchRoad']) {
    if (result[group]) for (const [k, v] of Object.entries(result[group])) console.log(`${group}.${k}`.padEnd(25) + ` ${v}`);
  }
  if (result.machine) console.log(`machine                  ${JSON.stringify(result.machine)}`);
}
