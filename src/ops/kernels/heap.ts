import type { Tensor } from '../../tf.js';

/**
 * The exports of our AssemblyScript module (assembly/heap.ts): a data-free wasm module that imports
 * tfjs-wasm's memory, so tensors are read and written in place, by byte offset.
 */
export interface HeapKernelExports {
  winogradFilter(g: number, cin: number, cout: number, ...planes: number[]): void;
  winogradInput(x: number, n: number, h: number, w: number, c: number, v: number, half: number): void;
  winogradOutput(y: number, h: number, w: number, c: number, bias: number, relu: number, ...planes: number[]): void;
  relu(x: number, y: number, n: number): void;
  add(a: number, b: number, y: number, n: number): void;
  reluGrad(dy: number, out: number, dx: number, n: number, guided: number): void;
  maxPoolGrad(x: number, pooled: number, dy: number, dx: number, h: number, w: number, c: number, oh: number, ow: number, size: number, stride: number, pad: number): void;
  col2im(cols: number, dx: number, n: number, h: number, w: number, c: number, k: number, stride: number, top: number, left: number, oh: number, ow: number): void;
  matmul(a: number, b: number, c: number, m: number, k: number, n: number): void;
  matmulBT(a: number, b: number, c: number, m: number, k: number, n: number, pack: number): void;
}

/** One product C [m, n] = A [m, k] x B [k, n] for the heap kernel's matmul: byte offsets on the heap and sizes. */
export interface MatMul {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /**
   * B is stored transposed, as [n, k] (matmulBT): where the kernel packs B's panels, k * 8 floats of this
   * product's own; LONE_PRODUCT_PIECES times that for a product run alone.
   */
  readonly packAt?: number;
  /** The index, in the batch's `inputs`, of the transform that writes A: it runs first (see WinogradHalf). */
  readonly after?: number;
}

/**
 * Half of a Winograd input transform (the heap kernel winogradInput's arguments): planes 0..7 or 8..15 of
 * n images x into the stack v. In a batch of products, it runs once, before the first product that reads
 * it, on whichever thread claims that product first, so two threads each make the half their products read.
 */
export interface WinogradHalf {
  readonly x: number;
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly v: number;
  readonly half: 0 | 1;
}

/** A product run alone may be cut into this many pieces by rows, so that two threads share it. */
export const LONE_PRODUCT_PIECES = 4;

export const HEAP_KERNEL_NAMES = ['winogradFilter', 'winogradInput', 'winogradOutput', 'reluGrad', 'maxPoolGrad', 'col2im', 'matmul', 'matmulBT', 'relu', 'add'] as const;

/**
 * tfjs-wasm's heap as the engine's kernels see it (implemented over tfjs internals in
 * src/runtime/wasm-backend.ts, the one file that touches them).
 */
export interface WasmHeap {
  /** A new float32 tensor, tracked like any op's output (tidy, dispose); its contents are undefined. */
  output(shape: readonly number[]): Tensor;
  /** Byte offset of a tensor's data on the heap. */
  offset(t: Tensor): number;
  /** A view of a float32 tensor's data; take views after the last output() of a kernel (the heap may grow). */
  view(t: Tensor): Float32Array;
  /** Our AssemblyScript kernels on this heap; undefined only when asked for (`heapKernels: false`). */
  readonly kernels: HeapKernelExports | undefined;
  /**
   * Runs independent products on the kernels' matmul, split over two threads where the runtime has a helper
   * thread for them; `inputs`: the transforms that write their left operands (MatMul.after), run first.
   */
  matmuls(products: readonly MatMul[], inputs?: readonly WinogradHalf[]): void;
}

/** Checks an instantiated module's exports against HeapKernelExports. */
export function asHeapKernels(exports: WebAssembly.Exports): HeapKernelExports {
  const missing = HEAP_KERNEL_NAMES.filter((n) => typeof exports[n] !== 'function');
  if (missing.length) throw new Error(`not the heap kernels (missing exports: ${missing.join(', ')})`);
  return exports as unknown as HeapKernelExports;
}

/** For tfjs backends other than wasm (tests on tfjs's CPU backend): no heap; kernels that need one fail clearly. */
export function noHeap(backend: string): WasmHeap {
  const fail = (): never => {
    throw new Error(`this op needs tfjs-wasm's heap; the ${backend} backend has none`);
  };
  return { kernels: undefined, output: fail, offset: fail, view: fail, matmuls: fail };
}
