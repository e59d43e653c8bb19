import type { CamMethod } from './types.js';
import { principalProjection } from './projection.js';

/** EigenGradCAM (pytorch-grad-cam): EigenCAM on gradients x activations, max(0, first principal component of G * A). */
export const eigenGradCam: CamMethod = {
  name: 'eigengradcam',
  needsGradients: true,
  camImage: ({ activations: A, gradients: G, positions, channels }) =>
    principalProjection(A.map((a, i) => a * G[i]!), positions, channels).map((v) => Math.max(v, 0)),
};
