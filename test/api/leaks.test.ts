import { afterAll, beforeAll, expect, test } from 'vitest';
import { createExplainer, type Explainer } from '../../src/index.js';
import { tf } from '../../src/tf.js';
import { randomArray, randomResnet34Weights } from '../helpers/random-weights.js';

let ex: Explainer;
beforeAll(async () => {
  ex = await createExplainer({ weights: randomResnet34Weights() });
});
afterAll(() => ex.dispose());

test('200 explain() calls: no tensor left behind, memory flat after warm-up', async () => {
  const input = { tensor: randomArray(3 * 48 * 48, 11), shape: [1, 3, 48, 48] };
  const options = { layers: ['layer1', 'layer2', 'layer3', 'layer4'], guided: true } as const;
  for (let i = 0; i < 20; i++) await ex.explain(input, options);
  const tensors = tf.memory().numTensors;
  const wasmBytes = tf.memory().numBytes;
  global.gc?.();
  const rssAfterWarmup = process.memoryUsage().rss;
  for (let i = 0; i < 200; i++) {
    const e = await ex.explain(input, { ...options, target: i % 1000 });
    expect(e.target).toBe(i % 1000);
  }
  expect(tf.memory().numTensors).toBe(tensors);
  expect(tf.memory().numBytes).toBe(wasmBytes);
  global.gc?.();
  const growth = process.memoryUsage().rss - rssAfterWarmup;
  // A leak of even one small map per call (48*48 floats) would be ~2 MB over 200 calls; allow GC noise.
  expect(growth).toBeLessThan(40 * 1024 * 1024);
});

test('the explainer keeps no tensors of a call, even when the call fails', async () => {
  const before = tf.memory().numTensors;
  const bad = { tensor: new Float32Array(3 * 48 * 48), shape: [1, 3, 48, 48] };
  await ex.explain(bad, { layers: ['nope'] }).catch(() => undefined);
  await ex.explain(bad, { target: 5000 }).catch(() => undefined);
  await ex.predict(bad);
  expect(tf.memory().numTensors).toBe(before);
});
