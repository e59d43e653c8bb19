import { AbortError, InvalidInputError, TargetOutOfRangeError } from '../errors.js';
import type { ModelInput, NchwTensor } from '../image/preprocess.js';
import { checkInputAndMap, type ChwImage } from './input.js';
import { scoreOf, type ScoreKind } from './score.js';

/** Anything that gives the logits of one input: an Explainer, or a pool's explainer. */
export interface Predictor {
  predict(input: ModelInput): Promise<Float32Array>;
}

export interface MetricOptions {
  /** The class whose score is measured; default: the top-1 class of the unperturbed input. */
  readonly target?: number;
  /** 'logit' (default; pytorch-grad-cam's ClassifierOutputTarget) or 'softmax' (ClassifierOutputSoftmaxTarget). */
  readonly score?: ScoreKind;
  /** Stops the metric between model passes; it then rejects with AbortError. */
  readonly signal?: AbortSignal;
}

/** One metric call's checked inputs and the score of the unperturbed input. */
export interface MetricContext {
  readonly image: ChwImage;
  readonly map: Float32Array;
  readonly target: number;
  readonly kind: ScoreKind;
  readonly baseline: number;
  readonly signal: AbortSignal | undefined;
  /** The score of a perturbed CHW image of the same shape (one forward pass). */
  score(chw: Float32Array): Promise<number>;
}

export async function metricContext(model: Predictor, input: NchwTensor, map: Float32Array, options: MetricOptions = {}): Promise<MetricContext> {
  if (model === null || typeof model !== 'object' || typeof model.predict !== 'function') throw new InvalidInputError('metrics need a model with predict() (an Explainer)');
  const image = checkInputAndMap(input, map);
  const kind = options.score ?? 'logit';
  if (kind !== 'logit' && kind !== 'softmax') throw new InvalidInputError(`unknown score '${String(kind)}'; use 'logit' or 'softmax'`);
  const { signal } = options;
  const shape = [1, image.channels, image.height, image.width];
  const logitsOf = async (tensor: Float32Array): Promise<Float32Array> => {
    throwIfAborted(signal);
    const logits = await model.predict({ tensor, shape });
    throwIfAborted(signal);
    return logits;
  };
  const logits = await logitsOf(image.data);
  const target = options.target ?? argmax(logits);
  if (!Number.isInteger(target) || target < 0 || target >= logits.length) throw new TargetOutOfRangeError(target, logits.length);
  return {
    image,
    map,
    target,
    kind,
    signal,
    baseline: scoreOf(logits, target, kind),
    score: async (chw) => scoreOf(await logitsOf(chw), target, kind),
  };
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError('the metric was aborted', { cause: signal.reason });
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
