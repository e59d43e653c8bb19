import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createExplainer, type Explainer } from '../../src/index.js';
import { tf } from '../../src/tf.js';
import {
  camMultImageConfidenceChange,
  dropInConfidence,
  evaluateMap,
  increaseInConfidence,
  normalGenerator,
  pixelsToTensor,
  roadCombined,
  roadLeastRelevantFirst,
  roadMostRelevantFirst,
} from '../../src/metrics/index.js';
import { normalizePixels } from '../../src/image/preprocess.js';
import { hasReference, missingReason, referenceWeights } from '../helpers/assets.js';
import { cachingModel } from './caching-model.js';

const SIZE = 64;
const g = normalGenerator(11);
const input = { tensor: Float32Array.from({ length: 3 * SIZE * SIZE }, () => g.next()), shape: [1, 3, SIZE, SIZE] };
/** A smooth map with its maximum off-centre. */
const map = Float32Array.from({ length: SIZE * SIZE }, (_, i) => Math.exp(-(((i % SIZE) - 40) ** 2 + (Math.floor(i / SIZE) - 20) ** 2) / 300));

describe.skipIf(!hasReference)(`metrics API${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  let explainer: Explainer;
  beforeAll(async () => {
    explainer = await createExplainer({ model: 'resnet34', weights: referenceWeights() });
  });
  afterAll(() => explainer?.dispose());

  test('evaluateMap agrees with the single metrics; a seed repeats its noise; progress counts every pass; no tensor is left', async () => {
    const before = tf.memory().numTensors;
    const model = cachingModel(explainer);
    const events: [number, number][] = [];
    const options = { target: 3, noise: 0.01, seed: 5 };
    const all = await evaluateMap(model, input, map, { ...options, onProgress: (p) => events.push([p.done, p.total]) });
    expect(events).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, 20]));
    expect(model.calls).toBe(20);
    expect(tf.memory().numTensors).toBe(before);
    const change = await camMultImageConfidenceChange(model, input, map, options);
    expect(all.confidenceChange).toBe(change);
    expect(all.dropInConfidence).toBe(await dropInConfidence(model, input, map, options));
    expect(all.increaseInConfidence).toBe(await increaseInConfidence(model, input, map, options));
    expect(all.dropInConfidence).toBe(Math.max(0, -change));
    expect(all.increaseInConfidence).toBe(change > 0 ? 1 : 0);
    // The same seed gives the same noise sequence: every imputed input repeats, and so does the value.
    expect(await roadCombined(model, input, map, options)).toBe(all.roadCombined);
    expect(model.calls).toBe(20);
    // Another seed gives other inputs.
    await roadMostRelevantFirst(model, input, map, { ...options, seed: 6 });
    expect(model.calls).toBe(21);
  });

  test('MoRF / LeRF alone equal evaluateMap\'s; a percentile outside the combined set costs one extra pass', async () => {
    const model = cachingModel(explainer);
    const events: number[] = [];
    const options = { target: 3, noise: 0 };
    const m = await evaluateMap(model, input, map, { ...options, morfPercentile: 75, lerfPercentile: 20, onProgress: (p) => events.push(p.total) });
    expect(new Set(events)).toEqual(new Set([21]));
    expect(model.calls).toBe(21);
    expect(m.roadMorf).toBe(await roadMostRelevantFirst(model, input, map, { ...options, percentile: 75 }));
    expect(m.roadLerf).toBe(await roadLeastRelevantFirst(model, input, map, options));
    expect(model.calls).toBe(21);
  });

  test('abort mid-way rejects with AbortError, leaks no tensor, and leaves the explainer usable', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const seen: number[] = [];
    const run = roadCombined(explainer, input, map, {
      signal: controller.signal,
      onProgress: ({ done }) => {
        seen.push(done);
        if (done === 3) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError', code: 'ABORTED' });
    expect(seen).toEqual([1, 2, 3]);
    expect(tf.memory().numTensors).toBe(before);
    const aborted = AbortSignal.abort();
    await expect(evaluateMap(explainer, input, map, { signal: aborted })).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await explainer.predict(input)).length).toBe(1000);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('bad input: typed errors', async () => {
    const invalid = expect.objectContaining({ code: 'INVALID_INPUT' });
    await expect(roadCombined(explainer, input, map.subarray(1))).rejects.toEqual(invalid);
    await expect(roadCombined(explainer, input, Float32Array.from(map, (v, i) => (i === 9 ? NaN : v)))).rejects.toEqual(invalid);
    await expect(roadCombined(explainer, { tensor: input.tensor, shape: [1, 3, SIZE, SIZE + 1] }, map)).rejects.toEqual(invalid);
    await expect(roadCombined(explainer, { tensor: input.tensor, shape: [2, 3, SIZE, SIZE] }, map)).rejects.toEqual(invalid);
    await expect(roadCombined(explainer, input, Array.from(map) as unknown as Float32Array)).rejects.toEqual(invalid);
    await expect(roadMostRelevantFirst(explainer, input, map, { percentile: 101 })).rejects.toEqual(invalid);
    await expect(roadCombined(explainer, input, map, { percentiles: [] })).rejects.toEqual(invalid);
    await expect(roadCombined(explainer, input, map, { noise: -0.1 })).rejects.toEqual(invalid);
    await expect(roadCombined(explainer, input, map, { seed: 1.5 })).rejects.toEqual(invalid);
    await expect(roadCombined(explainer, input, map, { score: 'prob' as 'softmax' })).rejects.toEqual(invalid);
    await expect(roadCombined({} as typeof explainer, input, map)).rejects.toEqual(invalid);
    await expect(camMultImageConfidenceChange(explainer, input, map, { target: 1000 })).rejects.toMatchObject({ code: 'TARGET_OUT_OF_RANGE' });
    await expect(camMultImageConfidenceChange(explainer, input, map, { target: -1 })).rejects.toMatchObject({ code: 'TARGET_OUT_OF_RANGE' });
  });
});

test('pixelsToTensor is the explainer\'s normalisation, laid out as [1, 3, H, W]', () => {
  const px = { data: Uint8Array.from({ length: 5 * 4 * 4 }, (_, i) => (i * 37) % 256), width: 5, height: 4 };
  const hwc = normalizePixels(px, 'imagenet');
  const { tensor, shape } = pixelsToTensor(px);
  expect(shape).toEqual([1, 3, 4, 5]);
  for (let i = 0; i < 20; i++) for (let c = 0; c < 3; c++) expect(tensor[c * 20 + i]).toBe(hwc[i * 3 + c]);
});
