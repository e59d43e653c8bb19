import type { NchwTensor } from '../image/preprocess.js';
import { confidenceChange, dropOf, increaseOf } from './confidence.js';
import { metricContext, type Predictor } from './context.js';
import { checkPercentile, checkPercentiles, combine, imputer, ROAD_PERCENTILES, roadCurves, roadScore, type RoadCombinedOptions } from './road.js';

/** Every metric of one map: the numbers `gradcam evaluate` prints. */
export interface MapMetrics {
  /** score(input x map) - score(input). */
  readonly confidenceChange: number;
  /** max(0, -confidenceChange). */
  readonly dropInConfidence: number;
  /** 1 if confidenceChange > 0, else 0. */
  readonly increaseInConfidence: number;
  /** ROAD MoRF at `morfPercentile`. */
  readonly roadMorf: number;
  /** ROAD LeRF at `lerfPercentile`. */
  readonly roadLerf: number;
  /** ROADCombined over `percentiles`. */
  readonly roadCombined: number;
}

export interface EvaluateOptions extends RoadCombinedOptions {
  /** Default 80. */
  readonly morfPercentile?: number;
  /** Default 20. */
  readonly lerfPercentile?: number;
}

/**
 * All the metrics of one map with one pass of the unperturbed input; MoRF and LeRF reuse
 * ROADCombined's passes when their percentile is one of its percentiles.
 */
export async function evaluateMap(model: Predictor, input: NchwTensor, map: Float32Array, options: EvaluateOptions = {}): Promise<MapMetrics> {
  const percentiles = checkPercentiles(options.percentiles ?? ROAD_PERCENTILES);
  const morfAt = checkPercentile(options.morfPercentile ?? 80);
  const lerfAt = checkPercentile(options.lerfPercentile ?? 20);
  const impute = imputer(options);
  const extraMorf = !percentiles.includes(morfAt);
  const extraLerf = !percentiles.includes(lerfAt);
  const total = 2 + 2 * percentiles.length + Number(extraMorf) + Number(extraLerf);
  let done = 0;
  const step = () => options.onProgress?.({ done: ++done, total });

  const ctx = await metricContext(model, input, map, options);
  step();
  const change = await confidenceChange(ctx);
  step();
  const curves = await roadCurves(ctx, impute, percentiles, step);
  const at = (curve: readonly number[], p: number) => curve[percentiles.indexOf(p)]!;
  const roadMorf = extraMorf ? await roadScore(ctx, impute, morfAt, 'morf') : at(curves.morf, morfAt);
  if (extraMorf) step();
  const roadLerf = extraLerf ? await roadScore(ctx, impute, lerfAt, 'lerf') : at(curves.lerf, lerfAt);
  if (extraLerf) step();
  return {
    confidenceChange: change,
    dropInConfidence: dropOf(change),
    increaseInConfidence: increaseOf(change),
    roadMorf,
    roadLerf,
    roadCombined: combine(curves),
  };
}
