import { expect } from 'vitest';
import { readRef } from './assets.js';
import { argmax, maxAbs, maxAbsDiff, meanAbsDiff, pearson, relL2, timesMap } from './metrics.js';

export const REF_INPUTS = [
  { name: 'chelsea', top1: 494 },
  { name: 'astronaut', top1: 883 },
  { name: 'chelsea-native', top1: 494 },
] as const;
export const REF_TARGETS = ['top1', 'c281'] as const;
export type RefTarget = (typeof REF_TARGETS)[number];
export const ALL_LAYERS = ['layer1', 'layer2', 'layer3', 'layer4'];

export const f32 = (rel: string): Float32Array => readRef(rel).data as Float32Array;

export function refInput(name: string): { tensor: Float32Array; shape: readonly number[] } {
  const npy = readRef(`inputs/${name}.input.npy`);
  return { tensor: npy.data as Float32Array, shape: npy.shape };
}

/** What an engine run produced, however it was obtained (API object or CLI .npy files). */
export interface Produced {
  readonly logits: ArrayLike<number>;
  readonly map: (layer: string) => ArrayLike<number>;
  readonly raw: (layer: string) => { data: ArrayLike<number>; shape: readonly number[] };
  readonly guided?: ArrayLike<number>;
  readonly guidedGradCam?: (layer: string) => ArrayLike<number>;
}

/** The binding limits against refs/<input>/ for one target. */
export function checkLogits(input: (typeof REF_INPUTS)[number], logits: ArrayLike<number>): void {
  const ref = f32(`refs/${input.name}/logits.npy`);
  expect(maxAbsDiff(logits, ref)).toBeLessThanOrEqual(1e-5 * maxAbs(ref));
  expect(argmax(logits)).toBe(input.top1);
}

export function checkLayer(input: string, t: RefTarget, layer: string, p: Produced): void {
  const dir = `refs/${input}`;
  const map = f32(`${dir}/gradcam_${layer}_${t}.npy`);
  const ours = p.map(layer);
  expect(ours.length).toBe(map.length);
  expect(maxAbsDiff(ours, map), `${layer} map max`).toBeLessThanOrEqual(2e-3);
  expect(meanAbsDiff(ours, map), `${layer} map mean`).toBeLessThanOrEqual(1e-4);
  const raw = readRef(`${dir}/gradcam_${layer}_${t}_raw.npy`);
  const r = p.raw(layer);
  expect(r.shape).toEqual(raw.shape);
  expect(relL2(r.data, raw.data), `${layer} raw`).toBeLessThanOrEqual(layer === 'layer4' ? 1e-4 : 2e-3);
  if (p.guidedGradCam) {
    // Stored for layer4; for the others it is exactly the product of the stored map and gradient.
    const ref = layer === 'layer4' ? f32(`${dir}/guided_gradcam_layer4_${t}.npy`) : timesMap(f32(`${dir}/gb_${t}.npy`), map);
    const g = p.guidedGradCam(layer);
    expect(relL2(g, ref), `${layer} guided grad-cam relL2`).toBeLessThanOrEqual(2e-2);
    expect(pearson(g, ref), `${layer} guided grad-cam r`).toBeGreaterThanOrEqual(0.999);
  }
}

export function checkGuided(input: string, t: RefTarget, guided: ArrayLike<number>): void {
  const ref = f32(`refs/${input}/gb_${t}.npy`);
  expect(relL2(guided, ref)).toBeLessThanOrEqual(2e-2);
  expect(pearson(guided, ref)).toBeGreaterThanOrEqual(0.999);
}
