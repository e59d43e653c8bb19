import { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D } from '../../tf.js';
import type { HeapKernelExports, WasmHeap } from './heap.js';
import type { Activation } from './gemm-conv.js';
import { heapMatMuls } from './matmul.js';

// 3x3, stride 1, pad 1 convolution by Winograd's F(2x2, 3x3): 16 products of [tiles, Cin] x [Cin, Cout]
// (our heap kernel's, see winogradRun) instead of 9 taps per output, 2.25x fewer multiplications; the
// transforms in between are AssemblyScript SIMD kernels (assembly/heap.ts) working in place on tfjs-wasm's heap.

/** Whether Winograd convolutions can run (the kernels are loaded, and channels suit their 4-wide SIMD). */
export const winogradUsable = (heap: WasmHeap, cin: number, cout: number): boolean => heap.kernels !== undefined && cin % 4 === 0 && cout % 4 === 0;

/** A filter's 16 Winograd planes U = G g G^T, as [Cin, Cout] or, `transposed`, as S = U^T [Cout, Cin]. */
export interface WinogradPlanes {
  readonly planes: readonly Tensor2D[];
  readonly transposed: boolean;
}

/**
 * The 16 transformed filter planes of a 3x3 OIHW filter [cout, cin, 3, 3] (float64, rounded once). G's
 * entries are 0, +-1/2 and 1, so G g G^T is computed separably (G g, then times G^T): 24 additions instead
 * of 144 products per filter. The planes are written straight into their tensors on the heap, not through
 * JS arrays copied in (measured on ResNet34's start: 5-16 MB less peak RSS, the same time).
 */
export function winogradFilter(heap: WasmHeap, oihw: Float32Array, cin: number, cout: number, transposed: boolean): WinogradPlanes {
  const tensors = Array.from({ length: 16 }, () => heap.output(transposed ? [cout, cin] : [cin, cout]) as Tensor2D);
  const planes = tensors.map((t) => heap.view(t)); // views after the last output(): the heap may grow
  const t = new Float64Array(12); // G g, 4 x 3
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      const g = (co * cin + ci) * 9; // the 3x3 taps of (co, ci), row by row
      const at = transposed ? co * cin + ci : ci * cout + co;
      for (let j = 0; j < 3; j++) {
        const g0 = oihw[g + j]!;
        const g1 = oihw[g + 3 + j]!;
        const g2 = oihw[g + 6 + j]!;
        t[j] = g0;
        t[3 + j] = (g0 + g1 + g2) * 0.5;
        t[6 + j] = (g0 - g1 + g2) * 0.5;
        t[9 + j] = g2;
      }
      for (let a = 0; a < 4; a++) {
        const t0 = t[a * 3]!;
        const t1 = t[a * 3 + 1]!;
        const t2 = t[a * 3 + 2]!;
        planes[a * 4]![at] = t0;
        planes[a * 4 + 1]![at] = (t0 + t1 + t2) * 0.5;
        planes[a * 4 + 2]![at] = (t0 - t1 + t2) * 0.5;
        planes[a * 4 + 3]![at] = t2;
      }
    }
  }
  return { planes: tensors, transposed };
}

const tiles = (n: number): number => (n + 1) >> 1;

/**
 * The input gradient's filter is the forward one with its taps flipped and in/out swapped. Flipping the
 * taps swaps G's first and last rows, so its plane (a, b) is U's plane (3 - a, 3 - b) transposed when a, b
 * are 0 or 3 (1 and 2 stay): plane FLIPPED[p] of S, or of U transposed.
 */
const FLIPPED = Array.from({ length: 16 }, (_, p) => [3, 1, 2, 0][p >> 2]! * 4 + [3, 1, 2, 0][p & 3]!);

/**
 * The transforms around 16 products, a batch's tiles stacked in each plane (the transforms run per image,
 * the products once). The forward takes planes U: X [tiles, Cin] x U [Cin, Cout]. The input gradient
 * takes planes S = U^T, dY [tiles, Cout] x S_FLIPPED [Cout, Cin]; or, with U (no second set of planes),
 * it is computed transposed, U_FLIPPED [Cin, Cout] x dY^T [Cout, tiles], the transforms writing and
 * reading transposed planes. Every product runs on our heap kernel, which reads both operands in place:
 * XNNPACK's matMul would keep a packed copy of each plane it saw on its right for as long as the plane
 * lives (as much memory again), and pack dY^T at every transposed call.
 */
function winogradRun(heap: WasmHeap, x: Tensor4D, { planes, transposed }: WinogradPlanes, gradient: boolean, bias?: Tensor1D, activation: Activation = 'linear'): Tensor4D {
  if (!gradient && transposed) throw new Error('the Winograd forward takes planes U, not transposed ones');
  const k = heap.kernels as HeapKernelExports;
  const at = (t: Tensor) => heap.offset(t);
  // Transposed products: the input gradient from U.
  const tr = gradient && !transposed;
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const t = tiles(h) * tiles(w);
    const cout = planes[0]!.shape[tr ? 0 : 1]; // output channels
    // Transposed planes are [channels, n * t] (stride n * t), image i's tiles from column i * t.
    const stride = tr ? n * t : 0;
    const step = (ch: number) => (tr ? t * 4 : t * ch * 4);
    const v = Array.from({ length: 16 }, () => heap.output(tr ? [c, n * t] : [n * t, c]));
    for (let i = 0; i < n; i++) k.winogradInput(at(x) + i * h * w * c * 4, h, w, c, stride, ...v.map((p) => at(p) + i * step(c)));
    const operand = (p: number) => planes[gradient ? FLIPPED[p]! : p]!;
    const m = heapMatMuls(heap, v.map((plane, p) => (tr ? ([operand(p), plane as Tensor2D] as const) : ([plane as Tensor2D, operand(p)] as const))));
    tf.dispose(v);
    const y = heap.output([n, h, w, cout]) as Tensor4D;
    const b = bias ? at(bias) : 0;
    for (let i = 0; i < n; i++) k.winogradOutput(at(y) + i * h * w * cout * 4, h, w, cout, stride, b, activation === 'relu' ? 1 : 0, ...m.map((p) => at(p) + i * step(cout)));
    return y;
  });
}

/** conv2d(x, filter, stride 1, pad 1) [+ bias] [relu], with planes U of winogradFilter; needs winogradUsable. */
export const winogradConv = (heap: WasmHeap, x: Tensor4D, planes: WinogradPlanes, bias?: Tensor1D, activation: Activation = 'linear'): Tensor4D =>
  winogradRun(heap, x, planes, false, bias, activation);

/** The input gradient of that convolution from dy, with its planes S (faster) or U (no second set of planes). */
export const winogradInputGrad = (heap: WasmHeap, dy: Tensor4D, planes: WinogradPlanes): Tensor4D => winogradRun(heap, dy, planes, true);
