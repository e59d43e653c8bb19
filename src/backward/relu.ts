import { tf, type Tensor4D } from '../tf.js';
import { heapKernels } from './heap-kernels.js';
import { heapOffset, wasmHeapKernel } from './wasm-kernel.js';

/** 'plain' is ordinary backpropagation; 'guided' also blocks negative incoming gradient (Springenberg et al.). */
export type GradMode = 'plain' | 'guided';

/**
 * Gradient through a ReLU given its OUTPUT (out > 0 exactly where the input > 0):
 * plain: dy * (x > 0); guided: dy * (x > 0) * (dy > 0). One heap kernel when loaded (three tfjs ops otherwise).
 */
export function reluGrad(dy: Tensor4D, out: Tensor4D, mode: GradMode): Tensor4D {
  if (heapKernels()) return fusedReluGrad({ dy, out }, { guided: mode === 'guided' }) as Tensor4D;
  return tf.tidy(() => tf.mul(mode === 'guided' ? tf.relu(dy) : dy, tf.step(out)));
}

const fusedReluGrad = wasmHeapKernel<{ guided: boolean }>('GradcamReluGrad', (backend, { dy, out }, { guided }) => {
  const dx = backend.makeOutput(dy!.shape, 'float32');
  heapKernels()!.reluGrad(heapOffset(backend, dy!), heapOffset(backend, out!), heapOffset(backend, dx), dx.shape.reduce((a, b) => a * b, 1), guided ? 1 : 0);
  return dx;
});
