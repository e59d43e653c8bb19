import { tf, type Tensor } from '../../tf.js';
import type { WasmHeap } from './heap.js';

/** 'plain' is ordinary backpropagation; 'guided' also blocks negative incoming gradient (Springenberg et al.). */
export type GradMode = 'plain' | 'guided';

/**
 * Gradient through a ReLU given its OUTPUT (out > 0 exactly where the input > 0):
 * plain: dy * (x > 0); guided: dy * (x > 0) * (dy > 0). One heap kernel when loaded (three tfjs ops otherwise).
 */
export function reluGrad<T extends Tensor>(heap: WasmHeap, dy: T, out: Tensor, mode: GradMode): T {
  const k = heap.kernels;
  if (!k) return tf.tidy(() => tf.mul(mode === 'guided' ? tf.relu(dy) : dy, tf.step(out))) as T;
  const dx = heap.output(dy.shape);
  k.reluGrad(heap.offset(dy), heap.offset(out), heap.offset(dx), dy.size, mode === 'guided' ? 1 : 0);
  return dx as T;
}
