import type { CamMethod } from './types.js';
import { GradcamError } from '../errors.js';
import { centredColumns, topEigenvector } from './projection.js';

/** Kernel matrices beyond this many positions (P x P float64) are refused. */
const MAX_POSITIONS = 1024;

/**
 * KPCA-CAM (pytorch-grad-cam's KPCA_CAM): scikit-learn's KernelPCA with one component on the centred
 * activations X [P, C], sigmoid kernel K = tanh(X X^T / C + 1) (gamma = 1/C, coef0 = 1), centred in
 * feature space; the map is max(0, the top eigenvector of the centred K), signed as scikit-learn does
 * (svd_flip: its largest-magnitude entry is positive). Its sqrt(eigenvalue) scale goes in normalisation.
 */
export const kpcaCam: CamMethod = {
  name: 'kpcacam',
  needsGradients: false,
  camImage({ activations: A, positions: P, channels: C }) {
    if (P > MAX_POSITIONS) throw new GradcamError('UNSUPPORTED', `kpcacam needs a ${P} x ${P} kernel matrix at this layer; use an input or layer with at most ${MAX_POSITIONS} positions`);
    const X = centredColumns(A, P, C);
    const Kc = new Float64Array(P * P);
    for (let i = 0; i < P; i++) {
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let c = 0; c < C; c++) dot += X[i * C + c]! * X[j * C + c]!;
        Kc[i * P + j] = Kc[j * P + i] = Math.tanh(dot / C + 1);
      }
    }
    centreKernel(Kc, P);
    const v = topEigenvector(Kc, P);
    let largest = 0;
    for (let i = 1; i < P; i++) if (Math.abs(v[i]!) > Math.abs(v[largest]!)) largest = i;
    const sign = v[largest]! < 0 ? -1 : 1;
    return Float32Array.from(v, (x) => Math.max(sign * x, 0));
  },
};

/** scikit-learn's KernelCenterer: K - row means - column means + grand mean. */
function centreKernel(K: Float64Array, P: number): void {
  const rowMean = new Float64Array(P);
  for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) rowMean[i]! += K[i * P + j]! / P;
  const all = rowMean.reduce((s, m) => s + m, 0) / P;
  for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) K[i * P + j]! += all - rowMean[i]! - rowMean[j]!;
}
