import type { Tensor2D } from '../../tf.js';
import type { WasmHeap } from './heap.js';

/**
 * Independent products a [m, k] x b [k, n] on our heap kernel, reading both where they are:
 * XNNPACK's matMul, tfjs-wasm's, keeps a packed copy of every right operand it has seen for as long as
 * that tensor lives, which for weights doubles their memory. The kernel is as fast as XNNPACK on one
 * thread (the same bits too: each output adds its products in the same order); where the backend is
 * threaded, the products are split over two threads (heap.matmuls).
 */
export function heapMatMuls(heap: WasmHeap, pairs: readonly (readonly [Tensor2D, Tensor2D])[]): Tensor2D[] {
  for (const [a, b] of pairs) {
    if (b.shape[0] !== a.shape[1]) throw new Error(`heapMatMuls: [${a.shape}] x [${b.shape}] do not multiply`);
  }
  const outputs = pairs.map(([a, b]) => heap.output([a.shape[0], b.shape[1]]) as Tensor2D);
  heap.matmuls(pairs.map(([a, b], i) => ({ a: heap.offset(a), b: heap.offset(b), c: heap.offset(outputs[i]!), m: a.shape[0], k: a.shape[1], n: b.shape[1] })));
  return outputs;
}
