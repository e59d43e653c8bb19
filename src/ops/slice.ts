import { tf, type Tensor } from '../tf.js';
import type { OpModule, Value } from './types.js';
import { dimsOf, host, isHost, numbers, onlyAttributes, sizeOf, storedAxis, toHost, unsupported } from './util.js';

interface Range {
  readonly axis: number; // logical
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

/** ONNX Slice's per-axis ranges, clamped as the spec says. */
function ranges(inputs: readonly Value[], dims: number[]): Range[] {
  const get = (i: number): number[] | undefined => (inputs[i] === undefined ? undefined : numbers(toHost(inputs[i]!)));
  const starts = get(1)!;
  const ends = get(2)!;
  const axes = get(3) ?? starts.map((_, i) => i);
  const steps = get(4) ?? starts.map(() => 1);
  return axes.map((ax, i) => {
    const axis = ax < 0 ? ax + dims.length : ax;
    const n = dims[axis]!;
    const step = steps[i]!;
    const norm = (v: number) => (v < 0 ? v + n : v);
    const [lo, hi] = step > 0 ? [0, n] : [-1, n - 1];
    const clamp = (v: number) => Math.min(Math.max(norm(v), lo), hi);
    return { axis, start: clamp(starts[i]!), end: clamp(ends[i]!), step };
  });
}

/** Slice (any steps) on tensors and host values; the gradient (positive steps) is the slice padded back with zeros. */
export const slice: OpModule = {
  create(spec) {
    onlyAttributes(spec, []);
    if (spec.node.inputs.length < 3) throw unsupported(spec, 'opset < 10 (starts/ends as attributes)');
    return {
      forward: (inputs): Value[] => {
        const x = inputs[0]!;
        const dims = dimsOf(x);
        const rs = ranges(inputs, dims);
        const begin = dims.map(() => 0);
        const end = [...dims];
        const strides = dims.map(() => 1);
        for (const r of rs) [begin[r.axis], end[r.axis], strides[r.axis]] = [r.start, r.end, r.step];
        if (isHost(x)) {
          if (dims.length !== 1) throw unsupported(spec, 'slicing a shape value of rank > 1');
          const out: number[] = [];
          for (let i = begin[0]!; strides[0]! > 0 ? i < end[0]! : i > end[0]!; i += strides[0]!) out.push(x.data[i]!);
          return [host([out.length], out, x.int)];
        }
        const perm = (a: number[]) => {
          const s = a.slice();
          if (dims.length === 4) [s[1], s[2], s[3]] = [a[2]!, a[3]!, a[1]!];
          return s;
        };
        // Empty ranges stay empty (end = start for positive steps).
        return [tf.stridedSlice(x, perm(begin), perm(end), perm(strides))];
      },
      backward: ([dy], saved) => {
        const shape = saved.inputShapes[0]!;
        const dims = shape.length === 4 ? [shape[0]!, shape[3]!, shape[1]!, shape[2]!] : [...shape];
        const pads: [number, number][] = shape.map(() => [0, 0]);
        for (const r of ranges(saved.inputs as Value[], dims)) {
          if (r.step !== 1) throw unsupported(spec, `the gradient of a slice with step ${r.step}`);
          const a = storedAxis(r.axis, shape.length);
          pads[a] = [r.start, shape[a]! - Math.max(r.end, r.start)];
        }
        if (sizeOf(dy!.shape) === 0) return [tf.zeros([...shape])];
        return [tf.pad(dy as Tensor, pads)];
      },
      saves: { inputs: [1, 2, 3, 4] },
    };
  },
};

