import type { CamMethod } from './types.js';

/** XGrad-CAM (Fu et al. 2020, https://arxiv.org/abs/2008.02312): w_c = sum_hw(G * A) / (sum_hw(A) + 1e-7). */
export const xGradCam: CamMethod = {
  name: 'xgradcam',
  needsGradients: true,
  channelWeights({ activations: A, gradients: G, positions, channels }) {
    const num = new Float32Array(channels);
    const den = new Float32Array(channels);
    for (let p = 0; p < positions; p++) {
      for (let c = 0; c < channels; c++) {
        num[c]! += G[p * channels + c]! * A[p * channels + c]!;
        den[c]! += A[p * channels + c]!;
      }
    }
    return num.map((n, c) => n / (den[c]! + 1e-7));
  },
};
