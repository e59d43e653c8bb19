import type { Kernels } from '../kernels/types.js';
import type { CamMethod, LayerArrays, RerunContext } from './types.js';
import { principalProjection } from './projection.js';

/**
 * The raw (unscaled) map of a method at one layer: max(0, sum over channels of its terms), or with
 * eigenSmooth max(0, their first principal component), as pytorch-grad-cam's get_cam_image does.
 * Methods with their own camImage (EigenCAM, KPCA-CAM, ...) ignore eigenSmooth, as there.
 */
export async function rawCam(method: CamMethod, layer: LayerArrays, kernels: Kernels, rerun: RerunContext, eigenSmooth: boolean): Promise<Float32Array> {
  const { activations: A, positions: P, channels: C } = layer;
  const relu = (x: Float32Array) => x.map((v) => Math.max(v, 0));
  if (method.terms && (eigenSmooth || !method.camImage)) {
    const terms = method.terms(layer);
    return eigenSmooth ? relu(principalProjection(terms, P, C)) : kernels.weightedSumRelu(terms, new Float32Array(C).fill(1), P, C);
  }
  if (method.camImage) return method.camImage(layer, kernels);
  const weights = await method.channelWeights!(layer, kernels, rerun);
  if (!eigenSmooth) return kernels.weightedSumRelu(A, weights, P, C);
  return relu(principalProjection(A.map((a, i) => weights[i % C]! * a), P, C));
}
