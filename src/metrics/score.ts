import { softmax } from '../predictions.js';

/** What a metric measures on the model's output: the target class's logit, or its softmax probability. */
export type ScoreKind = 'logit' | 'softmax';

/** The score of one class on one output, as a float32 (pytorch-grad-cam's targets run on float32 tensors). */
export function scoreOf(logits: Float32Array, target: number, kind: ScoreKind): number {
  return Math.fround(kind === 'softmax' ? softmax(logits)[target]! : logits[target]!);
}
