import { InvalidInputError } from '../errors.js';
import type { NormalGenerator } from './random.js';

/**
 * ROAD's noisy linear imputation (pytorch-grad-cam's NoisyLinearImputer): every removed pixel becomes
 * the weighted mean of its 8 neighbours (1/6 for the direct ones, 1/12 for the diagonals; neighbours
 * outside the image are left out of the sum and of the weights), kept pixels entering as known values.
 * That is one sparse linear system over the removed pixels, solved per channel; then noise x N(0, 1) is
 * added to the imputed values.
 *
 * The system matrix is symmetric (opposite offsets have equal weights) and, with its sign flipped,
 * positive definite whenever some pixel is kept, so conjugate gradients solve it; the three channels
 * share one pass over the matrix.
 */

export interface ImputeOptions {
  /** Standard deviation of the noise added to imputed values; default 0.01 (pytorch-grad-cam's default). */
  readonly noise?: number;
  /** Source of the noise; needed when noise > 0. */
  readonly random?: NormalGenerator;
  /** Stop when ||Ax - b|| / ||b|| <= tolerance in every channel; default 1e-6. */
  readonly tolerance?: number;
}

/** The 8 neighbours as [dy, dx, weight]: pytorch-grad-cam's neighbors_weights. */
const NEIGHBOURS: readonly (readonly [number, number, number])[] = [
  [1, 1, 1 / 12],
  [0, 1, 1 / 6],
  [-1, 1, 1 / 12],
  [1, -1, 1 / 12],
  [0, -1, 1 / 6],
  [-1, -1, 1 / 12],
  [1, 0, 1 / 6],
  [-1, 0, 1 / 6],
];

/** The system over the removed pixels: M x = rhs with M = diag - offdiagonal weights (the negated A of pytorch-grad-cam). */
export interface ImputationSystem {
  /** Pixel index (y * width + x) of each unknown. */
  readonly pixels: Int32Array;
  readonly diagonal: Float64Array;
  /** For unknown k, neighbours[8k + d]: the unknown index of neighbour d, or -1 (kept or outside). */
  readonly neighbours: Int32Array;
  readonly weights: Float64Array;
  /** Right-hand sides, channel-interleaved: rhs[k * channels + c] = sum of weight x value over kept neighbours. */
  readonly rhs: Float64Array;
  readonly channels: number;
}

/** Builds the system for a CHW float32 image and a keep mask (1 kept, 0 removed). */
export function imputationSystem(image: Float32Array, channels: number, height: number, width: number, keep: Uint8Array): ImputationSystem {
  const plane = height * width;
  const unknownOf = new Int32Array(plane).fill(-1);
  let count = 0;
  for (let i = 0; i < plane; i++) if (!keep[i]) unknownOf[i] = count++;
  const pixels = new Int32Array(count);
  const diagonal = new Float64Array(count);
  const neighbours = new Int32Array(count * 8).fill(-1);
  const rhs = new Float64Array(count * channels);
  const weights = Float64Array.from(NEIGHBOURS, ([, , w]) => w);
  for (let i = 0, k = 0; i < plane; i++) {
    if (keep[i]) continue;
    pixels[k] = i;
    const y = Math.floor(i / width);
    const x = i - y * width;
    let sum = 0;
    for (let d = 0; d < 8; d++) {
      const [dy, dx, w] = NEIGHBOURS[d]!;
      const ny = y + dy;
      const nx = x + dx;
      if (ny < 0 || nx < 0 || ny >= height || nx >= width) continue;
      sum += w;
      const j = ny * width + nx;
      if (keep[j]) for (let c = 0; c < channels; c++) rhs[k * channels + c]! += w * image[c * plane + j]!;
      else neighbours[k * 8 + d] = unknownOf[j]!;
    }
    diagonal[k] = sum;
    k++;
  }
  return { pixels, diagonal, neighbours, weights, rhs, channels };
}

