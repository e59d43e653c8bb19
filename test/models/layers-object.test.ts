import { expect, test } from 'vitest';
import * as tfl from '@tensorflow/tfjs';
import { createExplainer, topK } from '../../src/index.js';
import { initBackend } from '../../src/runtime/index.js';
import { randomArray } from '../helpers/random-weights.js';
import { relL2 } from '../helpers/metrics.js';

test('an in-memory tfjs-layers model can be explained directly (createExplainer({ model }))', async () => {
  await initBackend();
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [40, 40, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' }),
      tfl.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2' }),
      tfl.layers.globalAveragePooling2d({ name: 'gap' }),
      tfl.layers.dense({ units: 3, activation: 'softmax', name: 'fc' }),
    ],
  });
  const labels = ['a', 'b', 'c'];
  const ex = await createExplainer({ model, labels, preprocess: 'tf' });
  expect(ex.layers).toEqual(['c1', 'c2']);
  expect(ex.defaultLayers).toEqual(['c2']);
  const x = randomArray(3 * 40 * 40, 9);
  const logits = await ex.predict({ tensor: x, shape: [1, 3, 40, 40] });
  // The logits are the dense layer's pre-softmax output: their softmax is the model's prediction.
  const nhwc = tfl.transpose(tfl.tensor4d(x, [1, 3, 40, 40]), [0, 2, 3, 1]);
  const probs = (model.predict(nhwc) as tfl.Tensor).dataSync();
  expect(relL2(topK(logits, 3).sort((p, q) => p.index - q.index).map((p) => p.probability), probs)).toBeLessThan(1e-5);
  const e = await ex.explain({ tensor: x, shape: [1, 3, 40, 40] }, { guided: true });
  expect(e.cams.c2!.map.length).toBe(40 * 40);
  expect(ex.labels).toEqual(labels);
  ex.dispose();
});
