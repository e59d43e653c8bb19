import { tf } from '../tf.js';
import type { OpModule } from './types.js';
import { attr, isHost, onlyAttributes, toLogical, toStored, unsupported } from './util.js';

/** Transpose by a logical permutation (done in logical order); the gradient is the inverse permutation. */
export const transpose: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['perm']);
    const given = attr<number[]>(spec, 'perm');
    const permFor = (rank: number) => given ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    return {
      forward: ([x]) => {
        if (isHost(x)) throw unsupported(spec, 'transposing a shape value');
        return [toStored(tf.transpose(toLogical(x!), permFor(x!.rank)))];
      },
      backward: ([dy]) => {
        const perm = permFor(dy!.rank);
        const inverse = perm.map((_, i) => perm.indexOf(i));
        return [toStored(tf.transpose(toLogical(dy!), inverse))];
      },
      // A permutation that keeps the batch axis first transposes each item alone: stacked passes stay blocks.
      stacks: given !== undefined && given[0] === 0,
    };
  },
};
