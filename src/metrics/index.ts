/**
 * Faithfulness metrics of a map (`gradcam-wasm/metrics`), as pytorch-grad-cam defines them: the
 * confidence change when the input is multiplied by the map, and ROAD (remove and debias) with noisy
 * linear imputation. Each takes a model with predict() (an Explainer), the normalised input tensor and
 * the normalised map.
 */
export { camMultImageConfidenceChange, dropInConfidence, increaseInConfidence } from './confidence.js';
export { roadMostRelevantFirst, roadLeastRelevantFirst, roadCombined, ROAD_PERCENTILES, type RoadOptions, type RoadCombinedOptions } from './road.js';
export { evaluateMap, type EvaluateOptions, type MapMetrics } from './evaluate.js';
export type { MetricOptions, Predictor } from './context.js';
export type { ScoreKind } from './score.js';
export { imputeLinear, type ImputeOptions } from './imputer.js';
export { normalGenerator, type NormalGenerator } from './random.js';
export { pixelsToTensor } from './input.js';
