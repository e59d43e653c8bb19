import { tf, type Tensor2D, type Tensor3D } from '../../tf.js';
import { LONE_PRODUCT_PIECES, type MatMul, type WasmHeap, type WinogradHalf } from './heap.js';

/**
 * Independent products a [m, k] x b [k, n] on our heap kernel, reading both where they are:
 * XNNPACK's matMul, tfjs-wasm's, keeps a packed copy of every right operand it has seen for as long as
 * that tensor lives, which for weights doubles their memory. The kernel is as fast as XNNPACK on one
 * thread (the same bits too: each output adds its products in the same order); where the backend is
 * threaded, the products are split over two threads (heap.matmuls). With `bTransposed`, each b is stored
 * as [n, k] and read transposed (a filter's planes kept once, read both ways): the same bits as b^T stored.
 */
export function heapMatMuls(heap: WasmHeap, pairs: readonly (readonly [Tensor2D, Tensor2D])[], bTransposed = false): Tensor2D[] {
  for (const [a, b] of pairs) check(a.shape, b.shape, bTransposed);
  const outputs = pairs.map(([a, b]) => heap.output([a.shape[0], b.shape[bTransposed ? 0 : 1]]) as Tensor2D);
  run(heap, pairs.map(([a, b], i) => ({ a: heap.offset(a), b: heap.offset(b), c: heap.offset(outputs[i]!), m: a.shape[0], k: a.shape[1], n: b.shape[bTransposed ? 0 : 1] })), bTransposed);
  return outputs;
}

/**
 * The products a[i] x bs[i] of a stack of left operands a [count, m, k], as one stack [count, m, n] (one
 * tensor each way, not count). `inputs`, if any, write the stack first, in equal consecutive shares (a
 * Winograd transform's two halves: planes 0..7, then 8..15); each runs just before the first product that
 * reads its share, on the thread that claims it (heap.matmuls).
 */
export function stackedMatMuls(heap: WasmHeap, a: Tensor3D, bs: readonly Tensor2D[], bTransposed = false, inputs: readonly WinogradHalf[] = []): Tensor3D {
  const [count, m, k] = a.shape;
  if (bs.length !== count) throw new Error(`stackedMatMuls: ${count} left operands, ${bs.length} right ones`);
  if (count % Math.max(inputs.length, 1) !== 0) throw new Error(`stackedMatMuls: ${inputs.length} inputs do not share ${count} left operands`);
  for (const b of bs) check([m, k], b.shape, bTransposed);
  const n = bs[0]!.shape[bTransposed ? 0 : 1];
  const out = heap.output([count, m, n]) as Tensor3D;
  const [at, to] = [heap.offset(a), heap.offset(out)];
  const after = (i: number) => (inputs.length ? { after: Math.floor((i * inputs.length) / count) } : {});
  run(heap, bs.map((b, i) => ({ a: at + i * m * k * 4, b: heap.offset(b), c: to + i * m * n * 4, m, k, n, ...after(i) })), bTransposed, inputs);
  return out;
}

function check(a: readonly number[], b: readonly number[], bTransposed: boolean): void {
  if (b[bTransposed ? 1 : 0] !== a[1]) throw new Error(`heapMatMuls: [${a}] x [${b}]${bTransposed ? '^T' : ''} do not multiply`);
}

/** Runs the products; with B transposed, each (or each piece of a lone one) packs B's column panels in an area of its own: two threads run them side by side. */
function run(heap: WasmHeap, products: readonly MatMul[], bTransposed: boolean, inputs: readonly WinogradHalf[] = []): void {
  if (!bTransposed) return heap.matmuls(products, inputs);
  const depth = Math.max(0, ...products.map((p) => p.k));
  const pack = heap.output([products.length === 1 ? LONE_PRODUCT_PIECES : products.length, depth * 8]);
  try {
    const at = heap.offset(pack);
    heap.matmuls(products.map((p, i) => ({ ...p, packAt: at + i * depth * 32 })), inputs);
  } finally {
    tf.dispose(pack);
  }
}
