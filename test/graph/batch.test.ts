import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, type Tensor4D } from '../../src/tf.js';
import { startBackend } from '../../src/runtime/index.js';
import { OPS } from '../../src/ops/registry.js';
import { GraphModel } from '../../src/graph/model.js';
import { loadOnnx } from '../../src/importers/onnx/load.js';
import { onnxGraph } from '../../src/importers/onnx/graph.js';
import { resnetModel } from '../../src/models/resnet34.js';
import { KerasCnn } from '../../src/models/keras/model.js';
import { loadKerasArtifacts } from '../../src/models/keras/loader.js';
import { parseSafetensors } from '../../src/weights/safetensors.js';
import { decodeImage } from '../../src/image/decode.js';
import { resizeRgbPillowBilinear } from '../../src/image/resize.js';
import { normalizePixels, type Preprocessing } from '../../src/image/preprocess.js';
import type { EngineContext } from '../../src/ops/types.js';
import { ASSETS, hasMobilenet, hasReference, missingReason, referenceWeights } from '../helpers/assets.js';
import { hasZoo, zooModelPath } from '../helpers/zoo.js';
import { maxAbs, maxAbsDiff } from '../helpers/metrics.js';

/** Three different photos at one size, normalised, NHWC [1, h, w, 3] each. */
async function photos(h: number, w: number, mode: Preprocessing): Promise<Float32Array[]> {
  return Promise.all(
    ['chelsea.png', 'coffee.png', 'astronaut.png'].map(async (name) => {
      const px = await decodeImage(new Uint8Array(readFileSync(join(ASSETS, 'images', name))));
      return normalizePixels(resizeRgbPillowBilinear(px, w, h), mode);
    }),
  );
}

const argmax = (v: Float32Array) => v.reduce((best, x, i) => (x > v[best]! ? i : best), 0);

interface Case {
  readonly name: string;
  readonly skip: boolean;
  readonly load: (ctx: EngineContext) => Promise<GraphModel>;
  readonly layer: string;
  readonly preprocess: Preprocessing;
}

const CASES: Case[] = [
  { name: 'resnet18 (ONNX zoo)', skip: !hasZoo, load: async (ctx) => GraphModel.create(onnxGraph(await loadOnnx(zooModelPath('resnet18'))).spec, ctx), layer: 'layer4', preprocess: 'imagenet' },
  { name: 'ResNet34 (safetensors)', skip: !hasReference, load: async (ctx) => resnetModel(parseSafetensors(referenceWeights()), 'resnet34', ctx), layer: 'layer3', preprocess: 'imagenet' },
  {
    name: 'MobileNet v1 (Keras)',
    skip: !hasMobilenet,
    load: async (ctx) => new KerasCnn(await loadKerasArtifacts(join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json')), ctx),
    layer: 'conv_pw_13_relu',
    preprocess: 'tf',
  },
];

/**
 * A batch of 3 different images through the graph engine gives, per image, what batch-1 passes give:
 * logits, activations, and the layer and input gradients (plain and guided) of each image's own top-1.
 * Measured: every difference 0 (the batched kernels add the same terms in the same order).
 */
describe.each(CASES)('batch of 3 = three batch-1 passes: $name', ({ skip, load, layer, preprocess }) => {
  let model: GraphModel;
  let images: Float32Array[];
  let size: [number, number];
  beforeAll(async () => {
    if (skip) return;
    const { heap } = await startBackend();
    model = await load({ heap, ops: OPS });
    size = (model.requiredInputSize as [number, number] | undefined) ?? [96, 128];
    images = await photos(size[0], size[1], preprocess);
  }, 120_000);
  afterAll(() => model?.dispose());

  test.skipIf(skip)(`logits, activations and gradients per image${skip ? ` (skipped: ${missingReason})` : ''}`, async () => {
    const before = tf.memory().numTensors;
    const [h, w] = size;
    const k = model.numClasses;
    const run = (data: Float32Array, n: number, seedOf: (logits: Float32Array) => Float32Array) => {
      const x = tf.tensor4d(data, [n, h, w, 3]) as Tensor4D;
      const pass = model.forward(x, [layer]);
      try {
        const logits = pass.logits.dataSync() as Float32Array;
        const seed = seedOf(logits);
        const plain = model.gradients(pass, { seed, layers: [layer], guided: false, toInput: true });
        const guided = model.gradients(pass, { seed, layers: [], guided: true, toInput: true });
        const out = {
          logits,
          activation: pass.activation(layer).dataSync() as Float32Array,
          gradient: plain.layers[layer]!.dataSync() as Float32Array,
          inputGradient: plain.input!.dataSync() as Float32Array,
          guided: guided.input!.dataSync() as Float32Array,
        };
        tf.dispose([plain.layers[layer]!, plain.input!, guided.input!]);
        return out;
      } finally {
        pass.dispose();
        x.dispose();
      }
    };
    const oneHots = (logits: Float32Array) => {
      const seed = new Float32Array(logits.length);
      for (let i = 0; i < logits.length / k; i++) seed[i * k + argmax(logits.subarray(i * k, (i + 1) * k))] = 1;
      return seed;
    };
    const singles = images.map((img) => run(img, 1, oneHots));
    const all = new Float32Array(images.length * images[0]!.length);
    images.forEach((img, i) => all.set(img, i * img.length));
    const batch = run(all, images.length, oneHots);
    const worst: Record<string, number> = {};
    singles.forEach((single, i) => {
      for (const key of Object.keys(single) as (keyof typeof single)[]) {
        const ref = single[key];
        const got = batch[key].subarray(i * ref.length, (i + 1) * ref.length);
        worst[key] = Math.max(worst[key] ?? 0, maxAbsDiff(got, ref) / maxAbs(ref));
      }
    });
    // Images must differ (else the test could not see a mix-up).
    expect(maxAbsDiff(singles[0]!.logits, singles[1]!.logits)).toBeGreaterThan(0.1);
    for (const [key, rel] of Object.entries(worst)) expect(rel, key).toBeLessThanOrEqual(1e-6);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);
});