/** out = M v (channel-interleaved vectors). */
export function multiply(s: ImputationSystem, v: Float64Array, out: Float64Array): void {
  const { diagonal, neighbours, weights, channels: C } = s;
  const n = diagonal.length;
  for (let k = 0; k < n; k++) {
    const dk = diagonal[k]!;
    for (let c = 0; c < C; c++) out[k * C + c] = dk * v[k * C + c]!;
    for (let d = 0; d < 8; d++) {
      const j = neighbours[k * 8 + d]!;
      if (j < 0) continue;
      const w = weights[d]!;
      for (let c = 0; c < C; c++) out[k * C + c]! -= w * v[j * C + c]!;
    }
  }
}

/**
 * Conjugate gradients on M x = rhs, each channel with its own step sizes, until every channel's
 * ||rhs - M x|| <= tolerance * ||rhs||. A channel whose rhs is 0 (no pixel kept) stays 0, the
 * minimum-norm solution of that singular system. Returns the solution and the iteration count.
 */
export function solve(s: ImputationSystem, tolerance: number): { x: Float64Array; iterations: number } {
  const C = s.channels;
  const len = s.rhs.length;
  const x = new Float64Array(len);
  const r = Float64Array.from(s.rhs);
  const p = Float64Array.from(s.rhs);
  const q = new Float64Array(len);
  const rr = channelDots(r, r, C);
  const limit = rr.map((v) => v * tolerance * tolerance);
  const active = rr.map((v, c) => (v > limit[c]! ? 1 : 0));
  const alpha = new Float64Array(C);
  const beta = new Float64Array(C);
  let iterations = 0;
  // Enough for any grid these systems come from; reaching it means the system is not positive definite.
  const maxIterations = 20 * Math.sqrt(len / C) + 1000;
  while (active.some((a) => a) && iterations < maxIterations) {
    multiply(s, p, q);
    const pq = channelDots(p, q, C);
    for (let c = 0; c < C; c++) alpha[c] = active[c] ? rr[c]! / pq[c]! : 0;
    for (let i = 0; i < len; i += C) {
      for (let c = 0; c < C; c++) {
        x[i + c]! += alpha[c]! * p[i + c]!;
        r[i + c]! -= alpha[c]! * q[i + c]!;
      }
    }
    const next = channelDots(r, r, C);
    for (let c = 0; c < C; c++) {
      if (!active[c]) continue;
      beta[c] = next[c]! / rr[c]!;
      rr[c] = next[c]!;
      if (next[c]! <= limit[c]!) active[c] = 0;
    }
    for (let i = 0; i < len; i += C) for (let c = 0; c < C; c++) p[i + c] = r[i + c]! + beta[c]! * p[i + c]!;
    iterations++;
  }
  return { x, iterations };
}

function channelDots(a: Float64Array, b: Float64Array, C: number): Float64Array {
  const out = new Float64Array(C);
  for (let i = 0; i < a.length; i += C) for (let c = 0; c < C; c++) out[c]! += a[i + c]! * b[i + c]!;
  return out;
}

/**
 * The imputed image: a copy of `image` (CHW float32) whose removed pixels (keep[i] = 0) hold the
 * solution of the system, rounded to float32, plus noise x N(0, 1).
 */
export function imputeLinear(image: Float32Array, shape: readonly [number, number, number], keep: Uint8Array, options: ImputeOptions = {}): Float32Array {
  const [channels, height, width] = shape;
  const { noise = 0.01, random, tolerance = 1e-6 } = options;
  if (image.length !== channels * height * width) throw new InvalidInputError(`image has ${image.length} values, not ${channels}x${height}x${width}`);
  if (keep.length !== height * width) throw new InvalidInputError(`mask has ${keep.length} values, not ${height}x${width}`);
  if (!(noise >= 0) || !Number.isFinite(noise)) throw new InvalidInputError(`noise must be a finite number >= 0, got ${noise}`);
  if (noise > 0 && !random) throw new InvalidInputError('noise > 0 needs a random generator');
  const system = imputationSystem(image, channels, height, width, keep);
  const { x } = solve(system, tolerance);
  const out = Float32Array.from(image);
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    for (let k = 0; k < system.pixels.length; k++) {
      const value = Math.fround(x[k * channels + c]!);
      out[c * plane + system.pixels[k]!] = noise > 0 ? Math.fround(value + Math.fround(noise * random!.next())) : value;
    }
  }
  return out;
}
