#!/usr/bin/env node
// One process's seed figures, for the paired process benchmarks (bench/native.js): createExplainer from a
// local file, the first figure (cold start), then N figures after it. Prints one JSON line.
//   node bench/figure.js --weights FILE [--runs N]
import { parseArgs } from 'node:util';
import { createExplainer } from '../dist/index.js';

const { values: opts } = parseArgs({ options: { weights: { type: 'string' }, runs: { type: 'string', default: '7' } } });
const size = 224;
let seed = 1;
const tensor = Float32Array.from({ length: 3 * size * size }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2);
const input = { tensor, shape: [1, 3, size, size] };
const options = { layers: ['layer1', 'layer2', 'layer3', 'layer4'], guided: true, target: 281 };

let t = performance.now();
const explainer = await createExplainer({ model: 'resnet34', weights: opts.weights });
const createMs = performance.now() - t;
t = performance.now();
await explainer.explain(input, options);
const firstFigureMs = performance.now() - t;
const figureMs = [];
for (let i = 0; i < Number(opts.runs); i++) {
  t = performance.now();
  await explainer.explain(input, options);
  figureMs.push(+(performance.now() - t).toFixed(2));
}
explainer.dispose();
const round = (x) => +x.toFixed(1);
console.log(JSON.stringify({ createMs: round(createMs), firstFigureMs: round(firstFigureMs), figureMs, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024), runtime: explainer.runtime }));
