import { tf, type Scalar, type Tensor, type Tensor1D, type Tensor2D } from '../tf.js';
import { GradcamError, InvalidInputError, TargetOutOfRangeError } from '../errors.js';
import { softmax } from '../predictions.js';

/**
 * A score over one image's logits [numClasses], written in tfjs ops, that returns a scalar (regression,
 * binary or multi-label scores). Only this head is differentiated (tf.grad); the network's backward pass
 * then starts from d(score)/d(logits). tf.grad needs the ops' gradients registered: importing
 * '@tensorflow/tfjs' does it (tfjs-core alone registers none).
 */
export type ScoreFunction = (logits: Tensor1D) => Scalar;

/** What is explained: a class index (its logit), a class's logit or softmax probability (class default: top-1), or a custom score. */
export type Target =
  | number
  | { readonly class?: number; readonly score?: 'logit' | 'softmax' }
  | { readonly score: ScoreFunction; readonly class?: undefined };

export type ScoreKind = 'logit' | 'softmax' | 'custom';

/** A target checked against the model, with the class filled in (top-1 when not given; none for a custom score). */
export interface ResolvedTarget {
  readonly class: number | undefined;
  readonly score: ScoreKind;
  readonly fn?: ScoreFunction;
}

/** Checks a user's target; `undefined` class means "top-1", filled in once the logits are known. */
export function checkTarget(target: Target | undefined, numClasses: number): { class: number | undefined; score: ScoreKind; fn?: ScoreFunction } {
  if (target === undefined) return { class: undefined, score: 'logit' };
  if (typeof target === 'number') {
    checkClass(target, numClasses);
    return { class: target, score: 'logit' };
  }
  if (target === null || typeof target !== 'object') throw new InvalidInputError(`a target is a class index, { class, score } or { score: function }, got ${String(target)}`);
  if (typeof target.score === 'function') {
    if (target.class !== undefined) throw new InvalidInputError('a target with a custom score function takes no class');
    return { class: undefined, score: 'custom', fn: target.score };
  }
  const score = target.score ?? 'logit';
  if (score !== 'logit' && score !== 'softmax') throw new InvalidInputError(`unknown target score '${String(score)}'; use 'logit', 'softmax' or a function`);
  if (target.class !== undefined) checkClass(target.class, numClasses);
  return { class: target.class, score };
}

function checkClass(c: unknown, numClasses: number): asserts c is number {
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= numClasses) throw new TargetOutOfRangeError(c, numClasses);
}

/** The score of one image's logits [K] as a scalar tensor (validated for custom functions). */
function scoreOf(t: ResolvedTarget, logits: Tensor1D): Scalar {
  // A one-hot product rather than gather, whose gradient (UnsortedSegmentSum) tfjs-wasm lacks.
  const pick = (v: Tensor1D) => tf.sum(tf.mul(v, tf.oneHot(t.class!, v.shape[0]))) as Scalar;
  if (t.score === 'logit') return pick(logits);
  if (t.score === 'softmax') return pick(tf.softmax(logits));
  let out: unknown;
  try {
    out = t.fn!(logits);
  } catch (err) {
    throw new InvalidInputError(`the custom score function failed: ${(err as Error).message}`, { cause: err });
  }
  if (!(out instanceof tf.Tensor) || out.size !== 1 || out.dtype !== 'float32') {
    const what = out instanceof tf.Tensor ? `a ${out.dtype} tensor of shape [${out.shape.join(', ')}]` : typeof out;
    throw new InvalidInputError(`a custom score function must return a float32 scalar tensor, got ${what}`);
  }
  return tf.reshape(out as Tensor, []) as Scalar;
}

/** d(score)/d(logits) of one image (logits [1, K] or [K]): the seed of the backward pass. */
export function seedFor(t: ResolvedTarget, logits: Tensor): Float32Array {
  if (t.score === 'logit') return Float32Array.from({ length: logits.size }, (_, k) => (k === t.class ? 1 : 0));
  if (t.score === 'softmax') {
    // d p_k / d z_j = p_k (delta_jk - p_j), as softmax's backward computes it.
    const p = softmax(logits.dataSync());
    return Float32Array.from(p, (pj, j) => p[t.class!]! * ((j === t.class ? 1 : 0) - pj));
  }
  try {
    return tf.tidy(() => tf.grad((z: Tensor) => scoreOf(t, z as Tensor1D))(tf.reshape(logits, [-1])).dataSync() as Float32Array);
  } catch (err) {
    if (err instanceof GradcamError) throw err;
    // tfjs-core registers no gradients itself: '@tensorflow/tfjs' (or tfjs-core's register_all_gradients in a bundler) does.
    throw new GradcamError('UNSUPPORTED', `the custom score cannot be differentiated: ${(err as Error).message} (import '@tensorflow/tfjs' once to register every op's gradient)`, { cause: err });
  }
}

/** The score of every row of a batch of logits [N, K] (AblationCAM, ScoreCAM). */
export function scoresFor(t: ResolvedTarget, logits: Tensor2D): Float32Array {
  return tf.tidy(() => {
    if (t.score === 'logit') return tf.gather(logits, t.class!, 1).dataSync() as Float32Array;
    if (t.score === 'softmax') return tf.gather(tf.softmax(logits), t.class!, 1).dataSync() as Float32Array;
    return tf.stack(tf.unstack(logits).map((row) => scoreOf(t, row as Tensor1D))).dataSync() as Float32Array;
  });
}
