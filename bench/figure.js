#!/usr/bin/env node
// One process's seed figures, for the paired process benchmarks (bench/native.js, bench/cold.js): the
// package's import, createExplainer from a local file, the first figure (cold start), then N figures after it.
// CPU milliseconds (all threads) of create + first figure beside the wall times. Prints one JSON line.
//   node bench/figure.js --weights FILE [--runs N] [--dist DIR (another build's dist/, for A/B)]
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const { values: opts } = parseArgs({ options: { weights: { type: 'string' }, runs: { type: 'string', default: '7' }, dist: { type: 'string' } } });
let t = performance.now();
const { createExplainer } = await import(opts.dist ? pathToFileURL(resolve(opts.dist, 'index.js')).href : '../dist/index.js');
const importMs = performance.now() - t;
const size = 224;
let seed = 1;
const tensor = Float32Array.from({ length: 3 * size * size }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2);
const input = { tensor, shape: [1, 3, size, size] };
const options = { layers: ['layer1', 'layer2', 'layer3', 'layer4'], guided: true, target: 281 };

const cpu = process.cpuUsage();
t = performance.now();
const explainer = await createExplainer({ model: 'resnet34', weights: opts.weights });
const createMs = performance.now() - t;
t = performance.now();
await explainer.explain(input, options);
const firstFigureMs = performance.now() - t;
const { user, system } = process.cpuUsage(cpu);
const figureMs = [];
for (let i = 0; i < Number(opts.runs); i++) {
  t = performance.now();
  await explainer.explain(input, options);
  figureMs.push(+(performance.now() - t).toFixed(2));
}
explainer.dispose();
const round = (x) => +x.toFixed(1);
console.log(
  JSON.stringify({
    importMs: round(importMs),
    createMs: round(createMs),
    firstFigureMs: round(firstFigureMs),
    coldCpuMs: round((user + system) / 1000),
    figureMs,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    runtime: explainer.runtime,
  }),
);
