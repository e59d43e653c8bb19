#!/usr/bin/env node
// One batch size in a process of its own (peak RSS is per process): images/s of explainBatch on N different
// 224x224 inputs, median of --runs after a warm-up, and the process's peak RSS. Run by bench/run.js --batch.
//   node bench/batch.mjs --batch N [--runs R] [--figure] [--threads T]
// --figure: the seed figure (layer1..layer4, guided); default Grad-CAM layer4.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createExplainer } from '../dist/index.js';

const { values: opts } = parseArgs({
  options: { batch: { type: 'string', default: '1' }, runs: { type: 'string', default: '5' }, figure: { type: 'boolean', default: false }, threads: { type: 'string' } },
});
const here = dirname(fileURLToPath(import.meta.url));
const weights = process.env.GRADCAM_BENCH_WEIGHTS ?? resolve(here, '../../shared/reference/resnet34-seed1.safetensors');
if (!existsSync(weights)) {
  console.error(`bench: weights not found at ${weights}; set GRADCAM_BENCH_WEIGHTS`);
  process.exit(2);
}
const n = Number(opts.batch);
const size = 224;
let seed = 7;
const inputs = Array.from({ length: n }, () => ({
  tensor: Float32Array.from({ length: 3 * size * size }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2),
  shape: [1, 3, size, size],
}));
const options = opts.figure ? { layers: ['layer1', 'layer2', 'layer3', 'layer4'], guided: true } : { layers: ['layer4'] };
const explainer = await createExplainer({ weights, threads: opts.threads ? Number(opts.threads) : undefined });
await explainer.explainBatch(inputs, options); // warm-up
const ms = [];
for (let i = 0; i < Number(opts.runs); i++) {
  const t = performance.now();
  await explainer.explainBatch(inputs, options);
  ms.push(performance.now() - t);
}
explainer.dispose();
const median = [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)];
console.log(JSON.stringify({ batch: n, call: opts.figure ? 'seed figure' : 'gradcam layer4', medianMs: +median.toFixed(1), imagesPerSec: +((n * 1000) / median).toFixed(2), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
