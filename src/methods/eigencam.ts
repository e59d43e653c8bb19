import type { CamMethod } from './types.js';

const ITERATIONS = 500;

/**
 * EigenCAM (Muhammad & Yeasin 2020, https://arxiv.org/abs/2008.00299): the activations' first principal
 * component, with no gradient (so no target). M = A - channel means, p = M v1 with v1 the top right
 * singular vector, found by power iteration on M^T M in float64.
 * The sign of a singular vector is arbitrary; we pick the one whose projection has the larger
 * positive mass, which keeps the object rather than its complement.
 */
export const eigenCam: CamMethod = {
  name: 'eigencam',
  needsGradients: false,
  camImage: ({ activations, positions, channels }) => eigenProjection(activations, positions, channels).map((v) => Math.max(v, 0)),
};

/** The signed projection of the centred activations on their first principal direction. */
export function eigenProjection(A: Float32Array, P: number, C: number): Float32Array {
  const M = new Float64Array(P * C);
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let p = 0; p < P; p++) mean += A[p * C + c]!;
    mean /= P;
    for (let p = 0; p < P; p++) M[p * C + c] = A[p * C + c]! - mean;
  }
  // Power iteration on M^T M without forming it: v <- M^T (M v).
  let v = new Float64Array(C).fill(1 / Math.sqrt(C));
  const proj = new Float64Array(P);
  for (let it = 0; it < ITERATIONS; it++) {
    for (let p = 0; p < P; p++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += M[p * C + c]! * v[c]!;
      proj[p] = s;
    }
    const next = new Float64Array(C);
    for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) next[c]! += M[p * C + c]! * proj[p]!;
    const norm = Math.hypot(...next);
    if (norm === 0) break;
    let delta = 0;
    for (let c = 0; c < C; c++) {
      next[c]! /= norm;
      delta = Math.max(delta, Math.abs(next[c]! - v[c]!));
    }
    v = next;
    if (delta < 1e-12) break;
  }
  const out = new Float32Array(P);
  let positive = 0;
  let negative = 0;
  for (let p = 0; p < P; p++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += M[p * C + c]! * v[c]!;
    out[p] = s;
    if (s > 0) positive += s;
    else negative -= s;
  }
  return positive >= negative ? out : out.map((s) => -s);
}

