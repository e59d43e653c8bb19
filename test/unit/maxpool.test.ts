import { beforeAll, expect, test } from 'vitest';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/runtime/index.js';
import { maxPoolGrad } from '../../src/backward/maxpool.js';

beforeAll(() => initBackend());
const G = { size: 3, stride: 2, pad: 1 };

test('ties route the gradient to the first maximum in row-major order (PyTorch), not the last (tfjs)', () => {
  const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
  const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
  const dx = maxPoolGrad(dy, x, G);
  // Window (0,0) covers rows/cols -1..1 -> first valid is (0,0); window (0,1) covers cols 1..3 -> (0,1); etc.
  expect(Array.from(dx.dataSync())).toEqual([1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  // tfjs's own kernel differs here, which is why we do not use it.
  const tfjs = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: tf.maxPool(x, 3, 2, 1) }, { filterSize: 3, strides: 2, pad: 1 }) as tf.Tensor;
  expect(Array.from(tfjs.dataSync())).not.toEqual(Array.from(dx.dataSync()));
  tf.dispose([x, dy, dx, tfjs]);
});

test('padded windows whose maximum is negative still pass their gradient', () => {
  const x = tf.tensor4d([-5, -1, -3, -2, -4, -6, -7, -8, -9], [1, 3, 3, 1]);
  const dy = tf.tensor4d([1, 1, 1, 1], [1, 2, 2, 1]);
  const dx = maxPoolGrad(dy, x, G);
  // Windows: (0,0) rows 0..1 cols 0..1 -> max -1 at (0,1); (0,1) cols 1..2 -> -1 at (0,1);
  // (1,0) rows 1..2 cols 0..1 -> -2 at (1,0); (1,1) rows 1..2 cols 1..2 -> -4 at (1,1).
  expect(Array.from(dx.dataSync())).toEqual([0, 2, 0, 1, 1, 0, 0, 0, 0]);
  tf.dispose([x, dy, dx]);
});
