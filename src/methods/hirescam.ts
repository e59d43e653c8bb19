import type { CamMethod } from './types.js';

/** HiResCAM (Draelos & Carin 2020, https://arxiv.org/abs/2011.08891): max(0, sum_c G_c * A_c), no spatial mean. */
export const hiResCam: CamMethod = {
  name: 'hirescam',
  needsGradients: true,
  camImage: ({ activations, gradients, positions, channels }, kernels) =>
    kernels.elementwiseSumRelu(activations, gradients, positions, channels),
  terms: ({ activations: A, gradients: G }) => A.map((a, i) => a * G[i]!),
};
