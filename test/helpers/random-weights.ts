import { encodeSafetensors, type FloatDtype } from '../../src/weights/safetensors.js';
import { resnetKeys } from '../../src/importers/torchvision-resnet.js';

/** Deterministic PRNG (mulberry32), so generated fixtures are the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randomArray = (n: number, seed: number, scale = 1): Float32Array => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
};

export type TensorMap = Record<string, { dtype: FloatDtype | 'I64'; shape: number[]; data: Uint8Array }>;

/** A ResNet34 state dict with random weights of sane scale (He init, BN near identity). */
export function randomResnet34Tensors(seed = 1): TensorMap {
  const tensors: TensorMap = {};
  let s = seed;
  for (const [key, shape] of resnetKeys(34)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length === 4 ? shape[1]! * shape[2]! * shape[3]! : shape.at(-1)!;
    let data: Float32Array;
    if (key.endsWith('running_var') || (key.endsWith('.weight') && shape.length === 1)) data = randomArray(n, s++, 0.2).map((v) => v + 1);
    else if (shape.length === 1) data = randomArray(n, s++, 0.1);
    else data = randomArray(n, s++, Math.sqrt(6 / fanIn));
    tensors[key] = { dtype: 'F32', shape, data: new Uint8Array(data.buffer) };
  }
  return tensors;
}

export const encode = (t: TensorMap): Uint8Array => encodeSafetensors(t);

let cached: Uint8Array | undefined;
export const randomResnet34Weights = (): Uint8Array => (cached ??= encode(randomResnet34Tensors()));
