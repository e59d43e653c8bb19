// tf.grad on custom scores needs the ops' gradients (the package leaves registering them to its user).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createExplainer, decodeImage, InvalidInputError, resizeRgbPillowBilinear, TargetOutOfRangeError, type Explainer, type ExplainBatchOptions, type Explanation, type Pixels } from '../../src/index.js';
import { tf } from '../../src/tf.js';
import { ASSETS, hasReference, missingReason, referenceWeights } from '../helpers/assets.js';
import { maxAbs, maxAbsDiff } from '../helpers/metrics.js';

const photo = async (name: string, w: number, h: number): Promise<Pixels> =>
  resizeRgbPillowBilinear(await decodeImage(new Uint8Array(readFileSync(join(ASSETS, 'images', name)))), w, h);

/** Worst differences of a batch's explanations from one-by-one ones: logits relative to max |logit|, maps absolute. */
function differences(batch: readonly Explanation[], single: readonly Explanation[]): { logits: number; maps: number } {
  let logits = 0;
  let maps = 0;
  batch.forEach((b, i) => {
    const s = single[i]!;
    expect(b.target).toBe(s.target);
    expect(Object.keys(b.cams)).toEqual(Object.keys(s.cams));
    logits = Math.max(logits, maxAbsDiff(b.logits, s.logits) / maxAbs(s.logits));
    const pairs: [ArrayLike<number>, ArrayLike<number>][] = [[b.combined, s.combined]];
    for (const l of Object.keys(s.cams)) pairs.push([b.cams[l]!.map, s.cams[l]!.map], [b.cams[l]!.raw, s.cams[l]!.raw]);
    if (s.guided) pairs.push([b.guided!, s.guided], ...Object.keys(s.cams).map((l) => [b.guidedGradCam![l]!, s.guidedGradCam![l]!] as [Float32Array, Float32Array]));
    for (const [x, y] of pairs) maps = Math.max(maps, maxAbsDiff(x, y));
  });
  return { logits, maps };
}

describe.skipIf(!hasReference)(`explainBatch (seed-1 ResNet34)${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  let ex: Explainer;
  let photos: Pixels[];
  beforeAll(async () => {
    ex = await createExplainer({ weights: referenceWeights() });
    photos = await Promise.all(['chelsea.png', 'coffee.png', 'astronaut.png'].map((n) => photo(n, 80, 64)));
  }, 120_000);
  afterAll(() => ex?.dispose());

  // [name, options, images]: the slower cases on two images.
  const cases: [string, ExplainBatchOptions, number][] = [
    ['gradcam, guided, two layers, top-1 each', { layers: ['layer3', 'layer4'], guided: true }, 3],
    ['gradcam++ with one target per image (a softmax one among them)', { layers: ['layer4'], targets: [281, { class: 967, score: 'softmax' }, 1] }, 3],
    ['fullgrad', { method: 'fullgrad' }, 2],
    ['ablationcam (reruns per image)', { method: 'ablationcam', layers: ['layer4'] }, 2],
    ['eigencam, aug_smooth, one target for all', { method: 'eigencam', augSmooth: true, target: 281 }, 2],
  ];
  // Measured: every difference 0 (the batch adds the same terms in the same order as batch-1 calls).
  test.each(cases)('%s: each explanation equals a one-by-one call (logits 1e-6 of max |logit|, maps 1e-6)', async (_, options, count) => {
    const before = tf.memory().numTensors;
    const inputs = photos.slice(0, count);
    const batch = await ex.explainBatch(inputs, options);
    expect(batch).toHaveLength(count);
    const { targets, ...rest } = options;
    const single: Explanation[] = [];
    for (const [i, p] of inputs.entries()) single.push(await ex.explain(p, { ...rest, ...(targets ? { target: targets[i] } : {}) }));
    // Different photos, different explanations (a mix-up would show).
    expect(maxAbsDiff(single[0]!.combined, single[1]!.combined)).toBeGreaterThan(0.01);
    const d = differences(batch, single);
    expect(d.logits).toBeLessThanOrEqual(1e-6);
    expect(d.maps).toBeLessThanOrEqual(1e-6);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  test('the default target is each image\'s own top-1', async () => {
    const batch = await ex.explainBatch(photos.slice(0, 2), { layers: ['layer4'] });
    for (const e of batch) expect(e.target).toBe(e.logits.indexOf(Math.max(...e.logits)));
    expect(batch[0]!.target).not.toBe(batch[1]!.target);
  });

  test('bad input: empty inputs, mismatched batch and targets lengths, different sizes, a bad target; nothing leaks', async () => {
    const before = tf.memory().numTensors;
    const small = await photo('coffee.png', 64, 64);
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => ex.explainBatch([]), /non-empty array of inputs/],
      [() => ex.explainBatch(undefined as never), /non-empty array of inputs/],
      [() => ex.explainBatch(photos, { targets: [1, 2] }), /got 2 targets for 3 inputs; give one target per input/],
      [() => ex.explainBatch(photos, { targets: [] }), /got 0 targets for 3 inputs/],
      [() => ex.explainBatch(photos.slice(0, 1), { target: 1, targets: [2] }), /either target or targets/],
      [() => ex.explainBatch([photos[0]!, small, photos[1]!]), /one size, got 80x64, 64x64 \(inputs 80x64, 64x64, 80x64\)/],
      [() => ex.explainBatch([photos[0]!, null as never]), /input must be pixels/],
    ];
    for (const [call, message] of cases) {
      const err = await call().catch((e) => e);
      expect(err, String(message)).toBeInstanceOf(InvalidInputError);
      expect(err.message).toMatch(message);
    }
    await expect(ex.explainBatch(photos.slice(0, 2), { targets: [1, 1000] })).rejects.toThrow(TargetOutOfRangeError);
    expect(tf.memory().numTensors).toBe(before);
    // The explainer still works.
    expect(await ex.explainBatch(photos.slice(0, 1), { layers: ['layer4'] })).toHaveLength(1);
  });
});
