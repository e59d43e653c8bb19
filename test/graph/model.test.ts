import { beforeAll, describe, expect, test } from 'vitest';
import { tf, type Tensor4D } from '../../src/tf.js';
import { startBackend } from '../../src/runtime/index.js';
import { OPS } from '../../src/ops/registry.js';
import { GraphModel } from '../../src/graph/model.js';
import { loadOnnx } from '../../src/importers/onnx/load.js';
import { onnxGraph } from '../../src/importers/onnx/graph.js';
import { hasZoo, zooMissingReason, zooModelPath } from '../helpers/zoo.js';
import { maxAbs, maxAbsDiff } from '../helpers/metrics.js';
import { randomArray } from '../helpers/random-weights.js';

/** The model contract (CONTRACTS.md section 2) on a zoo graph: seeds, logitsFrom, bias gradients. */
describe.skipIf(!hasZoo)('GraphModel: seed, logitsFrom, biasGradients (zoo resnet18)', () => {
  if (!hasZoo) test.skip(zooMissingReason, () => {});
  let model: GraphModel;
  let x: Tensor4D;
  beforeAll(async () => {
    const { heap } = await startBackend();
    model = GraphModel.create(onnxGraph(await loadOnnx(zooModelPath('resnet18'))).spec, { heap, ops: OPS });
    x = tf.tensor4d(randomArray(64 * 80 * 3, 3), [1, 64, 80, 3]);
  }, 60_000);

  test('logitsFrom(layer, activations) gives the forward logits, per batch item', () => {
    const before = tf.memory().numTensors;
    const pass = model.forward(x, ['layer3']);
    const act = pass.activation('layer3');
    const batch = tf.tidy(() => tf.concat([act, tf.mul(act, 0.5)], 0)) as Tensor4D;
    const logits = model.logitsFrom('layer3', batch);
    expect(logits.shape).toEqual([2, 1000]);
    const ref = pass.logits.dataSync();
    expect(maxAbsDiff(logits.dataSync().slice(0, 1000), ref)).toBeLessThanOrEqual(1e-5 * maxAbs(ref));
    tf.dispose([batch, logits]);
    pass.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a seed is d(score)/d(logits): gradients are linear in it; bias gradients are the gradients at each biased op', () => {
    const before = tf.memory().numTensors;
    const pass = model.forward(x, ['layer4']);
    const seed = randomArray(1000, 5);
    const g = model.gradients(pass, { seed, layers: ['layer4', '/layer4/layer4.1/conv2/Conv_output_0'], guided: false, toInput: true, biasGradients: true });
    const twice = model.gradients(pass, { seed: seed.map((v) => 2 * v), layers: ['layer4'], guided: false, toInput: false });
    const a = g.layers.layer4!.dataSync();
    expect(maxAbsDiff(twice.layers.layer4!.dataSync(), a.map((v) => 2 * v))).toBeLessThanOrEqual(1e-6 * maxAbs(a));
    // Every conv (20, BatchNorm folded), not the classifier: FullGrad takes conv and BatchNorm biases only.
    expect(g.biases!.length).toBe(20);
    expect(g.biases!.every((b) => b.grad.rank === 4 && b.bias.length === b.grad.shape[3])).toBe(true);
    const last = g.layers['/layer4/layer4.1/conv2/Conv_output_0']!.dataSync();
    expect(g.biases!.some((b) => b.grad.size === last.length && maxAbsDiff(b.grad.dataSync(), last) === 0)).toBe(true);
    tf.dispose([...Object.values(g.layers), g.input!, ...Object.values(twice.layers), ...g.biases!.map((b) => b.grad)]);
    pass.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
