import type { CamMethod } from './types.js';

/** LayerCAM (Jiang et al. 2021): max(0, sum_c relu(G_c) * A_c), positive gradients as per-position weights. */
export const layerCam: CamMethod = {
  name: 'layercam',
  needsGradients: true,
  camImage: ({ activations, gradients, positions, channels }, kernels) =>
    kernels.elementwiseSumRelu(activations, gradients.map((g) => Math.max(g, 0)), positions, channels),
  terms: ({ activations: A, gradients: G }) => A.map((a, i) => Math.max(G[i]!, 0) * a),
};
