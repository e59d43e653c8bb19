import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { createExplainer, OutOfMemoryError, type Explainer } from '../../src/index.js';
import { tf, type Tensor } from '../../src/tf.js';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';
import { randomArray } from '../helpers/random-weights.js';
import { maxAbsDiff } from '../helpers/metrics.js';

const tensor = (side: number, seed: number) => ({ tensor: randomArray(3 * side * side, seed), shape: [1, 3, side, side] });
/** A call declaring a huge input: the budget refuses it from the declared shape, before reading any data. */
const huge = { tensor: new Float32Array(0), shape: [1, 3, 1 << 15, 1 << 15] };

/** The largest input (H*W) whose call fits the heap now, as the refusal of a huge call reports it. */
async function fitsNow(ex: Explainer): Promise<number> {
  const err = await ex.explain(huge).catch((e) => e);
  expect(err).toBeInstanceOf(OutOfMemoryError);
  return err.maxPixels;
}

describe.skipIf(!hasMobilenet)(`MobileNet within tfjs-wasm's 4 GB heap${hasMobilenet ? '' : ` (${missingReason})`}`, () => {
  const model = join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json');
  let ex: Explainer;
  const ballast: Tensor[] = [];
  beforeAll(async () => {
    ex = await createExplainer({ model, preprocess: 'tf' });
  });
  afterAll(() => {
    tf.dispose(ballast);
    ex?.dispose();
  });

  test('the default maxInputPixels comes from the model and the 4 GB heap; an explicit one caps it', async () => {
    // Measured: 2,244,600 pixels (1498x1498; guided MobileNet needs ~1218 tensor bytes per pixel).
    expect(ex.maxInputPixels).toBeGreaterThan(1400 * 1400);
    expect(ex.maxInputPixels).toBeLessThan(1700 * 1700);
    const capped = await createExplainer({ model, preprocess: 'tf', maxInputPixels: 500 * 500 });
    expect(capped.maxInputPixels).toBe(500 * 500);
    await expect(capped.explain(tensor(501, 1))).rejects.toThrow(/maxInputPixels/);
    capped.dispose();
  });

  test('a call just over the budget is refused with OutOfMemoryError naming what fits, at once, with nothing allocated', async () => {
    const side = Math.floor(Math.sqrt(ex.maxInputPixels)) + 1;
    const input = { tensor: new Float32Array(3 * side * side), shape: [1, 3, side, side] };
    const tensors = tf.memory().numTensors;
    const t = performance.now();
    const err = await ex.explain(input, { guided: true }).catch((e) => e);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err.code).toBe('OUT_OF_MEMORY');
    expect(err.maxPixels).toBe(ex.maxInputPixels);
    expect(err.message).toMatch(new RegExp(`${side}x${side}`));
    expect(tf.memory().numTensors).toBe(tensors);
  });

  test('with the heap nearly full, 4 concurrent calls at the largest size that fits succeed, and one pixel row more is refused', async () => {
    // The real 4 GB heap, made nearly full by ballast tensors, so that the largest call that fits is
    // small and quick: calls that stacked their memory would run past the cap (tfjs-wasm then hangs in
    // malloc or aborts); one at a time they fit.
    const before = await fitsNow(ex);
    const chunk = 2 ** 28; // bytes
    const ones = new Float32Array(chunk / 4).fill(1);
    ballast.push(tf.tensor1d(ones));
    const perPixel = chunk / (before - (await fitsNow(ex)));
    const target = 160 * 160;
    for (let left = ((await fitsNow(ex)) - target) * perPixel; left > 1e6; left -= chunk) {
      ballast.push(tf.tensor1d(ones.subarray(0, Math.floor(Math.min(left, chunk) / 4))));
    }
    const fits = await fitsNow(ex);
    expect(fits).toBeGreaterThan(100 * 100);
    expect(fits).toBeLessThan(220 * 220);
    const side = Math.floor(Math.sqrt(fits));
    const inputs = [1, 2, 3, 4].map((s) => tensor(side, s));
    const together = await Promise.all(inputs.map((x) => ex.explain(x, { guided: true })));
    for (const [i, x] of inputs.entries()) {
      const alone = await ex.explain(x, { guided: true });
      expect(maxAbsDiff(together[i]!.combined, alone.combined)).toBe(0);
      expect(maxAbsDiff(together[i]!.guided!, alone.guided!)).toBe(0);
    }
    const over = await ex.explain(tensor(side + 1, 5), { guided: true }).catch((e) => e);
    expect(over).toBeInstanceOf(OutOfMemoryError);
    expect(over.maxPixels).toBeLessThan((side + 1) ** 2);
  });
});
