/**
 * What the ONNX importer hands to the graph builder: a checked, protobuf-free view of a ModelProto.
 * decode.ts produces it; nothing here depends on the protobuf library.
 */
export interface OnnxTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly elemType: number; // onnx TensorProto.DataType code (1 float, 7 int64, 9 bool, 10 float16, 11 double, 16 bfloat16, ...)
  // floats (float16/bfloat16/double converted) -> Float32Array; integers and bool -> Float64Array of the exact values
  readonly data: Float32Array | Float64Array;
}
export type OnnxAttribute = number | string | readonly number[] | readonly string[] | OnnxTensor;
export interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  readonly domain: string; // '' for ai.onnx
  readonly inputs: readonly string[]; // '' marks an omitted optional input
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, OnnxAttribute>;
}
export interface OnnxValueInfo {
  readonly name: string;
  readonly elemType: number;
  readonly shape: readonly (number | string | null)[] | null; // string = symbolic dim, null = unknown
}
export interface OnnxModel {
  readonly source: string; // file name / URL / 'bytes': used in every error message
  readonly opset: number; // ai.onnx opset version
  readonly producer: string;
  readonly nodes: readonly OnnxNode[]; // topologically sorted (checked)
  readonly initializers: ReadonlyMap<string, OnnxTensor>; // Constant nodes stay nodes
  readonly input: OnnxValueInfo; // the single non-initializer graph input (4-D)
  readonly output: OnnxValueInfo; // the single graph output
  // torch module paths in graph order with the ONNX value each one outputs (issue 9, item 3)
  readonly layers: readonly { readonly name: string; readonly value: string }[];
}

/** TensorProto.DataType codes the importer reads. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;
