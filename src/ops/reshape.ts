import { tf, type Tensor } from '../tf.js';
import type { HostTensor, OpModule, OpSpec, Value } from './types.js';
import { attr, dimsOf, isHost, logicalShape, numbers, onlyAttributes, reshapeLogical, sizeOf, stackedShape, toHost, unsupported } from './util.js';

/**
 * An op that only rearranges a value's elements in logical (ONNX, row-major NCHW) order: Reshape,
 * Flatten, Squeeze, Unsqueeze. `shapeOf` gives the output's logical shape. Rank-4 values are stored NHWC,
 * so a reshape to or from rank 4 goes through logical order: Flatten after global pooling gives torch's
 * element order. The gradient is the reshape back.
 */
function reshaping(attrs: string[], shapeOf: (spec: OpSpec, dims: number[], inputs: readonly Value[]) => number[]): OpModule {
  return {
    create(spec) {
      onlyAttributes(spec, attrs);
      return {
        forward: (inputs) => {
          const x = inputs[0]!;
          const dims = dimsOf(x);
          const out = shapeOf(spec, dims, inputs);
          if (sizeOf(out) !== sizeOf(dims)) throw unsupported(spec, `cannot reshape [${dims.join(', ')}] to [${out.join(', ')}]`);
          if (isHost(x)) return [{ ...x, dims: out } as HostTensor];
          return [reshapeLogical(x, out)];
        },
        backward: ([dy], saved, guided) => [reshapeLogical(dy!, stackedShape(logicalShape(saved.inputShapes[0]!), guided.length))],
        // A reshape keeps the elements' order, so k stacked blocks stay k blocks.
        stacks: true,
      };
    },
  };
}

/** A constant (or shape-subgraph) input's integers. */
const ints = (spec: OpSpec, inputs: readonly Value[], i: number, what: string): number[] => {
  const v = inputs[i];
  if (v === undefined) throw unsupported(spec, `${what} is missing`);
  return numbers(toHost(v));
};

const axesOf = (spec: OpSpec, inputs: readonly Value[], rank: number): number[] | undefined => {
  const raw = spec.node.inputs[1] ? ints(spec, inputs, 1, 'axes') : attr<number[]>(spec, 'axes');
  return raw?.map((a) => (a < 0 ? a + rank : a));
};

export const reshape = reshaping(['allowzero'], (spec, dims, inputs) => {
  const target = ints(spec, inputs, 1, 'the shape');
  const allowZero = attr<number>(spec, 'allowzero', 0) === 1;
  const out = target.map((d, i) => (d === 0 && !allowZero ? dims[i]! : d));
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return out.map((d) => (d === -1 ? sizeOf(dims) / known : d));
});

export const flatten = reshaping(['axis'], (spec, dims) => {
  let axis = attr<number>(spec, 'axis', 1);
  if (axis < 0) axis += dims.length;
  return [sizeOf(dims.slice(0, axis)), sizeOf(dims.slice(axis))];
});

export const squeeze = reshaping(['axes'], (spec, dims, inputs) => {
  const axes = axesOf(spec, inputs, dims.length);
  return dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
});

export const unsqueeze = reshaping(['axes'], (spec, dims, inputs) => {
  const rank = dims.length + (spec.node.inputs[1] ? toHost(inputs[1]!).data.length : (attr<number[]>(spec, 'axes') ?? []).length);
  const axes = axesOf(spec, inputs, rank) ?? [];
  const out: number[] = [];
  for (let i = 0, j = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : dims[j++]!);
  return out;
});

/** Identity and Dropout (inference): the value itself. */
export const identity: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['seed', 'ratio']);
    if (spec.node.outputs.length > 1 && spec.node.outputs[1]) throw unsupported(spec, 'the mask output');
    return {
      forward: ([x]) => [isHost(x) ? x : tf.clone(x as Tensor)],
      backward: ([dy]) => [dy],
      stacks: true,
    };
  },
};

