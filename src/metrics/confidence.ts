import type { NchwTensor } from '../image/preprocess.js';
import { metricContext, type MetricContext, type MetricOptions, type Predictor } from './context.js';

/**
 * pytorch-grad-cam's CamMultImageConfidenceChange: score(input x map) - score(input), the map
 * multiplying every channel of the normalised input.
 */
export async function camMultImageConfidenceChange(model: Predictor, input: NchwTensor, map: Float32Array, options?: MetricOptions): Promise<number> {
  return confidenceChange(await metricContext(model, input, map, options));
}

/** DropInConfidence: max(0, -change). */
export async function dropInConfidence(model: Predictor, input: NchwTensor, map: Float32Array, options?: MetricOptions): Promise<number> {
  return dropOf(await camMultImageConfidenceChange(model, input, map, options));
}

/** IncreaseInConfidence: 1 if the change is > 0, else 0. */
export async function increaseInConfidence(model: Predictor, input: NchwTensor, map: Float32Array, options?: MetricOptions): Promise<number> {
  return increaseOf(await camMultImageConfidenceChange(model, input, map, options));
}

export const dropOf = (change: number): number => Math.max(0, -change);
export const increaseOf = (change: number): number => (change > 0 ? 1 : 0);

export async function confidenceChange(ctx: MetricContext): Promise<number> {
  const { data, channels, height, width } = ctx.image;
  const plane = height * width;
  const product = new Float32Array(data.length);
  for (let c = 0; c < channels; c++) for (let i = 0; i < plane; i++) product[c * plane + i] = data[c * plane + i]! * ctx.map[i]!;
  return Math.fround((await ctx.score(product)) - ctx.baseline);
}
