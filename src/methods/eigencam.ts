import type { CamMethod } from './types.js';
import { principalProjection } from './projection.js';

/**
 * EigenCAM (Muhammad & Yeasin 2020, https://arxiv.org/abs/2008.00299): the activations' first principal
 * component, with no gradient (so no target): max(0, (A - channel means) v1), v1 the top right singular
 * vector, signed as principalProjection explains.
 */
export const eigenCam: CamMethod = {
  name: 'eigencam',
  needsGradients: false,
  camImage: ({ activations, positions, channels }) => principalProjection(activations, positions, channels).map((v) => Math.max(v, 0)),
};
