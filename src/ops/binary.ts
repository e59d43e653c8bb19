import { tf, type Tensor } from '../tf.js';
import type { HostTensor, OpModule, Value } from './types.js';
import type { WasmHeap } from './kernels/heap.js';
import { addSame } from './kernels/add.js';
import { atRank, dimsOf, host, isHost, onlyAttributes, reduceTo, sizeOf, stackedShape } from './util.js';

type Grads = (dy: Tensor, a: Tensor, b: Tensor) => [Tensor, Tensor];

/** ONNX (numpy) broadcasting of two host tensors. */
function hostBroadcast(a: HostTensor, b: HostTensor, f: (x: number, y: number) => number): HostTensor {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: readonly number[]) => [...Array<number>(rank - d.length).fill(1), ...d];
  const [da, db] = [pad(a.dims), pad(b.dims)];
  const dims = da.map((d, i) => Math.max(d, db[i]!));
  const out = new Float64Array(sizeOf(dims));
  const index = (d: number[], flat: number[]) => flat.reduce((acc, v, i) => acc * d[i]! + (d[i] === 1 ? 0 : v), 0);
  const at = new Array<number>(rank).fill(0);
  for (let i = 0; i < out.length; i++) {
    let r = i;
    for (let k = rank - 1; k >= 0; k--) {
      at[k] = r % dims[k]!;
      r = Math.floor(r / dims[k]!);
    }
    out[i] = f(a.data[index(da, at)]!, b.data[index(db, at)]!);
  }
  const int = a.int && b.int;
  return host(dims, out, int);
}

/**
 * A broadcasting binary op: on host values (shape arithmetic) in JS, on tensors with tfjs; the
 * gradient of each tensor input is summed back over the axes it was broadcast along.
 */
function binary(hostFn: (x: number, y: number, int: boolean) => number, f: (a: Tensor, b: Tensor, heap: WasmHeap) => Tensor, grads: Grads, needsInputs: boolean): OpModule {
  return {
    create(spec, { heap }) {
      onlyAttributes(spec, []);
      return {
        forward: ([a, b]): Value[] => {
          if (isHost(a) && isHost(b)) return [hostBroadcast(a, b, (x, y) => hostFn(x, y, a.int && b.int))];
          const rank = Math.max(dimsOf(a!).length, dimsOf(b!).length);
          return [f(atRank(a!, rank), atRank(b!, rank), heap)];
        },
        backward: ([dy], saved, guided) => {
          const [sa, sb] = saved.inputShapes as [number[], number[]];
          /** The gradients from d, which stacks k passes. */
          const of = (d: Tensor, k: number): Tensor[] => {
            const rank = d.rank;
            const [ga, gb] = needsInputs ? grads(d, atRank(saved.inputs[0]!, rank), atRank(saved.inputs[1]!, rank)) : grads(d, d, d);
            return [reduceTo(ga, stackedShape(sa, k)), reduceTo(gb, stackedShape(sb, k))];
          };
          // Stacked passes (only without saved inputs): as one when neither input was broadcast, else pass by pass.
          const k = guided.length;
          const part = [dy!.shape[0]! / k, ...dy!.shape.slice(1)];
          const same = (s: readonly number[]) => s.length === part.length && s.every((d, i) => d === part[i]);
          if (k === 1 || (same(sa) && same(sb))) return of(dy!, k);
          const parts = tf.split(dy!, k, 0).map((d) => of(d, 1));
          return [0, 1].map((i) => tf.concat(parts.map((p) => p[i]!), 0));
        },
        saves: needsInputs ? { inputs: [0, 1] } : undefined,
        stacks: !needsInputs,
      };
    },
  };
}

export const add = binary((x, y) => x + y, (a, b, heap) => addSame(heap, a, b), (dy) => [dy, dy], false);
export const sub = binary((x, y) => x - y, tf.sub, (dy) => [dy, tf.neg(dy)], false);
export const mul = binary((x, y) => x * y, tf.mul, (dy, a, b) => [tf.mul(dy, b), tf.mul(dy, a)], true);
export const div = binary(
  (x, y, int) => (int ? Math.trunc(x / y) : x / y),
  tf.div,
  (dy, a, b) => [tf.div(dy, b), tf.neg(tf.div(tf.mul(dy, a), tf.square(b)))],
  true,
);
/** Pow: the exponent's gradient is not needed (it is a constant in every export we know); a 0 is returned for it. */
export const pow = binary(
  (x, y) => x ** y,
  tf.pow,
  (dy, a, b) => [tf.mul(dy, tf.mul(b, tf.pow(a, tf.sub(b, 1)))), tf.zerosLike(b)],
  true,
);
