import { tf, type Tensor2D } from '../../tf.js';
import { LONE_PRODUCT_PIECES, type WasmHeap } from './heap.js';

/**
 * Independent products a [m, k] x b [k, n] on our heap kernel, reading both where they are:
 * XNNPACK's matMul, tfjs-wasm's, keeps a packed copy of every right operand it has seen for as long as
 * that tensor lives, which for weights doubles their memory. The kernel is as fast as XNNPACK on one
 * thread (the same bits too: each output adds its products in the same order); where the backend is
 * threaded, the products are split over two threads (heap.matmuls). With `bTransposed`, each b is stored
 * as [n, k] and read transposed (a filter's planes kept once, read both ways): the same bits as b^T stored.
 */
export function heapMatMuls(heap: WasmHeap, pairs: readonly (readonly [Tensor2D, Tensor2D])[], bTransposed = false): Tensor2D[] {
  const inner = (b: Tensor2D) => b.shape[bTransposed ? 1 : 0];
  const cols = (b: Tensor2D) => b.shape[bTransposed ? 0 : 1];
  for (const [a, b] of pairs) {
    if (inner(b) !== a.shape[1]) throw new Error(`heapMatMuls: [${a.shape}] x [${b.shape}]${bTransposed ? '^T' : ''} do not multiply`);
  }
  const outputs = pairs.map(([a, b]) => heap.output([a.shape[0], cols(b)]) as Tensor2D);
  // Each product (or piece of a lone one) packs B's column panels in an area of its own: two threads run them side by side.
  const depth = Math.max(0, ...pairs.map(([a]) => a.shape[1]));
  const slots = pairs.length === 1 ? LONE_PRODUCT_PIECES : pairs.length;
  const pack = bTransposed ? heap.output([slots, depth * 8]) : undefined;
  try {
    const packAt = (i: number) => (pack ? { packAt: heap.offset(pack) + i * depth * 32 } : {});
    heap.matmuls(pairs.map(([a, b], i) => ({ a: heap.offset(a), b: heap.offset(b), c: heap.offset(outputs[i]!), m: a.shape[0], k: a.shape[1], n: cols(b), ...packAt(i) })));
  } finally {
    if (pack) tf.dispose(pack);
  }
  return outputs;
}
