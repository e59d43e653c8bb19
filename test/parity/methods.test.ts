import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createExplainer, type Explainer, type Explanation } from '../../src/index.js';
import { hasReference, missingReason, referenceWeights } from '../helpers/assets.js';
import { maxAbsDiff, meanAbsDiff } from '../helpers/metrics.js';
import { f32, refInput } from '../helpers/reference-check.js';
import { ResNet34 } from '../../src/models/resnet34.js';
import { nchwToNhwc } from '../../src/image/preprocess.js';
import { principalProjection } from '../../src/methods/projection.js';
import { referenceKernels as K } from '../../src/kernels/reference.js';
import { tf } from '../../src/tf.js';

/** ScoreCAM layer4 (512 masked passes) takes ~45 s on a quiet 2-core machine and 134 s was seen on a loaded one. */
const SLOW_MS = 600_000;

/**
 * Parity with pytorch-grad-cam's other methods, smoothing modes and targets (../shared/reference/methods).
 * ScoreCAM and the layer3 AblationCAM rerun the network hundreds of times: CI runs them on chelsea/c281
 * only and the rest on chelsea (both targets); `npm run test:full` (GRADCAM_FULL=1) runs every case.
 */
const FULL = process.env.GRADCAM_FULL === '1';
const INPUTS = [
  { name: 'chelsea', top1: 494 },
  { name: 'astronaut', top1: 883 },
] as const;
const LAYERS = ['layer3', 'layer4'];

/** The issue's limits on normalised maps, and a ratchet near what we measure (about 10x). */
function expectMap(ours: Float32Array, refFile: string, ratchet: { mean: number; max: number }, label: string): void {
  const ref = f32(`methods/${refFile}.npy`);
  const [mean, max] = [meanAbsDiff(ours, ref), maxAbsDiff(ours, ref)];
  expect(mean, `${label} mean |diff|`).toBeLessThanOrEqual(Math.min(1e-4, ratchet.mean));
  expect(max, `${label} max |diff|`).toBeLessThanOrEqual(Math.min(2e-3, ratchet.max));
}

// Measured: mean <= 3.2e-7, max <= 9.3e-6 (KPCA-CAM astronaut layer3) for the one-pass methods.
const TIGHT = { mean: 3e-6, max: 1e-4 };

