#!/usr/bin/env node
// Where one seed figure's time goes (ResNet34, layers layer1..layer4 + guided, 224x224, the default threads):
// every graph node's forward and input-gradient calls timed (tfjs-wasm runs them synchronously), summed per op
// kind and stage, per figure (the median of N figures after a warm-up); what is left of the figure's time
// is the pipeline around the graph (CAMs, resizes, reading tensors out). Backward times cover both gradient
// passes of a guided figure: the layers' gradients (down to layer1) and the guided pass (down to the input).
// Multiply-adds per row: the products our heap GEMM ran (counted as it is called: Winograd's, and the strided
// convs' input gradients), or, for a conv call that ran none, a direct convolution's count (XNNPACK's).
//   node bench/profile.js [--runs N] [--json]     (npm run bench -- --profile)
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tf } from '../dist/tf.js';
import { loadKernels, startBackend } from '../dist/runtime/index.js';
import { parseSafetensors } from '../dist/weights/safetensors.js';
import { resnetModel } from '../dist/models/resnet34.js';
import { OPS } from '../dist/ops/registry.js';
import { explainTensor } from '../dist/explain/pipeline.js';
import { CAM_METHODS } from '../dist/methods/index.js';
import { Work } from '../dist/work.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '5' }, json: { type: 'boolean', default: false }, profile: { type: 'boolean' } } });
const weights = process.env.GRADCAM_BENCH_WEIGHTS ?? resolve(here, '../../shared/reference/resnet34-seed1.safetensors');
const backend = await startBackend();
const kernels = await loadKernels();
const model = resnetModel(parseSafetensors(new Uint8Array(readFileSync(weights))), 'weights', { heap: backend.heap, ops: OPS });

// The op kind (convs by kernel and stride) and the stage (the node name's first scope: conv1, layer1..4, fc...).
const kind = (node) => {
  if (node.opType !== 'Conv') return node.opType;
  const [k] = node.attributes.get('kernel_shape') ?? [1];
  const [s] = node.attributes.get('strides') ?? [1];
  return `Conv ${k}x${k}/${s}`;
};
const stage = (node) => node.name.split('/')[1] ?? node.name;
let times = new Map();
const add = (key, field, ms, macs, heap) => {
  const row = times.get(key) ?? { forward: 0, backward: 0, calls: 0, heapMacs: 0, xnnpackMacs: 0 };
  row[field] += ms;
  row[heap ? 'heapMacs' : 'xnnpackMacs'] += macs;
  if (field === 'forward') row.calls++;
  times.set(key, row);
};
// The heap GEMM's products while a node runs, and their shapes over a figure (for bench/peak.js).
let heapMacs = 0;
let shapes = new Map();
const { matmuls } = backend.heap;
backend.heap.matmuls = (products) => {
  for (const { m, k, n } of products) {
    heapMacs += m * k * n;
    const key = `${m}x${k}x${n}`;
    shapes.set(key, (shapes.get(key) ?? 0) + 1);
  }
  return matmuls.call(backend.heap, products);
};
/** A direct convolution's multiply-adds, from its output (or output gradient) and input (or input gradient) shapes. */
const convMacs = (node, out, input) => {
  const [kh, kw] = node.attributes.get('kernel_shape') ?? [1, 1];
  const group = node.attributes.get('group') ?? 1;
  return out.shape.reduce((a, b) => a * b, 1) * (input.shape[3] / group) * kh * kw;
};
// GraphModel keeps its graph private (TypeScript only): the benchmark wraps each node's kernel in place.
for (const g of model.graph.nodes) {
  const key = `${kind(g.node)}\t${stage(g.node)}`;
  const timed = (fn, field) => (...args) => {
    const t = performance.now();
    heapMacs = 0;
    const out = fn.apply(g.kernel, args);
    const ms = performance.now() - t;
    const direct = g.node.opType !== 'Conv' ? 0 : field === 'forward' ? convMacs(g.node, out[0], args[0][0]) : convMacs(g.node, args[0][0], out[0]);
    add(key, field, ms, heapMacs || direct, heapMacs > 0);
    return out;
  };
  const { forward, backward } = g.kernel;
  g.kernel.forward = timed(forward, 'forward');
  if (backward) g.kernel.backward = timed(backward, 'backward');
}

const size = 224;
let seed = 1;
const data = Float32Array.from({ length: 3 * size * size }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2);
const layers = ['layer1', 'layer2', 'layer3', 'layer4'];
const figure = async () => {
  const x = tf.tensor4d(data, [1, size, size, 3]);
  const t = performance.now();
  await explainTensor(model, kernels, x, { layers, method: CAM_METHODS.gradcam, targets: [[{ class: 281, score: 'logit' }]], guided: true, eigenSmooth: false, augSmooth: false }, new Work({}));
  x.dispose();
  return performance.now() - t;
};
await figure(); // warm-up: XNNPACK operators are created and their weights packed
const runs = [];
for (let i = 0; i < Number(opts.runs); i++) {
  times = new Map();
  shapes = new Map();
  const total = await figure();
  runs.push({ total, times, shapes });
}
runs.sort((a, b) => a.total - b.total);
const { total, times: median, shapes: products } = runs[Math.floor(runs.length / 2)];
const r1 = (x) => +x.toFixed(1);
const g3 = (macs) => +(macs / 1e9).toFixed(3);
const rows = [...median].map(([key, t]) => {
  const [op, where] = key.split('\t');
  const ms = t.forward + t.backward;
  return { op, stage: where, calls: t.calls, forwardMs: r1(t.forward), backwardMs: r1(t.backward), gmacs: g3(t.heapMacs + t.xnnpackMacs), gmacPerSec: ms > 0 && t.heapMacs + t.xnnpackMacs > 0 ? r1((t.heapMacs + t.xnnpackMacs) / ms / 1e6) : undefined };
});
rows.sort((a, b) => b.forwardMs + b.backwardMs - (a.forwardMs + a.backwardMs));
const graphMs = rows.reduce((s, r) => s + r.forwardMs + r.backwardMs, 0);
const sum = (field) => [...median.values()].reduce((s, t) => s + t[field], 0);
const summary = {
  figureMs: r1(total),
  graphForwardMs: r1(rows.reduce((s, r) => s + r.forwardMs, 0)),
  graphBackwardMs: r1(rows.reduce((s, r) => s + r.backwardMs, 0)),
  pipelineMs: r1(total - graphMs),
  heapGemmGmacs: g3(sum('heapMacs')),
  xnnpackConvGmacs: g3(sum('xnnpackMacs')),
  runtime: backend.info,
};
if (opts.json) console.log(JSON.stringify({ ...summary, rows, products: Object.fromEntries(products) }));
else {
  console.log(`${'op'.padEnd(20)}${'stage'.padEnd(10)}${'calls'.padStart(6)}${'forward ms'.padStart(12)}${'backward ms'.padStart(13)}${'G mult-adds'.padStart(13)}${'GMAC/s'.padStart(8)}`);
  for (const r of rows) console.log(`${r.op.padEnd(20)}${r.stage.padEnd(10)}${String(r.calls).padStart(6)}${String(r.forwardMs).padStart(12)}${String(r.backwardMs).padStart(13)}${(r.gmacs ? String(r.gmacs) : '').padStart(13)}${String(r.gmacPerSec ?? '').padStart(8)}`);
  for (const [k, v] of Object.entries(summary)) console.log(`${k.padEnd(16)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
}
model.dispose();
