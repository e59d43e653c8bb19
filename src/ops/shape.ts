import { tf } from '../tf.js';
import type { HostTensor, OpModule, Value } from './types.js';
import { attr, dimsOf, host, isHost, numbers, onlyAttributes, sizeOf, storedAxis, tensorOf, toHost, unsupported } from './util.js';

// The shape arithmetic of ONNX exports (view/flatten/channel shuffle sizes), evaluated in JS for the
// actual input size: every op here yields host values and passes no gradient.

/** Shape: a value's logical dimensions (start/end slice them). */
export const shape: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['start', 'end']);
    return {
      forward: ([x]) => {
        const dims = dimsOf(x!);
        const n = dims.length;
        const norm = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
        const out = dims.slice(norm(attr<number>(spec, 'start', 0)), norm(attr<number>(spec, 'end', n)));
        return [host([out.length], out, true)];
      },
    };
  },
};

/** Constant: its tensor attribute (or value_float(s) / value_int(s)) as a host value. */
export const constant: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['value', 'value_float', 'value_floats', 'value_int', 'value_ints']);
    const [name, v] = [...spec.node.attributes][0] ?? [];
    let out: HostTensor;
    if (name === 'value' && typeof v === 'object' && 'dims' in v) out = { dims: v.dims, data: v.data, int: !(v.data instanceof Float32Array) };
    else if (name === 'value_float' || name === 'value_int') out = host([], [v as number], name === 'value_int');
    else if (name === 'value_floats' || name === 'value_ints') out = host([(v as number[]).length], v as number[], name === 'value_ints');
    else throw unsupported(spec, 'a Constant without a supported value attribute');
    return { forward: () => [out] };
  },
};

/** Gather along a logical axis: of host values in JS; of a tensor with constant indices as tfjs gather (gradient not supported). */
export const gather: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['axis']);
    const axis0 = attr<number>(spec, 'axis', 0);
    return {
      forward: ([data, indices]): Value[] => {
        const dims = dimsOf(data!);
        const axis = axis0 < 0 ? axis0 + dims.length : axis0;
        const idx = toHost(indices!);
        const at = numbers(idx).map((i) => (i < 0 ? i + dims[axis]! : i));
        if (isHost(data)) {
          const outer = sizeOf(dims.slice(0, axis));
          const inner = sizeOf(dims.slice(axis + 1));
          const out: number[] = [];
          for (let o = 0; o < outer; o++) for (const i of at) out.push(...Array.from(data.data.subarray((o * dims[axis]! + i) * inner, (o * dims[axis]! + i + 1) * inner)));
          return [host([...dims.slice(0, axis), ...idx.dims, ...dims.slice(axis + 1)], out, data.int)];
        }
        if (idx.dims.length !== 1) throw unsupported(spec, 'gathering a tensor with indices of rank other than 1');
        return [tf.gather(tensorOf(data!), tf.tensor1d(at, 'int32'), storedAxis(axis, dims.length))];
      },
    };
  },
};

/** Cast: host values convert exactly (to integers by truncation); float tensors stay float32. */
export const cast: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['to', 'saturate']);
    const to = attr<number>(spec, 'to', 1);
    const toInt = ![1, 10, 11, 16].includes(to);
    return {
      forward: ([x]) => {
        if (isHost(x)) return [host(x.dims, Array.from(x.data, (v) => (toInt ? (to === 9 ? Number(v !== 0) : Math.trunc(v)) : v)), toInt)];
        if (toInt) throw unsupported(spec, 'casting a float tensor to integers');
        return [tf.clone(x!)];
      },
      backward: ([dy]) => [dy],
    };
  },
};

/** ConstantOfShape: a host tensor of the given shape filled with the value (default float 0). */
export const constantOfShape: OpModule = {
  create(spec) {
    onlyAttributes(spec, ['value']);
    const v = attr(spec, 'value') as { data: Float32Array | Float64Array } | undefined;
    const fill = v ? v.data[0]! : 0;
    const int = v ? !(v.data instanceof Float32Array) : false;
    return {
      forward: ([dims]) => {
        const d = numbers(toHost(dims!));
        return [host(d, new Array<number>(sizeOf(d)).fill(fill), int)];
      },
    };
  },
};

/** Range(start, limit, delta) as a host tensor. */
export const range: OpModule = {
  create(spec) {
    onlyAttributes(spec, []);
    return {
      forward: (inputs) => {
        const [start, limit, delta] = inputs.map((v) => toHost(v!)) as [HostTensor, HostTensor, HostTensor];
        const [s, l, d] = [start.data[0]!, limit.data[0]!, delta.data[0]!];
        const n = Math.max(Math.ceil((l - s) / d), 0);
        return [host([n], Array.from({ length: n }, (_, i) => s + i * d), start.int)];
      },
    };
  },
};

