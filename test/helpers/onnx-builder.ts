/**
 * Tiny ONNX models for tests, written with the importer's own protobuf code (src/importers/onnx/proto.ts).
 *
 *   buildOnnx({
 *     input: { name: 'x', shape: [1, 3, 8, 8] },
 *     output: { name: 'y' },
 *     initializers: [{ name: 'w', dims: [4, 3, 3, 3], data: weights }],
 *     nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attributes: { pads: [1, 1, 1, 1] } }],
 *   })
 */
import { DataType } from '../../src/importers/onnx/ir.js';
import {
  AttributeType, encodeModelMessage,
  type AttributeMessage, type MessageInit, type ModelMessage, type TensorMessage, type ValueInfoMessage,
} from '../../src/importers/onnx/proto.js';

export interface TensorSpec {
  readonly name?: string;
  readonly dims: readonly number[];
  /** Element values (converted to the element type); ignored when `raw` is given. */
  readonly data?: ArrayLike<number>;
  /** TensorProto.DataType code; float by default. */
  readonly elemType?: number;
  /** 'raw' (raw_data, little-endian; the default, as torch writes) or 'typed' (float_data, int64_data, ...). */
  readonly encoding?: 'raw' | 'typed';
  /** raw_data bytes as given (for float16/bfloat16 and malformed data). */
  readonly raw?: Uint8Array;
  /** Stored in an external-data file instead: its location, offset and length. */
  readonly external?: { readonly location: string; readonly offset?: number; readonly length?: number };
}

/**
 * An attribute: an integer number is INT and another number FLOAT; an array of integers INTS, other
 * number arrays FLOATS; strings STRING(S); a tensor spec TENSOR. `{ f }` / `{ floats }` force floats
 * (alpha: 1), and `{ message }` writes any AttributeProto fields as given (bogus types, graphs).
 */
export type AttributeSpec =
  | number | string | readonly number[] | readonly string[] | TensorSpec
  | { readonly f: number } | { readonly floats: readonly number[] } | { readonly message: MessageInit<AttributeMessage> };

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly domain?: string;
  readonly attributes?: Readonly<Record<string, AttributeSpec>>;
}

export interface ValueSpec {
  readonly name: string;
  /** Dimensions: a number, a symbolic name, or null for unknown; no shape at all when omitted. */
  readonly shape?: readonly (number | string | null)[];
  readonly elemType?: number;
}

export interface ModelSpec {
  readonly nodes: readonly NodeSpec[];
  readonly initializers?: readonly TensorSpec[];
  readonly input: ValueSpec | readonly ValueSpec[];
  readonly output: ValueSpec | readonly ValueSpec[];
  readonly opset?: number;
  readonly producer?: string;
}

export const buildOnnx = (spec: ModelSpec): Uint8Array => encodeModelMessage(onnxMessage(spec));

/** The ModelProto as plain objects, for tests that change fields before encoding it (encodeModelMessage). */
export function onnxMessage(spec: ModelSpec): MessageInit<ModelMessage> {
  const list = <T>(v: T | readonly T[]): readonly T[] => (Array.isArray(v) ? v : [v as T]);
  return {
    irVersion: 8,
    producerName: spec.producer ?? 'onnx-builder',
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    graph: {
      name: 'test',
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `/${n.op}_${i}`,
        opType: n.op,
        domain: n.domain ?? '',
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes ?? {}).map(([name, a]) => attributeMessage(name, a)),
      })),
      initializer: (spec.initializers ?? []).map((t) => tensorMessage(t)),
      input: list(spec.input).map(valueInfoMessage),
      output: list(spec.output).map(valueInfoMessage),
    },
  };
}

export function tensorMessage(t: TensorSpec): MessageInit<TensorMessage> {
  const elemType = t.elemType ?? DataType.FLOAT;
  const values = Array.from(t.data ?? []);
  const message: MessageInit<TensorMessage> = { name: t.name ?? '', dims: [...t.dims], dataType: elemType };
  if (t.external) {
    const entries = [{ key: 'location', value: t.external.location }];
    if (t.external.offset !== undefined) entries.push({ key: 'offset', value: String(t.external.offset) });
    if (t.external.length !== undefined) entries.push({ key: 'length', value: String(t.external.length) });
    return { ...message, dataLocation: 1, externalData: entries };
  }
  if (t.raw) return { ...message, rawData: t.raw };
  if (t.encoding === 'typed') return { ...message, ...typedData(elemType, values) };
  return { ...message, rawData: littleEndian(elemType, values) };
}

