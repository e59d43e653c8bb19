import { tf, type Tensor4D } from '../tf.js';

/** 'plain' is ordinary backpropagation; 'guided' also blocks negative incoming gradient (Springenberg et al.). */
export type GradMode = 'plain' | 'guided';

/**
 * Gradient through a ReLU given its OUTPUT (out > 0 exactly where the input > 0):
 * plain: dy * (x > 0); guided: dy * (x > 0) * (dy > 0).
 */
export function reluGrad(dy: Tensor4D, out: Tensor4D, mode: GradMode): Tensor4D {
  return tf.tidy(() => tf.mul(mode === 'guided' ? tf.relu(dy) : dy, tf.step(out)));
}
