import { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D } from '../../tf.js';
import type { HeapKernelExports, WasmHeap } from './heap.js';
import type { Activation } from './gemm-conv.js';

// 3x3, stride 1, pad 1 convolution by Winograd's F(2x2, 3x3): 16 matMuls of [tiles, Cin] x [Cin, Cout]
// (XNNPACK) instead of 9 taps per output, 2.25x fewer multiplications; the transforms in between are
// AssemblyScript SIMD kernels (assembly/heap.ts) working in place on tfjs-wasm's heap.

/** Whether Winograd convolutions can run (the kernels are loaded, and channels suit their 4-wide SIMD). */
export const winogradUsable = (heap: WasmHeap, cin: number, cout: number): boolean => heap.kernels !== undefined && cin % 4 === 0 && cout % 4 === 0;

/**
 * The 16 transformed filter planes U = G g G^T, each [Cin, Cout], of a 3x3 HWIO filter [3, 3, cin, cout]
 * (float64, rounded once). With `inputGrad`, those of the filter that computes the input gradient
 * (taps flipped, in/out swapped): planes [cout, cin]. G's entries are 0, +-1/2 and 1, so G g G^T is
 * computed separably (G g, then times G^T): 24 additions instead of 144 products per filter. The planes
 * are written straight into their tensors on the heap, not through JS arrays copied in (measured on
 * ResNet34's start: 5-16 MB less peak RSS, the same time).
 */
export function winogradFilter(heap: WasmHeap, hwio: Float32Array, cin: number, cout: number, inputGrad = false): Tensor2D[] {
  const [rows, cols] = inputGrad ? [cout, cin] : [cin, cout];
  const tensors = Array.from({ length: 16 }, () => heap.output([rows, cols]) as Tensor2D);
  const planes = tensors.map((t) => heap.view(t)); // views after the last output(): the heap may grow
  // Flipping the taps swaps G's first and last rows: plane (a, b) of the flipped filter is plane (3 - a, 3 - b)'s
  // transform when a, b are 0 or 3 (1 and 2 stay).
  const flip = inputGrad ? [3, 1, 2, 0] : [0, 1, 2, 3];
  const tap = cin * cout;
  const t = new Float64Array(12); // G g, 4 x 3
  for (let ci = 0; ci < cin; ci++) {
    for (let co = 0; co < cout; co++) {
      const base = ci * cout + co;
      for (let j = 0; j < 3; j++) {
        const g0 = hwio[j * tap + base]!;
        const g1 = hwio[(3 + j) * tap + base]!;
        const g2 = hwio[(6 + j) * tap + base]!;
        t[j] = g0;
        t[3 + j] = (g0 + g1 + g2) * 0.5;
        t[6 + j] = (g0 - g1 + g2) * 0.5;
        t[9 + j] = g2;
      }
      const at = inputGrad ? co * cin + ci : base;
      for (let a = 0; a < 4; a++) {
        const t0 = t[a * 3]!;
        const t1 = t[a * 3 + 1]!;
        const t2 = t[a * 3 + 2]!;
        const row = flip[a]! * 4;
        planes[row + flip[0]!]![at] = t0;
        planes[row + flip[1]!]![at] = (t0 + t1 + t2) * 0.5;
        planes[row + flip[2]!]![at] = (t0 - t1 + t2) * 0.5;
        planes[row + flip[3]!]![at] = t2;
      }
    }
  }
  return tensors;
}

const tiles = (n: number): number => (n + 1) >> 1;

/**
 * conv2d(x, filter, stride 1, pad 1) [+ bias] [relu], with u = winogradFilter(filter); needs winogradUsable.
 * A batch's tiles are stacked in each plane (the transforms run per image, the 16 matMuls once).
 */
export function winogradConv(heap: WasmHeap, x: Tensor4D, u: readonly Tensor2D[], bias?: Tensor1D, activation: Activation = 'linear'): Tensor4D {
  const k = heap.kernels as HeapKernelExports;
  const at = (t: Tensor) => heap.offset(t);
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const t = tiles(h) * tiles(w);
    const v = Array.from({ length: 16 }, () => heap.output([n * t, c]));
    for (let i = 0; i < n; i++) k.winogradInput(at(x) + i * h * w * c * 4, h, w, c, ...v.map((p) => at(p) + i * t * c * 4));
    const m = v.map((plane, i) => tf.matMul(plane as Tensor2D, u[i]!));
    tf.dispose(v);
    const cout = m[0]!.shape[1]!;
    const y = heap.output([n, h, w, cout]) as Tensor4D;
    const b = bias ? at(bias) : 0;
    for (let i = 0; i < n; i++) k.winogradOutput(at(y) + i * h * w * cout * 4, h, w, cout, b, activation === 'relu' ? 1 : 0, ...m.map((p) => at(p) + i * t * cout * 4));
    return y;
  });
}
