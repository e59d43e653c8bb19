import { tf, type Tensor } from '../../tf.js';
import type { WasmHeap } from './heap.js';

/** 'plain' is ordinary backpropagation; 'guided' also blocks negative incoming gradient (Springenberg et al.). */
export type GradMode = 'plain' | 'guided';

/**
 * max(x, 0) on a heap kernel when loaded (tfjs's Relu otherwise, with the same values). tfjs-wasm's Relu runs
 * on XNNPACK's threads, which sleep while our kernels run: after a Winograd convolution on our kernels,
 * waking them cost more than the ReLU itself (ResNet34's layer3: 12 ReLUs, ~5 ms against ~0.3 ms).
 */
export function reluForward<T extends Tensor>(heap: WasmHeap, x: T): T {
  const k = heap.kernels;
  if (!k) return tf.relu(x);
  const y = heap.output(x.shape);
  k.relu(heap.offset(x), heap.offset(y), x.size);
  return y as T;
}

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
