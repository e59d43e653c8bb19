import { expect } from 'vitest';
import { createExplainer } from '../../src/index.js';
import { readRef } from './assets.js';
import { maxAbs, maxAbsDiff, meanAbsDiff, pearson, relL2 } from './metrics.js';
import { refInput } from './reference-check.js';
import { zooManifest, zooModelPath } from './zoo.js';

/**
 * The zoo case the Chromium and workerd tests explain through the bundled package: the smallest zoo model
 * (MobileNetV2: depthwise convolutions, Clip, Add), its default layer, the top-1 class, with guided backpropagation.
 */
export const RUNTIME_CASE = { arch: 'mobilenet_v2', input: 'chelsea', layer: 'features.18', file: 'reference/zoo/models/mobilenet_v2.onnx' } as const;

export interface RuntimeResult {
  readonly logits: Float32Array;
  readonly map: Float32Array;
  readonly guided: Float32Array;
}

const ref = (what: string): Float32Array => readRef(`zoo/refs/${RUNTIME_CASE.arch}/${RUNTIME_CASE.input}_top1_${what}.npy`).data as Float32Array;

/**
 * Checks a runtime's result against pytorch-grad-cam and against Node's explanation of the same case (within
 * 1e-5; the same kernels: Chromium and workerd measured bit-identical to Node).
 * Against pytorch-grad-cam the limits are ratchets about 10x the measured error, each below the limit
 * (logits 1e-5 of max |logit|, map mean 1e-4 / max 2e-3, guided relative L2 2e-2, r >= 0.999). Measured in
 * Chromium: logits 4.5e-7, map mean 1.8e-5 / max 9.1e-5, guided 1.1e-6, 1 - r 5.6e-13.
 */
export async function checkRuntimeCase(got: RuntimeResult): Promise<void> {
  const { arch, input, layer } = RUNTIME_CASE;
  const logits = ref('logits');
  const scale = maxAbs(logits);
  expect(maxAbsDiff(got.logits, logits) / scale, 'logits vs pytorch').toBeLessThanOrEqual(5e-6);
  const target = zooManifest().models[arch].top1[input]!;
  expect(got.logits.indexOf(Math.max(...got.logits)), 'top-1 class').toBe(target);
  const cam = ref(`${layer}_cam`);
  expect(meanAbsDiff(got.map, cam), `${layer} map mean vs pytorch`).toBeLessThanOrEqual(1e-4);
  expect(maxAbsDiff(got.map, cam), `${layer} map max vs pytorch`).toBeLessThanOrEqual(1e-3);
  const guided = ref('guided');
  expect(relL2(got.guided, guided), 'guided relative L2 vs pytorch').toBeLessThanOrEqual(1.1e-5);
  expect(pearson(got.guided, guided), 'guided Pearson r vs pytorch').toBeGreaterThanOrEqual(0.999);

  const node = await createExplainer({ model: zooModelPath(arch) });
  try {
    const e = await node.explain(refInput(input), { layers: [layer], target, guided: true });
    expect(maxAbsDiff(got.logits, e.logits) / scale, 'logits vs Node').toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(got.map, e.cams[layer]!.map), `${layer} map vs Node`).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(got.guided, e.guided!) / maxAbs(e.guided!), 'guided vs Node (relative to max)').toBeLessThanOrEqual(1e-5);
  } finally {
    node.dispose();
  }
}
