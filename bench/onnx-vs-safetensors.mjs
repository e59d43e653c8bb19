#!/usr/bin/env node
// The same ResNet34 weights through two importers: an ONNX export (torch.onnx.export, opset 17) against the
// torchvision safetensors file. Both explainers live in one process and their seed figures (layer1..layer4 +
// guided, 224x224, class 281) alternate, so the machine's drift hits both alike; prints one JSON line with the
// median of the per-pair ratios (ONNX / safetensors) and each side's median figure.
//   node bench/onnx-vs-safetensors.mjs --onnx resnet34.onnx --weights resnet34.safetensors [--runs 11] [--threads N]
import { parseArgs } from 'node:util';
import { createExplainer } from '../dist/index.js';

const { values: o } = parseArgs({
  options: { onnx: { type: 'string' }, weights: { type: 'string' }, runs: { type: 'string', default: '11' }, threads: { type: 'string' } },
});
if (!o.onnx || !o.weights) throw new Error('usage: node bench/onnx-vs-safetensors.mjs --onnx FILE --weights FILE [--runs N] [--threads N]');
const threads = o.threads ? Number(o.threads) : undefined;
const size = 224;
let seed = 1;
const tensor = Float32Array.from({ length: 3 * size * size }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2);
const input = { tensor, shape: [1, 3, size, size] };
const options = { layers: ['layer1', 'layer2', 'layer3', 'layer4'], guided: true, target: 281 };

const onnx = await createExplainer({ model: o.onnx, threads });
const safetensors = await createExplainer({ model: 'resnet34', weights: o.weights, threads });
const time = async (explainer) => {
  const t = performance.now();
  await explainer.explain(input, options);
  return performance.now() - t;
};
await time(onnx); // warm-up: XNNPACK packs each filter on first use
await time(safetensors);
const pairs = [];
for (let i = 0; i < Number(o.runs); i++) {
  // Alternate which side goes first, so neither always follows the other's garbage.
  const pair = {};
  if (i % 2) pair.safetensors = await time(safetensors);
  pair.onnx = await time(onnx);
  if (!(i % 2)) pair.safetensors = await time(safetensors);
  pairs.push(pair);
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const round = (x, d = 1) => +x.toFixed(d);
console.log(
  JSON.stringify({
    onnxMs: round(median(pairs.map((p) => p.onnx))),
    safetensorsMs: round(median(pairs.map((p) => p.safetensors))),
    pairedRatio: round(median(pairs.map((p) => p.onnx / p.safetensors)), 3),
    pairs: pairs.length,
    threads: onnx.runtime.threads,
  }),
);
onnx.dispose();
safetensors.dispose();
