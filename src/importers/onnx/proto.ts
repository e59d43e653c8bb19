/**
 * Typed access to the generated protobuf code (onnx-pb.generated.ts, from schema.proto): the fields of
 * each message that the importer reads or the test builder writes. Decoded optional fields that were
 * absent on the wire read as the defaults below and are not own properties of the message.
 */
import { onnx } from './onnx-pb.generated.js';

// The generated module is untyped (@ts-nocheck); these are the two functions used from it.
const ModelProto = (onnx as unknown as {
  ModelProto: { decode(bytes: Uint8Array): unknown; encode(message: unknown): { finish(): Uint8Array } };
}).ModelProto;

/** An int64 as protobufjs decodes it: a number, or a long.js Long when that library is present. */
export type Int64 = number | { readonly low: number; readonly high: number; readonly unsigned: boolean };

export interface EntryMessage { key: string; value: string }
export interface OpsetMessage { domain: string; version: Int64 }
export interface TensorMessage {
  dims: Int64[];
  dataType: number;
  segment?: { begin: Int64; end: Int64 } | null;
  floatData: number[];
  int32Data: number[];
  stringData: Uint8Array[];
  int64Data: Int64[];
  name: string;
  rawData: Uint8Array;
  doubleData: number[];
  uint64Data: Int64[];
  externalData: EntryMessage[];
  dataLocation: number;
}
export interface AttributeMessage {
  name: string;
  f: number;
  i: Int64;
  s: Uint8Array;
  t?: TensorMessage | null;
  g: Uint8Array;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  tensors: TensorMessage[];
  graphs: Uint8Array[];
  type: number;
  refAttrName: string;
  sparseTensor: Uint8Array;
  sparseTensors: Uint8Array[];
}
export interface NodeMessage { input: string[]; output: string[]; name: string; opType: string; attribute: AttributeMessage[]; domain: string }
export interface DimensionMessage { dimValue: Int64; dimParam: string }
export interface TypeMessage {
  tensorType?: { elemType: number; shape?: { dim: DimensionMessage[] } | null } | null;
  sequenceType: Uint8Array;
  mapType: Uint8Array;
  sparseTensorType: Uint8Array;
  optionalType: Uint8Array;
}
export interface ValueInfoMessage { name: string; type?: TypeMessage | null }
export interface GraphMessage {
  node: NodeMessage[];
  name: string;
  initializer: TensorMessage[];
  input: ValueInfoMessage[];
  output: ValueInfoMessage[];
  valueInfo: ValueInfoMessage[];
  sparseInitializer: Uint8Array[];
}
export interface ModelMessage {
  irVersion: Int64;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: Int64;
  graph?: GraphMessage | null;
  opsetImport: OpsetMessage[];
  metadataProps: EntryMessage[];
  functions: Uint8Array[];
}

/** AttributeProto.AttributeType codes. */
export const AttributeType = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9,
  GRAPHS: 10, SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

/** Decodes ModelProto bytes; throws whatever protobufjs throws on malformed input (the caller wraps it). */
export const decodeModelMessage = (bytes: Uint8Array): ModelMessage => ModelProto.decode(bytes) as ModelMessage;

/** A message written from plain objects: every field optional, nested messages likewise. */
export type MessageInit<T> = { [K in keyof T]?: T[K] extends readonly (infer E)[] ? (E extends object ? MessageInit<E>[] : E[]) : T[K] extends object | null | undefined ? MessageInit<NonNullable<T[K]>> : T[K] };

/** Encodes a ModelProto (the test builder's path) into a plain Uint8Array of its own. */
export const encodeModelMessage = (message: MessageInit<ModelMessage>): Uint8Array => new Uint8Array(ModelProto.encode(message).finish());

/** An int64 as a number; values beyond 2^53 round to the nearest double (ONNX uses INT64_MAX as "to the end"). */
export function int64ToNumber(v: Int64): number {
  if (typeof v === 'number') return v;
  return (v.unsigned ? v.high >>> 0 : v.high | 0) * 4294967296 + (v.low >>> 0);
}
