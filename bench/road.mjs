#!/usr/bin/env node
// ROADCombined (percentiles 10..90, noise 0.01 as pytorch-grad-cam's default) on one 224x224 input and its
// Grad-CAM layer4 map: median ms of a few runs and the peak RSS of this process, as one JSON line.
// Run by bench/run.js (a process of its own, so that the peak RSS is this work's).
//   node bench/road.mjs --weights W --input X.npy --map M.npy --target N [--runs 3] [--threads N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createExplainer, decodeNpy } from '../dist/index.js';
import { roadCombined } from '../dist/metrics/index.js';

const { values: o } = parseArgs({
  options: { weights: { type: 'string' }, input: { type: 'string' }, map: { type: 'string' }, target: { type: 'string' }, runs: { type: 'string', default: '3' }, threads: { type: 'string' } },
});
const npy = (path) => decodeNpy(new Uint8Array(readFileSync(path)));
const x = npy(o.input);
const input = { tensor: x.data, shape: x.shape };
const map = npy(o.map).data;
const explainer = await createExplainer({ weights: o.weights, threads: o.threads ? Number(o.threads) : undefined });
await explainer.predict(input); // warm-up
const ms = [];
let score;
let imputeMs = 0;
for (let i = 0; i < Number(o.runs); i++) {
  // The time spent outside the model's passes is the imputation's.
  let forwardMs = 0;
  const timed = { predict: async (input) => { const t = performance.now(); const r = await explainer.predict(input); forwardMs += performance.now() - t; return r; } };
  const t = performance.now();
  score = await roadCombined(timed, input, map, { target: Number(o.target) });
  ms.push(performance.now() - t);
  imputeMs += ms.at(-1) - forwardMs;
}
explainer.dispose();
const median = [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)];
console.log(JSON.stringify({ threads: explainer.runtime.threads, roadCombinedMs: Math.round(median), imputationMs: Math.round(imputeMs / ms.length), roadCombined: score, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
