import { tf, type Tensor } from '../../tf.js';
import type { WasmHeap } from './heap.js';

/**
 * Block j of k equal blocks of t along its first axis (one of several stacked gradient passes), copied on
 * the heap when there is one: tfjs-wasm's Slice took ~5 ms for one block of ResNet34's layer1 gradient.
 */
export function stackBlock<T extends Tensor>(heap: WasmHeap, t: T, j: number, k: number): T {
  const rows = t.shape[0]! / k;
  if (!heap.kernels || t.dtype !== 'float32') return tf.slice(t, j * rows, rows);
  const out = heap.output([rows, ...t.shape.slice(1)]);
  const size = out.size;
  heap.view(out).set(heap.view(t).subarray(j * size, (j + 1) * size)); // views after output(): the heap may grow
  return out as T;
}
