/**
 * The engine's own kernels on tfjs-wasm's heap (assembly/heap.ts): a data-free wasm module that
 * imports tfjs-wasm's memory, so tensors are read and written in place, by byte offset. The runtime
 * adapter instantiates it (src/runtime); where it is missing, callers fall back to tfjs ops or
 * TypeScript loops.
 */
export interface HeapKernelExports {
  winogradInput(x: number, h: number, w: number, c: number, ...planes: number[]): void;
  winogradOutput(y: number, h: number, w: number, c: number, bias: number, relu: number, ...planes: number[]): void;
  reluGrad(dy: number, out: number, dx: number, n: number, guided: number): void;
  maxPoolGrad(x: number, pooled: number, dy: number, dx: number, h: number, w: number, c: number, oh: number, ow: number, size: number, stride: number, pad: number): void;
}

const NAMES = ['winogradInput', 'winogradOutput', 'reluGrad', 'maxPoolGrad'] as const;

let kernels: HeapKernelExports | undefined;

/** Set by the runtime adapter once the module is instantiated on tfjs-wasm's memory; throws if it is not that module. */
export function setHeapKernels(exports: WebAssembly.Exports | undefined): void {
  const missing = exports && NAMES.filter((n) => typeof exports[n] !== 'function');
  if (missing?.length) throw new Error(`not the heap kernels (missing exports: ${missing.join(', ')})`);
  kernels = exports as unknown as HeapKernelExports | undefined;
}

export const heapKernels = (): HeapKernelExports | undefined => kernels;
