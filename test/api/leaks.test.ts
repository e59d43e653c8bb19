import { afterAll, beforeAll, expect, test } from 'vitest';
import { createExplainer, type Explainer } from '../../src/index.js';
import { tf } from '../../src/tf.js';
import { backendMemory } from '../../src/runtime/wasm-backend.js';
import { randomArray, randomResnet34Weights } from '../helpers/random-weights.js';
import { buildOnnx, tinyCnn } from '../helpers/onnx-builder.js';

let ex: Explainer;
beforeAll(async () => {
  ex = await createExplainer({ weights: randomResnet34Weights() });
});
afterAll(() => ex.dispose());

// Growth over the 200 calls after 20 warm-up calls, after forced GCs (GRADCAM_MEASURE=1 prints it), in 5 runs on
// a loaded machine: tensors, tensor bytes and tfjs-wasm's heap 0; array buffers 0 / 185 kB / 185 kB; JS heap
// 0.64-0.99 MB (JIT code and feedback still settling: 40-150 kB per 50 calls later on); RSS 1.5-26 MB (noise of
// +-2 MB per 50 calls, and the machine's load). The array-buffer and heap bounds sit just above that, so a map kept
// per call (9 kB: 1.8 MB in all) or 2 MB of JS arrays kept fail them; RSS only catches what neither sees.
const ARRAY_BUFFER_GROWTH_LIMIT = 512 * 1024;
const HEAP_GROWTH_LIMIT = 1.5 * 1024 * 1024;
const RSS_GROWTH_LIMIT = 32 * 1024 * 1024;

/**
 * What a leak would grow, after forced GCs: tensors, tfjs-wasm's heap, JS objects, array buffers, RSS. V8 frees
 * dead array buffers on a background thread: without the pauses, a loaded machine counted 4.6 MB of them as live.
 */
async function memory() {
  for (let i = 0; i < 3; i++) {
    global.gc!();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const m = process.memoryUsage();
  const t = tf.memory();
  return { tensors: t.numTensors, tensorBytes: t.numBytes, wasmHeap: backendMemory().buffer.byteLength, heap: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss };
}

test('200 explain() calls: no tensor left behind, memory flat after warm-up', async () => {
  const input = { tensor: randomArray(3 * 48 * 48, 11), shape: [1, 3, 48, 48] };
  const options = { layers: ['layer1', 'layer2', 'layer3', 'layer4'], guided: true } as const;
  for (let i = 0; i < 20; i++) await ex.explain(input, options);
  expect(typeof global.gc, 'vitest.config.ts passes --expose-gc').toBe('function');
  const before = await memory();
  for (let i = 0; i < 200; i++) {
    const e = await ex.explain(input, { ...options, target: i % 1000 });
    expect(e.target).toBe(i % 1000);
  }
  const after = await memory();
  const growth = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]])) as typeof before;
  if (process.env.GRADCAM_MEASURE === '1') console.log(`growth over 200 calls: ${JSON.stringify(growth)}`);
  expect(growth.tensors).toBe(0);
  expect(growth.tensorBytes).toBe(0);
  expect(growth.wasmHeap).toBe(0);
  expect(growth.arrayBuffers).toBeLessThan(ARRAY_BUFFER_GROWTH_LIMIT);
  expect(growth.heap).toBeLessThan(HEAP_GROWTH_LIMIT);
  expect(growth.rss).toBeLessThan(RSS_GROWTH_LIMIT);
}, 600_000); // the timeout only catches a hang (200 calls took 275-300 s on the loaded 2-core machine)

test('the explainer keeps no tensors of a call, even when the call fails', async () => {
  const before = tf.memory().numTensors;
  const bad = { tensor: new Float32Array(3 * 48 * 48), shape: [1, 3, 48, 48] };
  await ex.explain(bad, { layers: ['nope'] }).catch(() => undefined);
  await ex.explain(bad, { target: 5000 }).catch(() => undefined);
  await ex.predict(bad);
  expect(tf.memory().numTensors).toBe(before);
});

test('an explainer keeps nothing it was loaded from: neither the bytes of a weights file nor those of an ONNX model', async () => {
  // Copies: randomResnet34Weights keeps its bytes for the other tests.
  const sources = { safetensors: () => ({ weights: randomResnet34Weights().slice() }), onnx: () => ({ model: buildOnnx(tinyCnn()) }) };
  for (const [name, source] of Object.entries(sources)) {
    let options: { weights?: Uint8Array; model?: Uint8Array } | undefined = source();
    const bytes = new WeakRef((options.weights ?? options.model)!.buffer);
    const e = await createExplainer(options);
    options = undefined;
    for (let i = 0; i < 3; i++) {
      global.gc!();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // A kernel's closure naming an importer's tensor kept its whole file alive (ONNX: every weight, 45 MB for resnet18).
    expect(bytes.deref() === undefined, `${name}: the bytes are still reachable from the explainer`).toBe(true);
    e.dispose();
  }
});
