import { tf, type Tensor } from '../../tf.js';
import type { WasmHeap } from './heap.js';

/**
 * a + b, tensors of one shape, on a heap kernel when loaded (tfjs's Add otherwise, with the same values).
 * tfjs-wasm's Add runs on XNNPACK's threads, and after each op XNNPACK's worker thread spins for about a
 * millisecond, taking a core from the convolution that follows on our kernels' two threads: measured on
 * layer3's Winograd convolution, 2.0 ms alone, 3.0-3.3 ms right after a tfjs Add of its input's size.
 * ResNet34's seed figure runs ~45 such adds (residual sums, and gradients summed where a value forks).
 */
export function addSame<T extends Tensor>(heap: WasmHeap, a: T, b: Tensor): T {
  const k = heap.kernels;
  if (!k || a.dtype !== 'float32' || b.dtype !== 'float32' || !tf.util.arraysEqual(a.shape, b.shape)) return tf.add(a, b);
  const y = heap.output(a.shape);
  k.add(heap.offset(a), heap.offset(b), heap.offset(y), a.size);
  return y as T;
}
