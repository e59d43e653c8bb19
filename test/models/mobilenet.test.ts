import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createExplainer, topK, type Explainer, type Pixels } from '../../src/index.js';
import { decodeImage } from '../../src/image/decode.js';
import { resizeRgbPillowBilinear } from '../../src/image/resize.js';
import { tf } from '../../src/tf.js';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';

const image = async (name: string): Promise<Pixels> => decodeImage(new Uint8Array(readFileSync(join(ASSETS, 'images', name))));
const at224 = (px: Pixels) => resizeRgbPillowBilinear(px, 224, 224);

/** Two photos side by side, each resized to 224x224: a 448x224 image. */
function sideBySide(left: Pixels, right: Pixels): Pixels {
  const [a, b] = [at224(left), at224(right)];
  const data = new Uint8Array(448 * 224 * 3);
  for (let y = 0; y < 224; y++) {
    data.set(a.data.subarray(y * 224 * 3, (y + 1) * 224 * 3), y * 448 * 3);
    data.set(b.data.subarray(y * 224 * 3, (y + 1) * 224 * 3), (y * 448 + 224) * 3);
  }
  return { data, width: 448, height: 224 };
}

/** Share of the map's mass in the left half, and whether its argmax is there. */
function leftMass(map: Float32Array, width: number): { share: number; argmaxLeft: boolean } {
  let left = 0;
  let total = 0;
  let best = 0;
  for (let i = 0; i < map.length; i++) {
    total += map[i]!;
    if (i % width < width / 2) left += map[i]!;
    if (map[i]! > map[best]!) best = i;
  }
  return { share: left / total, argmaxLeft: best % width < width / 2 };
}

describe.skipIf(!hasMobilenet)(`real ImageNet MobileNet v1 0.75 (TF.js layers model)${hasMobilenet ? '' : ` (skipped: ${missingReason})`}`, () => {
  let ex: Explainer;
  beforeAll(async () => {
    ex = await createExplainer({ model: join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json'), preprocess: 'tf' });
  });
  afterAll(() => ex?.dispose());

  test('layers, default target layer and labels', () => {
    expect(ex.defaultLayers).toEqual(['conv_pw_13_relu']);
    expect(ex.layers).toContain('conv_dw_7_relu');
    expect(ex.numClasses).toBe(1000);
    expect(ex.labels?.length).toBe(1000);
  });

  test('coffee.png is an espresso; chelsea.png has a cat in its top 5', async () => {
    const coffee = topK(await ex.predict(at224(await image('coffee.png'))), 5, ex.labels);
    expect(coffee[0]!.label).toMatch(/^espresso$/);
    const chelsea = topK(await ex.predict(at224(await image('chelsea.png'))), 5, ex.labels);
    expect(chelsea.some((p) => /tabby|tiger cat|Egyptian cat|Persian cat|Siamese cat/.test(p.label!))).toBe(true);
  });

  for (const order of ['cat left', 'cat right'] as const) {
    test(`Grad-CAM localises the class on a side-by-side image (${order})`, async () => {
      const [cat, cup] = [await image('chelsea.png'), await image('coffee.png')];
      const px = order === 'cat left' ? sideBySide(cat, cup) : sideBySide(cup, cat);
      const labels = ex.labels!;
      const espresso = labels.findIndex((l) => /^espresso$/.test(l));
      const logits = await ex.predict(px);
      const catClass = topK(logits, 1000, labels).find((p) => /tabby|tiger cat|Egyptian cat/.test(p.label!))!.index;
      const before = tf.memory().numTensors;
      const eCat = await ex.explain(px, { target: catClass });
      const eCup = await ex.explain(px, { target: espresso });
      expect(tf.memory().numTensors).toBe(before);
      const c = leftMass(eCat.cams.conv_pw_13_relu!.map, 448);
      const k = leftMass(eCup.cams.conv_pw_13_relu!.map, 448);
      const catLeft = order === 'cat left';
      expect(catLeft ? c.share : 1 - c.share).toBeGreaterThan(0.5);
      expect(c.argmaxLeft).toBe(catLeft);
      expect(catLeft ? 1 - k.share : k.share).toBeGreaterThan(0.5);
      expect(k.argmaxLeft).toBe(!catLeft);
    });
  }

  test('guided backpropagation runs through ReLU6 and depthwise layers to the input', async () => {
    const px = at224(await image('coffee.png'));
    const e = await ex.explain(px, { guided: true, layers: ['conv_pw_13_relu', 'conv_pw_11_relu'] });
    expect(e.guided!.length).toBe(224 * 224 * 3);
    let nonzero = 0;
    for (const v of e.guided!) if (v !== 0) nonzero++;
    expect(nonzero / e.guided!.length).toBeGreaterThan(0.1);
    expect(e.guidedGradCam!.conv_pw_11_relu!.length).toBe(224 * 224 * 3);
  });

  test('the other methods, smoothing modes and targets run on it with sane maps (cat left, espresso right)', async () => {
    const px = sideBySide(await image('chelsea.png'), await image('coffee.png'));
    const espresso = ex.labels!.findIndex((l) => /^espresso$/.test(l));
    const before = tf.memory().numTensors;
    const runs = [
      { method: 'ablationcam' }, { method: 'eigengradcam' }, { method: 'gradcamelementwise' }, { method: 'kpcacam', localises: false },
      { method: 'fem', localises: false }, { method: 'fullgrad', localises: false }, { method: 'gradcam', eigenSmooth: true },
      { method: 'gradcam', augSmooth: true }, { method: 'gradcam', target: { class: espresso, score: 'softmax' } },
    ] as const;
    for (const { localises = true, ...options } of runs) {
      const label = JSON.stringify(options);
      const e = await ex.explain(px, { target: espresso, ...options });
      const map = e.combined;
      expect(map.length, label).toBe(448 * 224);
      expect(map.every((v) => v >= 0 && v <= 1), label).toBe(true);
      // augSmooth's mean of six normalised maps is not normalised again.
      expect(Math.max(...map), label).toBeGreaterThan(options.augSmooth ? 0.5 : 0.99);
      // KPCA-CAM and FEM use no target, and FullGrad's bias terms barely depend on it: no side is required of them.
      if (localises) expect(leftMass(map, 448).share, label).toBeLessThan(0.5);
    }
    // ScoreCAM: 768 forward passes, on a small input.
    const small = await ex.explain(resizeRgbPillowBilinear(await image('coffee.png'), 64, 64), { method: 'scorecam', target: espresso });
    expect(small.combined.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
