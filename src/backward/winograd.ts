import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf, type Tensor1D, type Tensor2D, type Tensor4D } from '../tf.js';
import { heapOffset, wasmHeapKernel } from './wasm-kernel.js';
import { heapKernels } from './heap-kernels.js';
import type { Activation } from './gemm-conv.js';

// 3x3, stride 1, pad 1 convolution by Winograd's F(2x2, 3x3): 16 matMuls of [tiles, Cin] x [Cin, Cout]
// (XNNPACK) instead of 9 taps per output, 2.25x fewer multiplications; the transforms in between are
// AssemblyScript SIMD kernels (assembly/heap.ts) working in place on tfjs-wasm's heap.

/** Whether Winograd convolutions can run (the kernels are loaded, and channels suit their 4-wide SIMD). */
export const winogradUsable = (cin: number, cout: number): boolean => heapKernels() !== undefined && cin % 4 === 0 && cout % 4 === 0;

const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];

/**
 * The 16 transformed filter planes U = G g G^T, each [Cin, Cout], of a 3x3 HWIO filter [3, 3, cin, cout]
 * (float64, rounded once). With `inputGrad`, those of the filter that computes the input gradient
 * (taps flipped, in/out swapped): planes [cout, cin].
 */
export function winogradFilter(hwio: Float32Array, cin: number, cout: number, inputGrad = false): Tensor2D[] {
  const [rows, cols] = inputGrad ? [cout, cin] : [cin, cout];
  const planes = Array.from({ length: 16 }, () => new Float32Array(rows * cols));
  const g = new Float64Array(9);
  for (let ci = 0; ci < cin; ci++) {
    for (let co = 0; co < cout; co++) {
      for (let t = 0; t < 9; t++) g[inputGrad ? 8 - t : t] = hwio[(t * cin + ci) * cout + co]!;
      const at = inputGrad ? co * cin + ci : ci * cout + co;
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 4; b++) {
          let s = 0;
          for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) s += G[a]![i]! * g[i * 3 + j]! * G[b]![j]!;
          planes[a * 4 + b]![at] = s;
        }
      }
    }
  }
  return planes.map((u) => tf.tensor2d(u, [rows, cols]));
}

const tiles = (n: number): number => (n + 1) >> 1;

/** Per image of a batch, the 16 input planes [tiles, c]; images follow each other in each plane ([n * tiles, c]). */
const inputTransform = wasmHeapKernel('GradcamWinogradInput', (backend: BackendWasm, { x }) => {
  const [n, h, w, c] = x!.shape as [number, number, number, number];
  const tileCount = tiles(h) * tiles(w);
  const planes = Array.from({ length: 16 }, () => backend.makeOutput([n * tileCount, c], 'float32'));
  const [xAt, planesAt] = [heapOffset(backend, x!), planes.map((p) => heapOffset(backend, p))];
  for (let i = 0; i < n; i++) heapKernels()!.winogradInput(xAt + i * h * w * c * 4, h, w, c, ...planesAt.map((at) => at + i * tileCount * c * 4));
  return planes;
});

interface OutputAttrs {
  readonly h: number;
  readonly w: number;
  readonly relu: boolean;
}

const outputTransform = wasmHeapKernel<OutputAttrs>('GradcamWinogradOutput', (backend, inputs, { h, w, relu }) => {
  const planes = Array.from({ length: 16 }, (_, i) => inputs[`m${i}`]!);
  const [rows, c] = planes[0]!.shape as [number, number];
  const tileCount = tiles(h) * tiles(w);
  const n = rows / tileCount;
  const y = backend.makeOutput([n, h, w, c], 'float32');
  const bias = inputs.bias ? heapOffset(backend, inputs.bias) : 0;
  const [yAt, planesAt] = [heapOffset(backend, y), planes.map((p) => heapOffset(backend, p))];
  for (let i = 0; i < n; i++) {
    heapKernels()!.winogradOutput(yAt + i * h * w * c * 4, h, w, c, bias, relu ? 1 : 0, ...planesAt.map((at) => at + i * tileCount * c * 4));
  }
  return y;
});

/** conv2d(x, filter, stride 1, pad 1) [+ bias] [relu], with u = winogradFilter(filter). */
export function winogradConv(x: Tensor4D, u: readonly Tensor2D[], bias?: Tensor1D, activation: Activation = 'linear'): Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const v = inputTransform({ x }, {});
    const m = v.map((plane, i) => tf.matMul(plane, u[i]!));
    tf.dispose(v);
    const inputs = Object.fromEntries(m.map((t, i) => [`m${i}`, t]));
    return outputTransform(bias ? { ...inputs, bias } : inputs, { h, w, relu: activation === 'relu' }) as Tensor4D;
  });
}
