import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createExplainer, deprocessImage, type Explainer, type Explanation } from '../../src/index.js';
import { hasReference, missingReason, readRef, referenceWeights } from '../helpers/assets.js';
import { maxAbsDiff, meanAbsDiff, pearson } from '../helpers/metrics.js';
import { ALL_LAYERS, checkGuided, checkLayer, checkLogits, f32, REF_INPUTS, REF_TARGETS, refInput } from '../helpers/reference-check.js';
import { principalProjection } from '../../src/methods/projection.js';
import { ResNet34 } from '../../src/models/resnet34.js';
import { nchwToNhwc } from '../../src/image/preprocess.js';
import { tf } from '../../src/tf.js';
import { referenceKernels as K } from '../../src/kernels/reference.js';

describe.skipIf(!hasReference)(`API parity with pytorch-grad-cam, seeded ResNet34${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  let explainer: Explainer;
  beforeAll(async () => {
    explainer = await createExplainer({ model: 'resnet34', weights: referenceWeights() });
  });
  afterAll(() => explainer?.dispose());

  for (const input of REF_INPUTS) {
    for (const t of REF_TARGETS) {
      describe(`${input.name} / ${t}`, () => {
        let e: Explanation;
        beforeAll(async () => {
          e = await explainer.explain(refInput(input.name), { layers: ALL_LAYERS, guided: true, target: t === 'c281' ? 281 : undefined });
        });

        test('logits and target', () => {
          checkLogits(input, e.logits);
          expect(e.target).toBe(t === 'c281' ? 281 : input.top1);
        });

        for (const layer of ALL_LAYERS) {
          test(`Grad-CAM and Guided Grad-CAM at ${layer}`, () => {
            checkLayer(input.name, t, layer, {
              logits: e.logits,
              map: (l) => e.cams[l]!.map,
              raw: (l) => ({ data: e.cams[l]!.raw, shape: [e.cams[l]!.rawHeight, e.cams[l]!.rawWidth] }),
              guidedGradCam: (l) => e.guidedGradCam![l]!,
            });
          });
        }

        test('guided backpropagation', () => checkGuided(input.name, t, e.guided!));

        test('deprocessed Guided Grad-CAM (uint8)', () => {
          const ref = readRef(`refs/${input.name}/guided_gradcam_layer4_${t}_u8.npy`).data;
          const ours = deprocessImage(e.guidedGradCam!.layer4!);
          let differing = 0;
          for (let i = 0; i < ref.length; i++) if (ours[i] !== ref[i]) differing++;
          expect(differing / ref.length).toBeLessThanOrEqual(0.03);
        });

        if (t === 'c281') {
          test('all four layers aggregated', () => {
            const ref = f32(`refs/${input.name}/gradcam_all4_c281.npy`);
            expect(maxAbsDiff(e.combined, ref)).toBeLessThanOrEqual(2e-3);
            expect(meanAbsDiff(e.combined, ref)).toBeLessThanOrEqual(1e-4);
          });
        }
      });
    }

    describe(`${input.name}: other CAM methods, class 281`, () => {
      for (const method of ['gradcam++', 'xgradcam', 'hirescam', 'layercam'] as const) {
        test(method, async () => {
          const e = await explainer.explain(refInput(input.name), { layers: ['layer3', 'layer4'], target: 281, method });
          const file = method === 'gradcam++' ? 'gradcampp' : method;
          for (const layer of ['layer3', 'layer4']) {
            const ours = e.cams[layer]!.map;
            const ref = f32(`refs/${input.name}/${file}_${layer}_c281.npy`);
            expect(maxAbsDiff(ours, ref), `${method} ${layer}`).toBeLessThanOrEqual(layer === 'layer4' ? 2e-5 : 1e-2);
            expect(pearson(ours, ref), `${method} ${layer}`).toBeGreaterThanOrEqual(0.9999);
          }
        });
      }

      test('eigencam (either sign of the singular vector)', async () => {
        const e = await explainer.explain(refInput(input.name), { layers: ['layer3', 'layer4'], method: 'eigencam' });
        const model = ResNet34.fromSafetensors(referenceWeights());
        const { tensor, shape } = refInput(input.name);
        const x = tf.tensor4d(nchwToNhwc({ tensor, shape }).data, [1, shape[2]!, shape[3]!, 3]);
        const pass = model.forward(x);
        try {
          for (const layer of ['layer3', 'layer4']) {
            const act = pass.activation(layer);
            const [, h, w, c] = act.shape;
            const p = principalProjection(act.dataSync() as Float32Array, h * w, c);
            // The sign of a singular vector is arbitrary: LAPACK's choice is one of these two maps.
            const [plus, minus] = [1, -1].map((sign) => {
              const raw = p.map((v) => Math.max(sign * v, 0));
              return K.minMaxNormalize(K.meanRelu([K.resizeBilinear(K.minMaxNormalize(raw), h, w, e.height, e.width, 1)]));
            }) as [Float32Array, Float32Array];
            const ref = f32(`refs/${input.name}/eigencam_${layer}_c281.npy`);
            expect(Math.min(maxAbsDiff(plus, ref), maxAbsDiff(minus, ref)), layer).toBeLessThanOrEqual(2e-5);
            expect(maxAbsDiff(e.cams[layer]!.map, plus), layer).toBeLessThanOrEqual(1e-5);
          }
        } finally {
          pass.dispose();
          x.dispose();
          model.dispose();
        }
      });
    });
  }
});

describe.skipIf(!hasReference)(`image preprocessing against Pillow and torchvision${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  for (const name of ['chelsea', 'astronaut']) {
    test(`${name}: decode + Pillow BILINEAR resize to 224 are bit-exact, normalisation within float32 rounding`, async () => {
      const { decodeImage } = await import('../../src/image/decode.js');
      const { resizeRgbPillowBilinear } = await import('../../src/image/resize.js');
      const { normalizePixels } = await import('../../src/image/preprocess.js');
      const { readFileSync } = await import('node:fs');
      const { ASSETS } = await import('../helpers/assets.js');
      const px = resizeRgbPillowBilinear(await decodeImage(new Uint8Array(readFileSync(`${ASSETS}/images/${name}.png`))), 224, 224);
      expect(Array.from(px.data)).toEqual(Array.from(readRef(`inputs/${name}.rgb224.npy`).data));
      const nhwc = normalizePixels(px);
      const nchw = f32(`inputs/${name}.input.npy`);
      let worst = 0;
      for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(nhwc[i * 3 + c]! - nchw[c * 224 * 224 + i]!));
      expect(worst).toBe(0);
    });
  }
});
