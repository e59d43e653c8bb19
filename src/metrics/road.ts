import { InvalidInputError } from '../errors.js';
import type { NchwTensor } from '../image/preprocess.js';
import { metricContext, throwIfAborted, type MetricContext, type MetricOptions, type Predictor } from './context.js';
import { imputeLinear } from './imputer.js';
import { invertMap, keepMask } from './percentile.js';
import { normalGenerator } from './random.js';

/**
 * ROAD (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for Attribution Methods") as
 * pytorch-grad-cam computes it: the pixels at or above a percentile of the map (MoRF) or of 1 - map
 * (LeRF) are replaced by noisy linear imputation; the metric is score(imputed) - score(input).
 */
export interface RoadOptions extends MetricOptions {
  /** Imputation noise (standard deviation, on the normalised input); default 0.01 as pytorch-grad-cam. 0 is reproducible anywhere. */
  readonly noise?: number;
  /** Seed of the noise generator; default 0. */
  readonly seed?: number;
  /** Relative residual at which the imputation's linear solve stops; default 1e-6. */
  readonly tolerance?: number;
}

export interface RoadCombinedOptions extends RoadOptions {
  /** Default 10, 20, ..., 90. */
  readonly percentiles?: readonly number[];
  /** Called after each model pass (the unperturbed input, then one per imputed input). */
  readonly onProgress?: (progress: { readonly done: number; readonly total: number }) => void;
}

export const ROAD_PERCENTILES: readonly number[] = Object.freeze([10, 20, 30, 40, 50, 60, 70, 80, 90]);

/** ROADMostRelevantFirst: remove the pixels with map >= its percentile (default 80). */
export async function roadMostRelevantFirst(model: Predictor, input: NchwTensor, map: Float32Array, options: RoadOptions & { readonly percentile?: number } = {}): Promise<number> {
  const impute = imputer(options);
  return roadScore(await metricContext(model, input, map, options), impute, checkPercentile(options.percentile ?? 80), 'morf');
}

/** ROADLeastRelevantFirst: remove the pixels with 1 - map >= its percentile (default 20). */
export async function roadLeastRelevantFirst(model: Predictor, input: NchwTensor, map: Float32Array, options: RoadOptions & { readonly percentile?: number } = {}): Promise<number> {
  const impute = imputer(options);
  return roadScore(await metricContext(model, input, map, options), impute, checkPercentile(options.percentile ?? 20), 'lerf');
}

/** ROADCombined: (mean LeRF - mean MoRF) / 2 over the percentiles; higher is a more faithful map. */
export async function roadCombined(model: Predictor, input: NchwTensor, map: Float32Array, options: RoadCombinedOptions = {}): Promise<number> {
  const percentiles = checkPercentiles(options.percentiles ?? ROAD_PERCENTILES);
  const impute = imputer(options);
  const total = 1 + 2 * percentiles.length;
  const ctx = await metricContext(model, input, map, options);
  options.onProgress?.({ done: 1, total });
  const curves = await roadCurves(ctx, impute, percentiles, (done) => options.onProgress?.({ done: 1 + done, total }));
  return combine(curves);
}

export type Impute = (ctx: MetricContext, keep: Uint8Array) => Float32Array;

/** One imputation function per metric call, so a seed gives the same noise sequence each call. */
export function imputer(options: RoadOptions): Impute {
  const { noise = 0.01, seed = 0, tolerance = 1e-6 } = options;
  if (typeof noise !== 'number' || !Number.isFinite(noise) || noise < 0) throw new InvalidInputError(`noise must be a finite number >= 0, got ${String(noise)}`);
  if (!Number.isSafeInteger(seed)) throw new InvalidInputError(`seed must be an integer, got ${String(seed)}`);
  if (typeof tolerance !== 'number' || !(tolerance > 0 && tolerance < 1)) throw new InvalidInputError(`tolerance must be in (0, 1), got ${String(tolerance)}`);
  const random = normalGenerator(seed);
  return (ctx, keep) => {
    const { data, channels, height, width } = ctx.image;
    return imputeLinear(data, [channels, height, width], keep, { noise, random, tolerance });
  };
}

export async function roadScore(ctx: MetricContext, impute: Impute, percentile: number, order: 'morf' | 'lerf'): Promise<number> {
  throwIfAborted(ctx.signal);
  const keep = keepMask(order === 'morf' ? ctx.map : invertMap(ctx.map), percentile);
  return Math.fround((await ctx.score(impute(ctx, keep))) - ctx.baseline);
}

/** MoRF and LeRF scores at each of `percentiles`, in that order. */
export interface RoadCurves {
  readonly percentiles: readonly number[];
  readonly morf: readonly number[];
  readonly lerf: readonly number[];
}

/** LeRF then MoRF at every percentile (pytorch-grad-cam's order), reporting each pass. */
export async function roadCurves(ctx: MetricContext, impute: Impute, percentiles: readonly number[], progress: (done: number) => void): Promise<RoadCurves> {
  const lerf: number[] = [];
  const morf: number[] = [];
  for (const [curve, order] of [[lerf, 'lerf'], [morf, 'morf']] as const) {
    for (const p of percentiles) {
      curve.push(await roadScore(ctx, impute, p, order));
      progress(lerf.length + morf.length);
    }
  }
  return { percentiles, morf, lerf };
}

export function combine(curves: RoadCurves): number {
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  return (mean(curves.lerf) - mean(curves.morf)) / 2;
}

export function checkPercentile(p: number): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 100)) throw new InvalidInputError(`percentile must be a number from 0 to 100, got ${String(p)}`);
  return p;
}

export function checkPercentiles(ps: readonly number[]): readonly number[] {
  if (!Array.isArray(ps) || ps.length === 0) throw new InvalidInputError('percentiles must be a non-empty array');
  return ps.map(checkPercentile);
}
