import type { CamMethod } from './types.js';

/** GradCAMElementWise (pytorch-grad-cam): max(0, sum_c max(0, G_c * A_c)). */
export const gradCamElementWise: CamMethod = {
  name: 'gradcamelementwise',
  needsGradients: true,
  terms: ({ activations: A, gradients: G }) => A.map((a, i) => Math.max(a * G[i]!, 0)),
};
