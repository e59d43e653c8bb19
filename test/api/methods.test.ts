// tf.grad on custom scores needs the ops' gradients (the package leaves registering them to its user).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AbortError, createExplainer, InvalidInputError, TargetOutOfRangeError, type Explainer } from '../../src/index.js';
import type { ProgressEvent } from '../../src/work.js';
import { randomResnet34Weights } from '../helpers/random-weights.js';
import { tf } from '../../src/tf.js';
import { SCORECAM_BATCH_PIXELS } from '../../src/methods/scorecam.js';

const input = (h: number, w: number) => {
  const tensor = new Float32Array(3 * h * w);
  for (let i = 0; i < tensor.length; i++) tensor[i] = Math.sin(i * 0.37) * 1.5;
  return { tensor, shape: [1, 3, h, w] };
};

describe('methods, targets, progress and abort (random ResNet34)', () => {
  let ex: Explainer;
  beforeAll(async () => {
    ex = await createExplainer({ weights: randomResnet34Weights() });
  });
  afterAll(() => ex.dispose());

  test('unknown method', async () => {
    const err = await ex.explain(input(64, 64), { method: 'gradcam3' as never }).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toMatch(/^unknown method 'gradcam3'; available: gradcam, gradcam\+\+, .*ablationcam, scorecam, fullgrad$/);
  });

  test('targets the model cannot take', async () => {
    for (const target of [1000, -1, 1.5, { class: 1000, score: 'softmax' as const }, { class: 3.5 }, { class: 'cat' as never }]) {
      await expect(ex.explain(input(64, 64), { target })).rejects.toThrow(TargetOutOfRangeError);
    }
    await expect(ex.explain(input(64, 64), { targets: [1, 1000] })).rejects.toThrow(TargetOutOfRangeError);
    await expect(ex.explain(input(64, 64), { target: { class: 1, score: 'probit' as never } })).rejects.toThrow(/unknown target score 'probit'/);
    await expect(ex.explain(input(64, 64), { target: 'tabby' as never })).rejects.toThrow(InvalidInputError);
  });

  test('an empty targets list, or target and targets together', async () => {
    await expect(ex.explain(input(64, 64), { targets: [] })).rejects.toThrow(/targets must be a non-empty array/);
    await expect(ex.explain(input(64, 64), { target: 1, targets: [2] } as never)).rejects.toThrow(/either target or targets/);
  });

  test('a custom score that does not return a scalar (nothing leaks)', async () => {
    const before = tf.memory().numTensors;
    const bad = [(z: tf.Tensor1D) => z, () => 3, () => tf.scalar(1, 'int32'), () => { throw new Error('boom'); }] as never[];
    for (const score of bad) {
      const err = await ex.explain(input(64, 64), { target: { score } }).catch((e) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err.message).toMatch(/custom score function (must return a float32 scalar tensor|failed: boom)/);
    }
    await expect(ex.explain(input(64, 64), { target: { score: (z: tf.Tensor1D) => tf.sum(z), class: 3 } as never })).rejects.toThrow(/takes no class/);
    expect(tf.memory().numTensors).toBe(before);
  });

  test("a custom score's gradient is the seed: the logit written as a score, and twice it, give the logit's maps", async () => {
    const logit3 = (z: tf.Tensor1D) => tf.sum(tf.slice(z, [3], [1])) as tf.Scalar;
    const [plain, custom, doubled] = await ex.explain(input(64, 64), {
      layers: ['layer3'],
      targets: [3, { score: logit3 }, { score: (z: tf.Tensor1D) => tf.mul(logit3(z), 2) as tf.Scalar }],
    });
    expect([custom!.target, custom!.score]).toEqual([undefined, 'custom']);
    expect(Array.from(custom!.cams.layer3!.raw)).toEqual(Array.from(plain!.cams.layer3!.raw));
    // Normalised maps do not see the factor 2.
    expect(Array.from(doubled!.cams.layer3!.map)).toEqual(Array.from(plain!.cams.layer3!.map));
    expect(doubled!.cams.layer3!.raw.some((v, i) => v !== plain!.cams.layer3!.raw[i])).toBe(true);
  });

  for (const [method, layers, augSmooth] of [['ablationcam', ['layer4'], false], ['gradcam', ['layer4'], true]] as const) {
    test(`${method}${augSmooth ? ' augSmooth' : ''}: progress events up to their total`, async () => {
      const events: ProgressEvent[] = [];
      const e = await ex.explain(input(64, 64), { method, layers, augSmooth, onProgress: (p) => events.push(p) });
      expect(e.cams[layers[0]]!.map.length).toBe(64 * 64);
      expect(events.length).toBe(augSmooth ? 6 : 512 / 32);
      expect(events.at(-1)).toEqual({ done: events.at(-1)!.total, total: augSmooth ? 6 : 512 });
      for (let i = 1; i < events.length; i++) expect(events[i]!.done).toBeGreaterThan(events[i - 1]!.done);
    });
  }

  // ScoreCAM's first batch of masked inputs at 64x64 (SCORECAM_BATCH_PIXELS), AblationCAM's second of 32.
  const scoreCamBatch = Math.floor(SCORECAM_BATCH_PIXELS / (64 * 64));
  for (const [method, layers, augSmooth, stopAt] of [['scorecam', ['layer4'], false, scoreCamBatch], ['ablationcam', ['layer3'], false, 64], ['gradcam', ['layer4'], true, 2]] as const) {
    test(`${method}${augSmooth ? ' augSmooth' : ''}: abort mid-way rejects with AbortError and leaks nothing`, async () => {
      const before = tf.memory().numTensors;
      const controller = new AbortController();
      let last = { done: 0, total: 0 };
      const err = await ex
        .explain(input(64, 64), { method, layers, augSmooth, signal: controller.signal, onProgress: (p) => ((last = p), p.done >= stopAt && controller.abort()) })
        .catch((e) => e);
      expect(err).toBeInstanceOf(AbortError);
      expect(err.code).toBe('ABORTED');
      expect(last.done).toBe(stopAt);
      expect(last.total).toBeGreaterThan(stopAt);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  test('an already aborted signal, and bad signal / onProgress values', async () => {
    const before = tf.memory().numTensors;
    await expect(ex.explain(input(64, 64), { signal: AbortSignal.abort() })).rejects.toThrow(AbortError);
    await expect(ex.explain(input(64, 64), { signal: {} as never })).rejects.toThrow(/signal must be an AbortSignal/);
    await expect(ex.explain(input(64, 64), { onProgress: 3 as never })).rejects.toThrow(/onProgress must be a function/);
    await expect(ex.explain(input(64, 64), { eigenSmooth: 'yes' as never })).rejects.toThrow(/eigenSmooth must be true or false/);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('every method runs and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    for (const method of ['eigengradcam', 'gradcamelementwise', 'kpcacam', 'fem', 'fullgrad', 'hirescam', 'layercam'] as const) {
      const e = await ex.explain(input(64, 64), { method, layers: ['layer3', 'layer4'], eigenSmooth: method === 'hirescam', guided: method === 'fullgrad' });
      // Random weights: some layers are constant, and their maps all zeros.
      for (const cam of Object.values(e.cams)) expect(cam.map.every((v) => v >= 0 && v <= 1), method).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  test('kpcacam refuses kernels larger than 1024 positions', async () => {
    await expect(ex.explain(input(160, 160), { method: 'kpcacam', layers: ['layer1'] })).rejects.toThrow(/kpcacam needs a 1600 x 1600 kernel matrix/);
  });
});