/** Element values as raw_data bytes (little-endian) for the plain numeric types. */
export function littleEndian(elemType: number, values: readonly number[]): Uint8Array {
  const arrays: Record<number, () => ArrayBufferView> = {
    [DataType.FLOAT]: () => new Float32Array(values),
    [DataType.DOUBLE]: () => new Float64Array(values),
    [DataType.INT64]: () => BigInt64Array.from(values, (v) => BigInt(v)),
    [DataType.UINT64]: () => BigUint64Array.from(values, (v) => BigInt(v)),
    [DataType.INT32]: () => new Int32Array(values),
    [DataType.UINT32]: () => new Uint32Array(values),
    [DataType.INT16]: () => new Int16Array(values),
    [DataType.UINT16]: () => new Uint16Array(values),
    [DataType.INT8]: () => new Int8Array(values),
    [DataType.UINT8]: () => new Uint8Array(values),
    [DataType.BOOL]: () => new Uint8Array(values),
  };
  const make = arrays[elemType];
  if (!make) throw new Error(`onnx-builder: give raw bytes for data type ${elemType}`);
  const view = make();
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function typedData(elemType: number, values: number[]): MessageInit<TensorMessage> {
  switch (elemType) {
    case DataType.FLOAT: return { floatData: values };
    case DataType.DOUBLE: return { doubleData: values };
    case DataType.INT64: return { int64Data: values };
    case DataType.UINT32:
    case DataType.UINT64: return { uint64Data: values };
    default: return { int32Data: values };
  }
}

function attributeMessage(name: string, a: AttributeSpec): MessageInit<AttributeMessage> {
  const isInt = (v: number): boolean => Number.isInteger(v);
  if (typeof a === 'number') return isInt(a) ? { name, type: AttributeType.INT, i: a } : { name, type: AttributeType.FLOAT, f: a };
  if (typeof a === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a) };
  if (Array.isArray(a)) {
    if (a.every((v) => typeof v === 'string')) return { name, type: AttributeType.STRINGS, strings: a.map((s: string) => new TextEncoder().encode(s)) };
    return a.every(isInt) ? { name, type: AttributeType.INTS, ints: [...a] } : { name, type: AttributeType.FLOATS, floats: [...a] };
  }
  if ('message' in a) return { name, ...a.message };
  if ('f' in a) return { name, type: AttributeType.FLOAT, f: a.f };
  if ('floats' in a) return { name, type: AttributeType.FLOATS, floats: [...a.floats] };
  return { name, type: AttributeType.TENSOR, t: tensorMessage(a as TensorSpec) };
}

function valueInfoMessage(v: ValueSpec): MessageInit<ValueInfoMessage> {
  const dim = v.shape?.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {}));
  return { name: v.name, type: { tensorType: { elemType: v.elemType ?? DataType.FLOAT, ...(dim ? { shape: { dim } } : {}) } } };
}

/**
 * Conv(3->4, 3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(4->5), named with torch's module
 * scopes (features.0, features.1, pool, fc) and dynamic batch/height/width; weights from a fixed seed.
 */
export function tinyCnn(seed = 1): ModelSpec {
  let s = seed >>> 0;
  const random = (n: number): number[] => Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
  return {
    input: { name: 'input', shape: ['batch', 3, 'height', 'width'] },
    output: { name: 'logits', shape: ['batch', 5] },
    initializers: [
      { name: 'features.0.weight', dims: [4, 3, 3, 3], data: random(108) },
      { name: 'features.0.bias', dims: [4], data: random(4) },
      { name: 'fc.weight', dims: [5, 4], data: random(20) },
      { name: 'fc.bias', dims: [5], data: random(5) },
    ],
    nodes: [
      { name: '/features/features.0/Conv', op: 'Conv', inputs: ['input', 'features.0.weight', 'features.0.bias'], outputs: ['/features/features.0/Conv_output_0'],
        attributes: { dilations: [1, 1], group: 1, kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] } },
      { name: '/features/features.1/Relu', op: 'Relu', inputs: ['/features/features.0/Conv_output_0'], outputs: ['/features/features.1/Relu_output_0'] },
      { name: '/pool/GlobalAveragePool', op: 'GlobalAveragePool', inputs: ['/features/features.1/Relu_output_0'], outputs: ['/pool/GlobalAveragePool_output_0'] },
      { name: '/Flatten', op: 'Flatten', inputs: ['/pool/GlobalAveragePool_output_0'], outputs: ['/Flatten_output_0'], attributes: { axis: 1 } },
      { name: '/fc/Gemm', op: 'Gemm', inputs: ['/Flatten_output_0', 'fc.weight', 'fc.bias'], outputs: ['logits'],
        attributes: { alpha: { f: 1 }, beta: { f: 1 }, transB: 1 } },
    ],
  };
}
