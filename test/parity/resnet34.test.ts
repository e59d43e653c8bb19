import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createExplainer, deprocessImage, type Explainer, type Explanation } from '../../src/index.js';
import { hasReference, missingReason, readRef, referenceWeights } from '../helpers/assets.js';
import { maxAbs, maxAbsDiff, meanAbsDiff, pearson, relL2, timesMap } from '../helpers/metrics.js';
import { ALL_LAYERS, checkGuided, checkLayer, checkLogits, f32, REF_INPUTS, REF_TARGETS, refInput } from '../helpers/reference-check.js';
import { principalProjection } from '../../src/methods/projection.js';
import { ResNet34 } from '../../src/models/resnet34.js';
import { nchwToNhwc } from '../../src/image/preprocess.js';
import { tf } from '../../src/tf.js';
import { referenceKernels as K } from '../../src/kernels/reference.js';

/**
 * EigenCAM cases where LAPACK's singular vector has the sign opposite to ours (input/layer), measured.
 * No rule reproduces LAPACK's sign (the projection of centred activations has equal positive and
 * negative mass); ours makes the largest-magnitude value positive, scikit-learn's rule.
 */
const LAPACK_FLIPS = new Set<string>(['chelsea/layer4', 'chelsea-native/layer3', 'chelsea-native/layer4']);

/**
 * Ratchets: besides the issue's documented limits (checkLogits/checkLayer/checkGuided), each error must
 * stay within about 10x of what this engine measures today (worst case over inputs, targets and
 * layers), so that a regression shows long before it reaches a documented limit. Measured with
 * GRADCAM_MEASURE=1 (prints `ratchet <metric> <value>` instead of asserting); measured 2026-11-30.
 */
const RATCHETS: Record<string, number> = {
  'logits rel max': 1e-5, // measured 8.7e-7
  'map max': 7e-5, // measured 6.1e-6
  'map mean': 8e-6, // measured 7.2e-7
  'raw relL2 layer4': 4e-5, // measured 3.6e-6
  'raw relL2': 3e-5, // measured 2.1e-6
  'guided relL2': 3e-6, // measured 2.5e-7
  'guided 1-r': 1e-12, // measured 4.8e-14
  'guided gradcam relL2': 4e-5, // measured 3.4e-6
  'combined max': 3e-5, // measured 2.1e-6
  'combined mean': 7e-6, // measured 6.3e-7
  'method max layer4': 7e-5, // measured 6.1e-6
  'method max layer3': 5e-5, // measured 4.0e-6
  'method 1-r': 1e-10, // measured 7.2e-12
  'eigencam max': 2e-5, // measured 1.7e-6
};
function ratchet(metric: string, value: number): void {
  if (process.env.GRADCAM_MEASURE === '1') {
    console.log(`ratchet ${metric} ${value}`);
    return;
  }
  expect(value, `${metric} (ratchet: about 10x today's measured error)`).toBeLessThanOrEqual(RATCHETS[metric]!);
}

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
          const ref = f32(`refs/${input.name}/logits.npy`);
          ratchet('logits rel max', maxAbsDiff(e.logits, ref) / maxAbs(ref));
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
            const dir = `refs/${input.name}`;
            const map = f32(`${dir}/gradcam_${layer}_${t}.npy`);
            ratchet('map max', maxAbsDiff(e.cams[layer]!.map, map));
            ratchet('map mean', meanAbsDiff(e.cams[layer]!.map, map));
            ratchet(layer === 'layer4' ? 'raw relL2 layer4' : 'raw relL2', relL2(e.cams[layer]!.raw, f32(`${dir}/gradcam_${layer}_${t}_raw.npy`)));
            const ggc = layer === 'layer4' ? f32(`${dir}/guided_gradcam_layer4_${t}.npy`) : timesMap(f32(`${dir}/gb_${t}.npy`), map);
            ratchet('guided gradcam relL2', relL2(e.guidedGradCam![layer]!, ggc));
          });
        }

        test('guided backpropagation', () => {
          checkGuided(input.name, t, e.guided!);
          const ref = f32(`refs/${input.name}/gb_${t}.npy`);
          ratchet('guided relL2', relL2(e.guided!, ref));
          ratchet('guided 1-r', 1 - pearson(e.guided!, ref));
        });

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
            ratchet('combined max', maxAbsDiff(e.combined, ref));
            ratchet('combined mean', meanAbsDiff(e.combined, ref));
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
            ratchet(`method max ${layer}`, maxAbsDiff(ours, ref));
            ratchet('method 1-r', 1 - pearson(ours, ref));
          }
        });
      }

      test('eigencam: the API map against the reference, sign included', async () => {
        const e = await explainer.explain(refInput(input.name), { layers: ['layer3', 'layer4'], method: 'eigencam' });
        const model = ResNet34.fromSafetensors(referenceWeights());
        const { tensor, shape } = refInput(input.name);
        const x = tf.tensor4d(nchwToNhwc({ tensor, shape }).data, [1, shape[2]!, shape[3]!, 3]);
        const pass = model.forward(x);
        try {
          for (const layer of ['layer3', 'layer4']) {
            const ref = f32(`refs/${input.name}/eigencam_${layer}_c281.npy`);
            const act = pass.activation(layer);
            const [, h, w, c] = act.shape;
            const p = principalProjection(act.dataSync() as Float32Array, h * w, c);
            const map = (sign: number) => K.minMaxNormalize(K.meanRelu([K.resizeBilinear(K.minMaxNormalize(p.map((v) => Math.max(sign * v, 0))), h, w, e.height, e.width, 1)]));
            const [ours, flipped] = [map(1), map(-1)];
            expect(maxAbsDiff(e.cams[layer]!.map, ours), layer).toBeLessThanOrEqual(1e-5);
            // The two signs give clearly different maps, so this check sees a flipped sign.
            expect(maxAbsDiff(ours, flipped), layer).toBeGreaterThan(0.1);
            // pytorch-grad-cam has no sign rule: it keeps numpy's (LAPACK's) singular vector, whose sign
            // is an accident of the algorithm. Ours (the largest-magnitude value positive) agrees with it
            // except in the cases listed here.
            const lapackFlips = LAPACK_FLIPS.has(`${input.name}/${layer}`);
            expect(maxAbsDiff(lapackFlips ? flipped : e.cams[layer]!.map, ref), layer).toBeLessThanOrEqual(2e-5);
            ratchet('eigencam max', maxAbsDiff(lapackFlips ? flipped : e.cams[layer]!.map, ref));
            expect(maxAbsDiff(lapackFlips ? e.cams[layer]!.map : flipped, ref), layer).toBeGreaterThan(0.1);
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
