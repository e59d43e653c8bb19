import type { CamMethod } from './types.js';

/**
 * Grad-CAM++ (Chattopadhay et al. 2018, https://arxiv.org/abs/1710.11063), with the exponential
 * score's closed form as pytorch-grad-cam uses it:
 * alpha = G^2 / (2 G^2 + sum_hw(A) G^3 + 1e-6) (0 where G = 0), w_c = sum_hw relu(G) * alpha.
 */
export const gradCamPlusPlus: CamMethod = {
  name: 'gradcam++',
  needsGradients: true,
  channelWeights({ activations: A, gradients: G, positions, channels }) {
    const sumA = new Float32Array(channels);
    for (let p = 0; p < positions; p++) for (let c = 0; c < channels; c++) sumA[c]! += A[p * channels + c]!;
    const weights = new Float32Array(channels);
    for (let p = 0; p < positions; p++) {
      for (let c = 0; c < channels; c++) {
        const g = G[p * channels + c]!;
        if (g === 0) continue;
        const g2 = Math.fround(g * g);
        const alpha = g2 / Math.fround(2 * g2 + sumA[c]! * Math.fround(g2 * g) + 1e-6);
        weights[c]! += Math.max(g, 0) * alpha;
      }
    }
    return weights;
  },
};
