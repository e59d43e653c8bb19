import { beforeAll, expect, test } from 'vitest';
import { tf } from '../../src/tf.js';
import { startBackend } from '../../src/runtime/index.js';
import type { WasmHeap } from '../../src/ops/kernels/heap.js';
import { maxPoolGrad, maxPoolGradTs } from '../../src/ops/kernels/maxpool.js';
import { randomArray } from '../helpers/random-weights.js';

let heap: WasmHeap;
beforeAll(async () => {
  heap = (await startBackend()).heap;
});
const G = { size: 3, stride: 2, pad: 1 };
const pool = (x: tf.Tensor4D) => tf.maxPool(x, G.size, G.stride, G.pad);

/** Both versions: the heap kernel (when loaded, as in Node) and the TypeScript one. */
const versions = [
  ['heap kernel', (dy: tf.Tensor4D, x: tf.Tensor4D) => maxPoolGrad(heap, dy, x, pool(x), G)],
  ['TypeScript', (dy: tf.Tensor4D, x: tf.Tensor4D) => maxPoolGradTs(heap, dy, x, G)],
] as const;

test('the heap kernel is loaded in Node, and agrees exactly with the TypeScript version on random input with ties (batch of 2)', () => {
  expect(heap.kernels).toBeDefined();
  // Quantised values: many equal maxima per window; odd sizes leave partial windows at the edges.
  const x = tf.tensor4d(randomArray(2 * 37 * 29 * 8, 5).map((v) => Math.round(v * 2)), [2, 37, 29, 8]);
  const dy = tf.tensor4d(randomArray(2 * 19 * 15 * 8, 6), [2, 19, 15, 8]);
  const [a, b] = versions.map(([, f]) => f(dy, x));
  expect(Array.from(a!.dataSync())).toEqual(Array.from(b!.dataSync()));
  // Each image's gradient is its own (as a batch of one).
  const second = tf.tidy(() => versions[1][1](tf.slice(dy, [1, 0, 0, 0], [1, -1, -1, -1]), tf.slice(x, [1, 0, 0, 0], [1, -1, -1, -1])).dataSync());
  expect(Array.from(a!.dataSync().subarray(37 * 29 * 8))).toEqual(Array.from(second));
  tf.dispose([x, dy, a!, b!]);
});

/** PyTorch's max pool (a window holding a NaN pools to NaN; tfjs-wasm's skips NaN), [1, h, w, c]. */
function torchMaxPool(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  const [oh, ow] = [Math.floor((h + 2 * G.pad - G.size) / G.stride) + 1, Math.floor((w + 2 * G.pad - G.size) / G.stride) + 1];
  const v = x.dataSync();
  const out = new Float32Array(oh * ow * c).fill(-Infinity);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++)
      for (let ky = 0; ky < G.size; ky++)
        for (let kx = 0; kx < G.size; kx++) {
          const [y, xx] = [oy * G.stride - G.pad + ky, ox * G.stride - G.pad + kx];
          if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
          for (let ch = 0; ch < c; ch++) {
            const [o, a] = [(oy * ow + ox) * c + ch, v[(y * w + xx) * c + ch]!];
            if (a > out[o]! || a !== a) out[o] = a;
          }
        }
  return tf.tensor4d(out, [1, oh, ow, c]);
}

test.each([7, 12])('the heap kernel agrees exactly with the TypeScript version with %i channels (4 at a time, one at a time where a maximum is NaN, the rest one by one), infinities, -0 and zero gradients', (c) => {
  const values = [Number.NaN, Infinity, -Infinity, -0];
  const x = tf.tensor4d(randomArray(23 * 17 * c, 8).map((v, i) => (i % 37 === 5 ? values[i % 4]! : Math.round(v * 2))), [1, 23, 17, c]);
  const dy = tf.tensor4d(randomArray(12 * 9 * c, 9).map((v, i) => (i % 3 === 0 ? 0 : i % 29 === 1 ? -0 : v)), [1, 12, 9, c]);
  const pooled = torchMaxPool(x);
  expect(Array.from(pooled.dataSync()).some((v) => Number.isNaN(v))).toBe(true);
  const [a, b] = [maxPoolGrad(heap, dy, x, pooled, G), maxPoolGradTs(heap, dy, x, G)];
  expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
  tf.dispose([x, dy, pooled, a, b]);
});

test.each(versions)('%s: ties route the gradient to the first maximum in row-major order (PyTorch), not the last (tfjs)', (_, grad) => {
  const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
  const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
  const dx = grad(dy, x);
  // Window (0,0) covers rows/cols -1..1 -> first valid is (0,0); window (0,1) covers cols 1..3 -> (0,1); etc.
  expect(Array.from(dx.dataSync())).toEqual([1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  // tfjs's own kernel differs here, which is why we do not use it.
  const tfjs = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: tf.maxPool(x, 3, 2, 1) }, { filterSize: 3, strides: 2, pad: 1 }) as tf.Tensor;
  expect(Array.from(tfjs.dataSync())).not.toEqual(Array.from(dx.dataSync()));
  tf.dispose([x, dy, dx, tfjs]);
});

test.each(versions)('%s: padded windows whose maximum is negative still pass their gradient', (_, grad) => {
  const x = tf.tensor4d([-5, -1, -3, -2, -4, -6, -7, -8, -9], [1, 3, 3, 1]);
  const dy = tf.tensor4d([1, 1, 1, 1], [1, 2, 2, 1]);
  const dx = grad(dy, x);
  // Windows: (0,0) rows 0..1 cols 0..1 -> max -1 at (0,1); (0,1) cols 1..2 -> -1 at (0,1);
  // (1,0) rows 1..2 cols 0..1 -> -2 at (1,0); (1,1) rows 1..2 cols 1..2 -> -4 at (1,1).
  expect(Array.from(dx.dataSync())).toEqual([0, 2, 0, 1, 1, 0, 0, 0, 0]);
  tf.dispose([x, dy, dx]);
});
