import type { Tensor } from '../tf.js';
import { reluForward, reluGrad } from './kernels/relu.js';
import type { OpModule } from './types.js';
import { onlyAttributes, tensorOf } from './util.js';

/** Relu; guided rule: a gradient passes only where the forward input and the incoming gradient are both > 0. */
export const relu: OpModule = {
  create(spec, { heap }) {
    onlyAttributes(spec, []);
    return {
      forward: ([x]) => [reluForward(heap, tensorOf(x!))],
      backward: ([dy], saved, guided) => [reluGrad(heap, dy!, saved.outputs[0] as Tensor, guided.map((g) => (g ? 'guided' : 'plain')))],
      saves: { outputs: true },
      stacks: true,
    };
  },
};
