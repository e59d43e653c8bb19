import type { Kernels } from '../kernels/types.js';

/** One target layer's float32 arrays, NHWC flattened to [positions, channels]. */
export interface LayerArrays {
  readonly activations: Float32Array;
  /** d(score)/d(activations); empty for methods that need no gradient. */
  readonly gradients: Float32Array;
  readonly positions: number;
  readonly channels: number;
}

/**
 * A CAM method, split as pytorch-grad-cam's BaseCAM does: most methods only say how to weight the
 * channels; element-wise methods override the whole map instead. The engine applies ReLU, scaling,
 * resizing and layer aggregation the same way for all.
 */
export interface CamMethod {
  readonly name: string;
  readonly needsGradients: boolean;
  /** Channel weights w_c; the map is then max(0, sum_c w_c A_c). */
  channelWeights?(layer: LayerArrays, kernels: Kernels): Float32Array;
  /** The raw map max(0, ...) at the layer's resolution, for methods without channel weights. */
  camImage?(layer: LayerArrays, kernels: Kernels): Float32Array;
}

/** The raw (unscaled) map of a method at one layer. */
export function rawCam(method: CamMethod, layer: LayerArrays, kernels: Kernels): Float32Array {
  if (method.camImage) return method.camImage(layer, kernels);
  const weights = method.channelWeights!(layer, kernels);
  return kernels.weightedSumRelu(layer.activations, weights, layer.positions, layer.channels);
}
