import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createExplainer, deprocessImage, type Explainer, type Explanation } from '../../src/index.js';
import { hasReference, missingReason, readRef, referenceWeights } from '../helpers/assets.js';
import { argmax, maxAbs, maxAbsDiff, meanAbsDiff, pearson, relL2, timesMap } from '../helpers/metrics.js';

const INPUTS = [
  { name: 'chelsea', top1: 494 },
  { name: 'astronaut', top1: 883 },
  { name: 'chelsea-native', top1: 494 },
] as const;
const TARGETS = ['top1', 'c281'] as const;
const LAYERS = ['layer1', 'layer2', 'layer3', 'layer4'];

const f32 = (rel: string) => readRef(rel).data as Float32Array;
const inputOf = (name: string) => {
  const npy = readRef(`inputs/${name}.input.npy`);
  return { tensor: npy.data as Float32Array, shape: npy.shape };
};

describe.skipIf(!hasReference)(`parity with pytorch-grad-cam on the seeded ResNet34${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  let explainer: Explainer;
  beforeAll(async () => {
    explainer = await createExplainer({ model: 'resnet34', weights: referenceWeights() });
  });
  afterAll(() => explainer?.dispose());

  for (const input of INPUTS) {
    for (const t of TARGETS) {
      describe(`${input.name} / ${t}`, () => {
        let e: Explanation;
        const dir = `refs/${input.name}`;
        beforeAll(async () => {
          e = await explainer.explain(inputOf(input.name), { layers: LAYERS, guided: true, target: t === 'c281' ? 281 : undefined });
        });

        test('logits and target', () => {
          const ref = f32(`${dir}/logits.npy`);
          expect(maxAbsDiff(e.logits, ref)).toBeLessThanOrEqual(1e-5 * maxAbs(ref));
          expect(argmax(e.logits)).toBe(input.top1);
          expect(e.target).toBe(t === 'c281' ? 281 : input.top1);
        });

        for (const layer of LAYERS) {
          test(`Grad-CAM ${layer}: normalised and raw maps`, () => {
            const cam = e.cams[layer]!;
            const map = f32(`${dir}/gradcam_${layer}_${t}.npy`);
            expect(cam.map.length).toBe(map.length);
            expect(maxAbsDiff(cam.map, map)).toBeLessThanOrEqual(2e-3);
            expect(meanAbsDiff(cam.map, map)).toBeLessThanOrEqual(1e-4);
            const raw = readRef(`${dir}/gradcam_${layer}_${t}_raw.npy`);
            expect([cam.rawHeight, cam.rawWidth]).toEqual(raw.shape);
            expect(relL2(cam.raw, raw.data)).toBeLessThanOrEqual(layer === 'layer4' ? 1e-4 : 2e-3);
          });

          test(`Guided Grad-CAM ${layer}`, () => {
            // Stored for layer4; for the others it is exactly the product of the stored map and gradient.
            const ref = layer === 'layer4'
              ? f32(`${dir}/guided_gradcam_layer4_${t}.npy`)
              : timesMap(f32(`${dir}/gb_${t}.npy`), f32(`${dir}/gradcam_${layer}_${t}.npy`));
            const ours = e.guidedGradCam![layer]!;
            expect(relL2(ours, ref)).toBeLessThanOrEqual(2e-2);
            expect(pearson(ours, ref)).toBeGreaterThanOrEqual(0.999);
          });
        }

        test('guided backpropagation', () => {
          const ref = f32(`${dir}/gb_${t}.npy`);
          expect(relL2(e.guided!, ref)).toBeLessThanOrEqual(2e-2);
          expect(pearson(e.guided!, ref)).toBeGreaterThanOrEqual(0.999);
        });

        test('deprocessed Guided Grad-CAM (uint8)', () => {
          const ref = readRef(`${dir}/guided_gradcam_layer4_${t}_u8.npy`).data;
          const ours = deprocessImage(e.guidedGradCam!.layer4!);
          let differing = 0;
          for (let i = 0; i < ref.length; i++) if (ours[i] !== ref[i]) differing++;
          expect(differing / ref.length).toBeLessThanOrEqual(0.03);
        });

        if (t === 'c281') {
          test('all four layers aggregated', () => {
            const ref = f32(`${dir}/gradcam_all4_c281.npy`);
            expect(maxAbsDiff(e.combined, ref)).toBeLessThanOrEqual(2e-3);
            expect(meanAbsDiff(e.combined, ref)).toBeLessThanOrEqual(1e-4);
          });
        }
      });
    }

    describe(`${input.name}: other CAM methods, class 281`, () => {
      for (const method of ['gradcam++', 'xgradcam', 'hirescam', 'layercam', 'eigencam'] as const) {
        test(method, async () => {
          const e = await explainer.explain(inputOf(input.name), { layers: ['layer3', 'layer4'], target: 281, method });
          const file = method === 'gradcam++' ? 'gradcampp' : method;
          for (const layer of ['layer3', 'layer4']) {
            const ref = f32(`refs/${input.name}/${file}_${layer}_c281.npy`);
            const ours = e.cams[layer]!.map;
            expect(maxAbsDiff(ours, ref), `${method} ${layer}`).toBeLessThanOrEqual(layer === 'layer4' || method === 'eigencam' ? 2e-5 : 1e-2);
            expect(pearson(ours, ref), `${method} ${layer}`).toBeGreaterThanOrEqual(0.9999);
          }
        });
      }
    });
  }
});
