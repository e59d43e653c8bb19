import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf, type Tensor } from '../tf.js';

/**
 * Registers a kernel of tfjs's wasm backend written in TypeScript over views of the wasm heap
 * (BackendWasm.makeOutput / typedArrayFromHeap): data never travels to JS and back, and the result
 * is an ordinary tensor (tidy, dispose). Returns the function that runs it.
 */
export function wasmHeapKernel<Attrs extends object, Out extends TensorInfo | TensorInfo[] = TensorInfo>(
  name: string,
  run: (backend: BackendWasm, inputs: Record<string, TensorInfo>, attrs: Attrs) => Out,
): (inputs: Record<string, Tensor>, attrs: Attrs) => Out extends TensorInfo[] ? Tensor[] : Tensor {
  if (!tf.getKernel(name, 'wasm')) {
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => run(backend as BackendWasm, inputs as Record<string, TensorInfo>, attrs as unknown as Attrs),
    });
  }
  return (inputs, attrs) => tf.engine().runKernel(name, inputs, attrs as unknown as NamedAttrMap) as Out extends TensorInfo[] ? Tensor[] : Tensor;
}

/** Byte offset of a tensor's data on the wasm heap. */
export const heapOffset = (backend: BackendWasm, t: TensorInfo): number => backend.dataIdMap.get(t.dataId)!.memoryOffset;
