import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tf, type Tensor4D } from '../../src/tf.js';
import { runningBackend, startBackend } from '../../src/runtime/index.js';
import { parseSafetensors } from '../../src/weights/safetensors.js';
import { resnetModel } from '../../src/models/resnet34.js';
import { OPS } from '../../src/ops/registry.js';
import type { GraphModel } from '../../src/graph/model.js';
import { gradientTensors } from '../../src/models/types.js';
import { randomResnet34Weights } from '../helpers/random-weights.js';

/**
 * Stacked gradient passes under faults: a heap allocation that fails at any point of the pass (inside an
 * op, or while a pass leaves the stack and its blocks are copied out) must end in that error with no
 * tensor left behind, and the next call must give the results of a call that never failed.
 */
describe('stacked gradient passes: a failure at any allocation leaks nothing', () => {
  let model: GraphModel;
  beforeAll(async () => {
    await startBackend();
    model = resnetModel(parseSafetensors(randomResnet34Weights()), 'weights', { heap: runningBackend().heap, ops: OPS });
  });
  afterAll(() => model?.dispose());

  test('every 3rd heap output of a ResNet34 plain + guided pass fails once', () => {
    const heap = runningBackend().heap;
    const output = heap.output;
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 64 * 64 * 3 }, (_, i) => Math.sin(i * 0.37)), [2, 64, 64, 3]) as Tensor4D;
    const layers = ['layer1', 'layer3'];
    const pass = model.forward(x, layers);
    const seed = Float32Array.from({ length: 2 * model.numClasses }, (_, i) => (i % 97 === 0 ? 1 : 0));
    const reqs = [
      { seed, layers, guided: false, toInput: false },
      { seed, layers: [], guided: true, toInput: true },
    ];
    const read = () => {
      const gs = model.gradientPasses(pass, reqs);
      const data = gs.flatMap(gradientTensors).map((t) => t.dataSync().slice());
      tf.dispose(gs.flatMap(gradientTensors));
      return data;
    };
    let calls = 0;
    heap.output = (shape) => (calls++, output.call(heap, shape));
    const expected = read();
    heap.output = output;
    const total = calls;
    expect(total).toBeGreaterThan(50);
    const before = tf.memory().numTensors;
    try {
      for (let failAt = 0; failAt < total; failAt += 3) {
        let n = 0;
        heap.output = (shape) => {
          if (n++ === failAt) throw new Error('injected allocation failure');
          return output.call(heap, shape);
        };
        expect(() => model.gradientPasses(pass, reqs), `failing allocation ${failAt}`).toThrow(/injected allocation failure/);
        heap.output = output;
        expect(tf.memory().numTensors, `after failing allocation ${failAt}`).toBe(before);
      }
    } finally {
      heap.output = output;
    }
    const again = read();
    again.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(expected[i]!)));
    pass.dispose();
    x.dispose();
  });
});
