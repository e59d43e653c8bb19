import { tf, type Tensor } from '../tf.js';
import type { HostTensor, OpModule, Value } from './types.js';
import { attr, dimsOf, host, isHost, numbers, onlyAttributes, sizeOf, storedAxis, tensorOf, toHost, unsupported } from './util.js';

/** Concatenation of host tensors along a logical axis. */
function hostConcat(parts: HostTensor[], axis: number): HostTensor {
  const dims = [...parts[0]!.dims];
  const outer = sizeOf(dims.slice(0, axis));
  const inner = sizeOf(dims.slice(axis + 1));
  dims[axis] = parts.reduce((s, p) => s + p.dims[axis]!, 0);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (const p of parts) out.push(...numbers(p).slice(o * p.dims[axis]! * inner, (o + 1) * p.dims[axis]! * inner));
  return host(dims, out, parts.every((p) => p.int));
}

/** Concat along a logical axis (DenseNet's channel concat is the stored last axis); the gradient is split back. */
export const concat: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['axis']);
    const axis = attr<number>(spec, 'axis');
    if (axis === undefined) throw unsupported(spec, 'the axis attribute is missing');
    return {
      forward: (inputs): Value[] => {
        const rank = dimsOf(inputs[0]!).length;
        const a = axis < 0 ? axis + rank : axis;
        if (inputs.every(isHost)) return [hostConcat(inputs.map(toHost), a)];
        return [tf.concat(inputs.map(tensorOf), storedAxis(a, rank))];
      },
      backward: ([dy], saved) => {
        const rank = dy!.rank;
        const stored = storedAxis(axis, rank);
        return tf.split(dy!, saved.inputShapes.map((s) => s[stored]!), stored) as Tensor[];
      },
      // Split back along an axis other than the batch's: stacked passes split alike.
      stacks: axis > 0,
    };
  },
};

/** Split along a logical axis into the sizes of `split` (input or attribute) or equal parts; the gradient is concatenated. */
export const split: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['axis', 'split', 'num_outputs']);
    const axis = attr<number>(spec, 'axis', 0);
    const sizesFor = (inputs: readonly Value[], n: number): number[] => {
      const given = spec.node.inputs[1] ? numbers(toHost(inputs[1]!)) : attr<number[]>(spec, 'split');
      if (given) return [...given];
      const parts = spec.node.outputs.length;
      const each = Math.ceil(n / parts);
      return Array.from({ length: parts }, (_, i) => Math.min(each, n - i * each));
    };
    return {
      forward: (inputs) => {
        const x = inputs[0]!;
        if (isHost(x)) throw unsupported(spec, 'splitting a shape value');
        const rank = x.rank;
        const stored = storedAxis(axis, rank);
        return tf.split(x, sizesFor(inputs, x.shape[stored]!), stored);
      },
      backward: (dys, saved) => {
        const shape = saved.inputShapes[0]!;
        const stored = storedAxis(axis, shape.length);
        const sizes = sizesFor(saved.inputs as Value[], shape[stored]!);
        const parts = sizes.map((n, i) => dys[i] ?? tf.zeros(shape.map((d, k) => (k === stored ? n : d))));
        return [tf.concat(parts, stored)];
      },
      saves: { inputs: [1] },
    };
  },
};