describe.skipIf(!hasReference)(`methods parity with pytorch-grad-cam${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  let explainer: Explainer;
  let model: ResNet34; // for the eigen tests' own activations and gradients
  beforeAll(async () => {
    explainer = await createExplainer({ model: 'resnet34', weights: referenceWeights() });
    model = ResNet34.fromSafetensors(referenceWeights());
  });
  afterAll(() => {
    explainer?.dispose();
    model?.dispose();
  });

  for (const input of INPUTS) {
    for (const t of ['top1', 'c281'] as const) {
      const cls = t === 'c281' ? 281 : input.top1;
      const slow = FULL || (input.name === 'chelsea' && t === 'c281');
      const dir = `${input.name}`;
      const explain = (options: object) => explainer.explain(refInput(input.name), { target: cls, ...options }) as Promise<Explanation>;

      // CI: chelsea, both targets; npm run test:full: astronaut too.
      describe.runIf(FULL || input.name === 'chelsea')(`${input.name} / ${t}`, () => {
        for (const method of ['gradcamelementwise', 'kpcacam', 'fem'] as const) {
          test(method, async () => {
            const e = await explain({ method, layers: LAYERS });
            for (const l of LAYERS) expectMap(e.cams[l]!.map, `${dir}/${method}_${l}_${t}`, TIGHT, `${method} ${l}`);
          });
        }

        test('fullgrad (every BN bias; --layers ignored)', async () => {
          const e = await explain({ method: 'fullgrad', layers: ['layer1'] });
          expect(Object.keys(e.cams)).toEqual(['fullgrad']);
          expectMap(e.cams.fullgrad!.map, `${dir}/fullgrad_${t}`, TIGHT, 'fullgrad');
          expect(e.combined).toBe(e.cams.fullgrad!.map);
        });

        test('ablationcam layer4', async () => {
          const e = await explain({ method: 'ablationcam', layers: ['layer4'] });
          // Measured: mean 7.8e-7, max 3.0e-6.
          expectMap(e.cams.layer4!.map, `${dir}/ablationcam_layer4_${t}`, { mean: 8e-6, max: 5e-5 }, 'ablationcam layer4');
        });

        test.runIf(slow)('ablationcam layer3 (slow)', async () => {
          const e = await explain({ method: 'ablationcam', layers: ['layer3'] });
          // Measured on the graph engine (batched reruns), 4 cases: mean <= 1.5e-5 (astronaut / c281), max <= 4.3e-5.
          // Its weights are differences of logits over the logit, so rounding in the reruns shows more than elsewhere.
          expectMap(e.cams.layer3!.map, `${dir}/ablationcam_layer3_${t}`, { mean: 3e-5, max: 1e-4 }, 'ablationcam layer3');
        }, SLOW_MS);

        test.runIf(slow)('scorecam layer4 (slow)', async () => {
          const e = await explain({ method: 'scorecam', layers: ['layer4'] });
          expectMap(e.cams.layer4!.map, `${dir}/scorecam_layer4_${t}`, { mean: 1e-5, max: 1e-4 }, 'scorecam layer4');
        }, SLOW_MS);

        test('augSmooth (six passes)', async () => {
          const e = await explain({ augSmooth: true, layers: LAYERS });
          // Measured: layer3 mean 1.1e-5, max 5.5e-5; layer4 mean 2.2e-7, max 1.5e-6.
          for (const l of LAYERS) expectMap(e.cams[l]!.map, `${dir}/gradcam_augsmooth_${l}_${t}`, { mean: 6e-5, max: 5e-4 }, `augSmooth ${l}`);
        });

        test('several targets from one forward pass: logit and softmax', async () => {
          const es = await explainer.explain(refInput(input.name), {
            layers: ['layer4'],
            targets: [cls, { class: cls, score: 'softmax' }],
          });
          expect(es.map((e) => [e.target, e.score])).toEqual([[cls, 'logit'], [cls, 'softmax']]);
          expectMap(es[0]!.cams.layer4!.map, `../refs/${dir}/gradcam_layer4_${t}`, TIGHT, 'logit');
          expectMap(es[1]!.cams.layer4!.map, `${dir}/gradcam_softmax_layer4_${t}`, TIGHT, 'softmax');
          expect(es[1]!.logits).toBe(es[0]!.logits); // one forward pass
        });

        test('eigengradcam and eigenSmooth, up to the sign of the principal component', async () => {
          const [egc, smooth] = [await explain({ method: 'eigengradcam', layers: LAYERS }), await explain({ eigenSmooth: true, layers: LAYERS })];
          const { tensor, shape } = refInput(input.name);
          const x = tf.tensor4d(nchwToNhwc({ tensor, shape }).data, [1, 224, 224, 3]);
          const pass = model.forward(x);
          const seed = new Float32Array(1000);
          seed[cls] = 1;
          const g = model.gradients(pass, { seed, layers: LAYERS, guided: false, toInput: false });
          try {
            for (const l of LAYERS) {
              const A = pass.activation(l).dataSync() as Float32Array;
              const G = g.layers[l]!.dataSync() as Float32Array;
              const [, h, w, c] = pass.activation(l).shape;
              const weights = K.channelMean(G, h * w, c);
              const cases = [
                { e: egc, terms: A.map((a, i) => a * G[i]!), file: `eigengradcam_${l}_${t}` },
                { e: smooth, terms: A.map((a, i) => a * weights[i % c]!), file: `gradcam_eigensmooth_${l}_${t}` },
              ];
              for (const { e, terms, file } of cases) {
                const p = principalProjection(terms, h * w, c);
                // NumPy's SVD (LAPACK) picks either sign, by no rule we can reproduce; ours makes the largest-magnitude value positive.
                const [plus, minus] = [1, -1].map((s) => K.minMaxNormalize(K.resizeBilinear(K.minMaxNormalize(p.map((v) => Math.max(s * v, 0))), h, w, 224, 224, 1)));
                const ref = f32(`methods/${dir}/${file}.npy`);
                const best = meanAbsDiff(plus!, ref) <= meanAbsDiff(minus!, ref) ? plus! : minus!;
                expectMap(best, `${dir}/${file}`, TIGHT, file);
                expect(maxAbsDiff(e.cams[l]!.map, plus!), `${file}: engine = largest-magnitude-positive sign`).toBeLessThanOrEqual(1e-5);
              }
            }
          } finally {
            tf.dispose([...Object.values(g.layers), x]);
            pass.dispose();
          }
        });
      });
    }
  }
});
