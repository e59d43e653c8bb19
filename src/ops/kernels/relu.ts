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
 * plain: dy * (x > 0); guided: dy * (x > 0) * (dy > 0). dy stacks one block per mode, each the size of out
 * (gradient passes over one forward pass). One heap kernel call per block when loaded (tfjs ops otherwise).
 */
export function reluGrad<T extends Tensor>(heap: WasmHeap, dy: T, out: Tensor, modes: readonly GradMode[]): T {
  const k = heap.kernels;
  if (!k) {
    return tf.tidy(() => {
      const mask = tf.step(out);
      const parts = modes.length === 1 ? [dy] : tf.split(dy, modes.length, 0);
      const dxs = parts.map((d, i) => tf.mul(modes[i] === 'guided' ? tf.relu(d) : d, mask));
      return dxs.length === 1 ? dxs[0]! : tf.concat(dxs, 0);
    }) as T;
  }
  const dx = heap.output(dy.shape);
  const bytes = out.size * 4;
  modes.forEach((mode, i) => k.reluGrad(heap.offset(dy) + i * bytes, heap.offset(out), heap.offset(dx) + i * bytes, out.size, mode === 'guided' ? 1 : 0));
  return dx as T;
}
