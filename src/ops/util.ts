import { tf, type Tensor } from '../tf.js';
import { GradcamError } from '../errors.js';
import type { Attribute, HostTensor, OpSpec, Value } from './types.js';

/** GradcamError('UNSUPPORTED') naming the op, the node and the model file. */
export const unsupported = (spec: OpSpec, what: string): GradcamError =>
  new GradcamError('UNSUPPORTED', `${spec.node.opType} node '${spec.node.name}' in ${spec.source}: ${what}`);

export function attr<T extends Attribute>(spec: OpSpec, name: string, fallback: T): T;
export function attr<T extends Attribute>(spec: OpSpec, name: string): T | undefined;
export function attr<T extends Attribute>(spec: OpSpec, name: string, fallback?: T): T | undefined {
  const value = spec.node.attributes.get(name) as T | undefined;
  // An attribute of another kind than its default (an INT where INTS belong) is a malformed model.
  if (value !== undefined && fallback !== undefined && attributeKind(value) !== attributeKind(fallback)) {
    throw unsupported(spec, `attribute '${name}' is ${attributeKind(value)}, not ${attributeKind(fallback)}`);
  }
  return value ?? fallback;
}

const attributeKind = (a: Attribute): string => (typeof a === 'number' ? 'a number' : typeof a === 'string' ? 'a string' : Array.isArray(a) ? 'a list' : 'a tensor');

/** Fails on any attribute outside `known`: nothing is silently ignored. */
export function onlyAttributes(spec: OpSpec, known: readonly string[]): void {
  for (const name of spec.node.attributes.keys()) if (!known.includes(name)) throw unsupported(spec, `attribute '${name}' is not supported`);
}

/** A constant input's values, or an UNSUPPORTED error when it is not known when the graph is built. */
export function constantInput(spec: OpSpec, index: number, what: string): HostTensor {
  const c = spec.constants[index];
  if (!c) throw unsupported(spec, `${what} (input ${index}) must be a constant`);
  return c;
}

export const isHost = (v: Value | undefined): v is HostTensor => v !== undefined && !(v instanceof tf.Tensor);
export const host = (dims: readonly number[], data: ArrayLike<number>, int: boolean): HostTensor => ({ dims: [...dims], data: int ? Float64Array.from(data) : Float32Array.from(data), int });
export const sizeOf = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** A host tensor's values as plain numbers (for sizes, axes, indices). */
export const numbers = (h: HostTensor): number[] => Array.from(h.data);

/** A value as a host tensor: constants already are; a tensor is read back (small shape tensors only). */
export function toHost(v: Value): HostTensor {
  if (isHost(v)) return v;
  const t = toLogical(v);
  const h = host(t.shape, t.dataSync(), v.dtype !== 'float32');
  if (t !== v) t.dispose();
  return h;
}

// Layout: rank-4 tensors are stored NHWC, every other rank in logical (ONNX) order.

/** Stored axis of logical axis `axis` (negative counts from the end) of a rank-`rank` value. */
export function storedAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  return rank === 4 ? [0, 3, 1, 2][a]! : a;
}

/** Logical (NCHW) shape of a stored shape. */
export const logicalShape = (stored: readonly number[]): number[] => (stored.length === 4 ? [stored[0]!, stored[3]!, stored[1]!, stored[2]!] : [...stored]);

/** A stored tensor in logical order (a new tensor for rank 4, the same one otherwise). */
export const toLogical = (t: Tensor): Tensor => (t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t);

/** A logical-order tensor in stored order. */
export const toStored = (t: Tensor): Tensor => (t.rank === 4 ? tf.transpose(t, [0, 2, 3, 1]) : t);

/** A value as a stored float32 tensor (host values become tensors). */
export function tensorOf(v: Value): Tensor {
  if (!isHost(v)) return v;
  return toStored(tf.tensor(v.data instanceof Float32Array ? v.data : Float32Array.from(v.data), [...v.dims], 'float32'));
}

/** Stored shape of a logical shape. */
export const storedShape = (logical: readonly number[]): number[] => (logical.length === 4 ? [logical[0]!, logical[2]!, logical[3]!, logical[1]!] : [...logical]);

/** A value as a stored tensor of rank `rank` (leading axes of size 1 added in logical order, ONNX broadcasting). */
export function atRank(v: Value, rank: number): Tensor {
  const t = tensorOf(v);
  if (t.rank === rank) return t;
  const dims = logicalShape(t.shape);
  return toStored(tf.reshape(toLogical(t), [...Array<number>(rank - dims.length).fill(1), ...dims]));
}

/** A gradient at a broadcast output, summed back to an input's stored shape (the adjoint of atRank + broadcasting). */
export function reduceTo(g: Tensor, shape: readonly number[]): Tensor {
  const rank = g.rank;
  const logical = logicalShape(shape);
  const target = shape.length === rank ? shape : storedShape([...Array<number>(rank - logical.length).fill(1), ...logical]);
  const axes = target.map((d, i) => (d === 1 && g.shape[i] !== 1 ? i : -1)).filter((i) => i >= 0);
  const r = axes.length ? tf.sum(g, axes, true) : g;
  return shape.length === rank ? r : toStored(tf.reshape(toLogical(r), logical));
}

/** The shape of k stacked gradient passes over a value of shape `shape` (see NodeKernel.stacks). */
export const stackedShape = (shape: readonly number[], k: number): number[] => (k === 1 ? [...shape] : [shape[0]! * k, ...shape.slice(1)]);

/** A tensor reshaped (in logical order) to a logical shape, stored. */
export const reshapeLogical = (t: Tensor, logical: readonly number[]): Tensor => toStored(tf.reshape(toLogical(t), [...logical]));

/** A value's logical shape. */
export const dimsOf = (v: Value): number[] => (isHost(v) ? [...v.dims] : logicalShape(v.shape));
