import type { CamMethod } from './types.js';

const K = 2;

/**
 * FEM (Fuad et al. 2020, https://hal.science/hal-02963298/document): w_c is the fraction of positions
 * where A_c exceeds mean_c + k std_c (k = 2, population std), no gradient.
 */
export const fem: CamMethod = {
  name: 'fem',
  needsGradients: false,
  channelWeights({ activations: A, positions: P, channels: C }) {
    const mean = new Float64Array(C);
    const sq = new Float64Array(C);
    for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) mean[c]! += A[p * C + c]!;
    mean.forEach((s, c) => (mean[c] = s / P));
    for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) sq[c]! += (A[p * C + c]! - mean[c]!) ** 2;
    const threshold = new Float32Array(C).map((_, c) => mean[c]! + K * Math.sqrt(sq[c]! / P));
    const weights = new Float32Array(C);
    for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) if (A[p * C + c]! > threshold[c]!) weights[c]! += 1;
    return weights.map((n) => n / P);
  },
};
