#!/usr/bin/env node
// Whether the static memory estimate (src/graph/memory.ts) covers a real call: one fresh process per case
// loads a model, computes the estimate for a guided Grad-CAM call, runs the call, and prints the wasm
// heap's growth beside what the budget reserves (estimate x HEAP_PER_TENSOR_BYTE) and what the old probe
// runs (tf.profile at two small sizes) predicted.
//   node bench/memory-estimate.js [resnet34|mobilenet] [side] [--probe]
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../dist/tf.js';
import { loadKernels, startBackend } from '../dist/runtime/index.js';
import { backendMemory } from '../dist/runtime/wasm-backend.js';
import { parseSafetensors } from '../dist/weights/safetensors.js';
import { resnetModel } from '../dist/models/resnet34.js';
import { KerasCnn } from '../dist/models/keras/model.js';
import { loadKerasArtifacts } from '../dist/models/keras/loader.js';
import { OPS } from '../dist/ops/registry.js';
import { explainTensor } from '../dist/explain/pipeline.js';
import { CAM_METHODS } from '../dist/methods/index.js';
import { Work } from '../dist/work.js';
import { callBytes, HEAP_PER_TENSOR_BYTE, measureCallMemory } from '../dist/engine/memory-budget.js';

const here = dirname(fileURLToPath(import.meta.url));
const assets = process.env.GRADCAM_TEST_ASSETS ?? resolve(here, '../../shared');
const [which = 'resnet34', sideArg = '512'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const side = Number(sideArg);
const backend = await startBackend();
const kernels = await loadKernels();
const ctx = { heap: backend.heap, ops: OPS };
const model =
  which === 'mobilenet'
    ? new KerasCnn(await loadKerasArtifacts(resolve(assets, 'models/mobilenet_v1_0.75_224/model.json')), ctx)
    : resnetModel(parseSafetensors(new Uint8Array(readFileSync(resolve(assets, 'reference/resnet34-seed1.safetensors')))), 'weights', ctx);
const layers = model.defaultLayers;
const estimate = model.callMemory({ layers, passes: [{ layers, toInput: false }, { layers: [], toInput: true }] });
const input = (s) => tf.tensor4d(Float32Array.from({ length: 3 * s * s }, (_, i) => Math.sin(i * 0.37)), [1, s, s, 3]);
const call = async (s) => {
  const x = input(s);
  await explainTensor(model, kernels, x, { layers, method: CAM_METHODS.gradcam, targets: [[{ class: undefined, score: 'logit' }]], guided: true, eigenSmooth: false, augSmooth: false }, new Work({}));
  x.dispose();
};
const mb = (b) => +(b / 2 ** 20).toFixed(1);
const out = { model: which, side, layers, estimateMB: mb(callBytes(estimate, side * side)), reservedMB: mb(HEAP_PER_TENSOR_BYTE * callBytes(estimate, side * side)) };
if (process.argv.includes('--probe')) {
  const probed = await measureCallMemory((h) => call(h), [[64, 64], [128, 128]]);
  out.probeEstimateMB = mb(callBytes(probed, side * side));
}
const heap = () => backendMemory().buffer.byteLength;
const before = heap();
await call(side);
out.heapGrowthMB = mb(heap() - before);
out.heapBeforeMB = mb(before);
console.log(JSON.stringify(out));
model.dispose();
