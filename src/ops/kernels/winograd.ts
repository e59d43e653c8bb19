import { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor3D, type Tensor4D } from '../../tf.js';
import type { HeapKernelExports, WasmHeap } from './heap.js';
import type { Activation } from './gemm-conv.js';
import { stackedMatMuls } from './matmul.js';

// 3x3, stride 1, pad 1 convolution by Winograd's F(2x2, 3x3): 16 products of [tiles, Cin] x [Cin, Cout]
// (our heap kernel's, see winogradRun) instead of 9 taps per output, 2.25x fewer multiplications; the
// transforms in between are AssemblyScript SIMD kernels (assembly/heap.ts) working in place on tfjs-wasm's heap.

/** Whether Winograd convolutions can run (the kernels are loaded, and channels suit their 4-wide SIMD). */
export const winogradUsable = (heap: WasmHeap, cin: number, cout: number): boolean => heap.kernels !== undefined && cin % 4 === 0 && cout % 4 === 0;

/** A filter's 16 Winograd planes U = G g G^T, each [Cin, Cout]. */
export type WinogradPlanes = readonly Tensor2D[];

/**
 * The 16 transformed filter planes of a 3x3 OIHW filter [cout, cin, 3, 3], by the heap kernels' winogradFilter
 * (float64, rounded once), written straight into their tensors on the heap, row by row (fresh memory: see
 * the runtime's page toucher).
 */
export function winogradFilter(heap: WasmHeap, oihw: Float32Array, cin: number, cout: number): WinogradPlanes {
  const k = heap.kernels as HeapKernelExports;
  const planes = Array.from({ length: 16 }, () => heap.output([cin, cout]) as Tensor2D);
  try {
    tf.tidy(() => {
      const g = heap.output([oihw.length]);
      heap.view(g).set(oihw);
      k.winogradFilter(heap.offset(g), cin, cout, ...planes.map((p) => heap.offset(p)));
    });
  } catch (err) {
    tf.dispose(planes);
    throw err;
  }
  return planes;
}

const tiles = (n: number): number => (n + 1) >> 1;

/**
 * The input gradient's filter is the forward one with its taps flipped and in/out swapped. Flipping the
 * taps swaps G's first and last rows, so its plane (a, b) is U's plane (3 - a, 3 - b) transposed when a, b
 * are 0 or 3 (1 and 2 stay): plane FLIPPED[p] of U, transposed.
 */
const FLIPPED = Array.from({ length: 16 }, (_, p) => [3, 1, 2, 0][p >> 2]! * 4 + [3, 1, 2, 0][p & 3]!);

/**
 * The transforms around 16 products, a batch's tiles stacked in each plane (the transforms run per image,
 * the products once). The forward: X [tiles, Cin] x U [Cin, Cout]. The input gradient: dY [tiles, Cout] x
 * U_FLIPPED^T, the kernel reading each plane transposed (packing it panel by panel), so one set of planes
 * serves both. Every product runs on our heap kernel, which reads both operands in place: XNNPACK's
 * matMul would keep a packed copy of each plane it saw on its right for as long as the plane lives.
 */
function winogradRun(heap: WasmHeap, x: Tensor4D, planes: WinogradPlanes, gradient: boolean, bias?: Tensor1D, activation: Activation = 'linear'): Tensor4D {
  const k = heap.kernels as HeapKernelExports;
  const at = (t: Tensor) => heap.offset(t);
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const t = tiles(h) * tiles(w);
    const cout = planes[0]!.shape[gradient ? 0 : 1]; // output channels
    // Plane p of a stack [16, n * t, ch], image i's tiles from row i * t.
    const plane = (stack: Tensor, ch: number, i: number) => Array.from({ length: 16 }, (_, p) => at(stack) + ((p * n + i) * t * ch) * 4);
    const v = heap.output([16, n * t, c]) as Tensor3D;
    // The input transform's two halves (planes 0..7, 8..15) run with the products, each before the first that reads it.
    const input = (half: 0 | 1) => ({ x: at(x), n, h, w, c, v: at(v), half });
    const m = stackedMatMuls(heap, v, FLIPPED.map((f, p) => planes[gradient ? f : p]!), gradient, [input(0), input(1)]);
    v.dispose();
    const y = heap.output([n, h, w, cout]) as Tensor4D;
    const b = bias ? at(bias) : 0;
    for (let i = 0; i < n; i++) k.winogradOutput(at(y) + i * h * w * cout * 4, h, w, cout, b, activation === 'relu' ? 1 : 0, ...plane(m, cout, i));
    return y;
  });
}

/** conv2d(x, filter, stride 1, pad 1) [+ bias] [relu], with the planes of winogradFilter; needs winogradUsable. */
export const winogradConv = (heap: WasmHeap, x: Tensor4D, planes: WinogradPlanes, bias?: Tensor1D, activation: Activation = 'linear'): Tensor4D =>
  winogradRun(heap, x, planes, false, bias, activation);

/** The input gradient of that convolution from dy, with the same planes. */
export const winogradInputGrad = (heap: WasmHeap, dy: Tensor4D, planes: WinogradPlanes): Tensor4D => winogradRun(heap, dy, planes, true);
