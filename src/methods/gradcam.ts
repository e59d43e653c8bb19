import type { CamMethod } from './types.js';

/** Grad-CAM (Selvaraju et al. 2017): each channel weighted by the spatial mean of its gradient. */
export const gradCam: CamMethod = {
  name: 'gradcam',
  needsGradients: true,
  channelWeights: ({ gradients, positions, channels }, kernels) => kernels.channelMean(gradients, positions, channels),
};
