import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { tf, type Tensor4D } from '../../src/tf.js';
import { loadKernels, runningBackend, startBackend } from '../../src/runtime/index.js';
import { parseSafetensors } from '../../src/weights/safetensors.js';
import { resnetModel } from '../../src/models/resnet34.js';
import { KerasCnn } from '../../src/models/keras/model.js';
import { loadKerasArtifacts } from '../../src/models/keras/loader.js';
import { OPS } from '../../src/ops/registry.js';
import { explainTensor } from '../../src/explain/pipeline.js';
import { CAM_METHODS } from '../../src/methods/index.js';
import { Work } from '../../src/work.js';
import { callBytes } from '../../src/engine/memory-budget.js';
import type { GraphModel } from '../../src/graph/model.js';
import type { Kernels } from '../../src/kernels/types.js';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';
import { randomResnet34Weights } from '../helpers/random-weights.js';

// The budget's static estimate (src/graph/memory.ts) against the tensor memory a guided Grad-CAM call
// really holds at its peak (tf.profile: live tensor bytes after every kernel). It must not be below it (the
// budget would admit calls that do not fit), nor far above (maxInputPixels would be needlessly small).
// Measured: ResNet34 1.23-1.26x at 288x288 (1.18x once heap kernels' outputs count: the stem's
// input gradient's im2col columns), MobileNet 1.06x at 320x320. bench/memory-estimate.js checks
// the wasm heap's growth at 512x512 (ResNet34) and 1536x1536 (MobileNet).

let kernels: Kernels;
beforeAll(async () => {
  await startBackend();
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false); // tf.profile would read every kernel's output
  kernels = await loadKernels();
});

async function ratio(model: GraphModel, side: number, layers: readonly string[]): Promise<number> {
  const estimate = model.callMemory({ layers, passes: [{ layers, toInput: false }, { layers: [], toInput: true }] });
  const x = tf.tensor4d(Float32Array.from({ length: 3 * side * side }, (_, i) => Math.sin(i * 0.37)), [1, side, side, 3]) as Tensor4D;
  const before = tf.memory().numBytes;
  const options = { layers, method: CAM_METHODS.gradcam, targets: [[{ class: undefined, score: 'logit' as const }]], guided: true, eigenSmooth: false, augSmooth: false };
  // tf.profile snapshots after tfjs kernels only; our heap kernels' outputs (im2col columns...) can live and
  // die between two of them, so every heap output is a snapshot too.
  const heap = runningBackend().heap;
  const output = heap.output;
  let heapPeak = 0;
  heap.output = (shape) => {
    const t = output.call(heap, shape);
    heapPeak = Math.max(heapPeak, tf.memory().numBytes - before);
    return t;
  };
  let profile: Awaited<ReturnType<typeof tf.profile>>;
  try {
    profile = await tf.profile(async () => {
      await explainTensor(model, kernels, x, options, new Work({}));
      return [];
    });
  } finally {
    heap.output = output;
  }
  x.dispose();
  const peak = Math.max(heapPeak, ...profile.kernels.map((k) => k.totalBytesSnapshot - before));
  return callBytes(estimate, side * side) / peak;
}

describe('the static memory estimate covers the measured peak', () => {
  let resnet: GraphModel;
  beforeAll(() => {
    resnet = resnetModel(parseSafetensors(randomResnet34Weights()), 'weights', { heap: runningBackend().heap, ops: OPS });
  });
  afterAll(() => resnet?.dispose());

  test.each([[['layer4']], [['layer1', 'layer2', 'layer3', 'layer4']]])('ResNet34 at 288x288, layers %j', async (layers) => {
    const r = await ratio(resnet, 288, layers);
    expect(r).toBeGreaterThanOrEqual(1);
    expect(r).toBeLessThan(1.3);
  });

  test.skipIf(!hasMobilenet)(`MobileNet at 320x320${hasMobilenet ? '' : ` (${missingReason})`}`, async () => {
    const mobilenet = new KerasCnn(await loadKerasArtifacts(join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json')), { heap: runningBackend().heap, ops: OPS });
    try {
      const r = await ratio(mobilenet, 320, ['conv_pw_5_relu', 'conv_pw_13_relu']);
      expect(r).toBeGreaterThanOrEqual(1);
      expect(r).toBeLessThan(1.3);
    } finally {
      mobilenet.dispose();
    }
  });
});
