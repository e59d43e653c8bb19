/**
 * TensorProto -> OnnxTensor: the element data from raw_data (little-endian), the typed fields, or an
 * external-data file, converted to Float32Array (floating types) or Float64Array (integers, bool).
 */
import { GradcamError, WeightsError } from '../../errors.js';
import { DataType, type OnnxTensor } from './ir.js';
import { int64ToNumber, type Int64, type TensorMessage } from './proto.js';

/** Where a tensor comes from, for error messages, and the external-data files given with the model. */
export interface TensorContext {
  readonly source: string;
  readonly externalData?: ReadonlyMap<string, Uint8Array> | undefined;
}

// Bytes per element and whether the type converts to Float32Array.
const ELEMENT: Record<number, { bytes: number; float: boolean; name: string }> = {
  [DataType.FLOAT]: { bytes: 4, float: true, name: 'float' },
  [DataType.UINT8]: { bytes: 1, float: false, name: 'uint8' },
  [DataType.INT8]: { bytes: 1, float: false, name: 'int8' },
  [DataType.UINT16]: { bytes: 2, float: false, name: 'uint16' },
  [DataType.INT16]: { bytes: 2, float: false, name: 'int16' },
  [DataType.INT32]: { bytes: 4, float: false, name: 'int32' },
  [DataType.INT64]: { bytes: 8, float: false, name: 'int64' },
  [DataType.BOOL]: { bytes: 1, float: false, name: 'bool' },
  [DataType.FLOAT16]: { bytes: 2, float: true, name: 'float16' },
  [DataType.DOUBLE]: { bytes: 8, float: true, name: 'double' },
  [DataType.UINT32]: { bytes: 4, float: false, name: 'uint32' },
  [DataType.UINT64]: { bytes: 8, float: false, name: 'uint64' },
  [DataType.BFLOAT16]: { bytes: 2, float: true, name: 'bfloat16' },
};

/** Largest element count accepted: more than any CNN tensor, and small enough to allocate. */
const MAX_ELEMENTS = 2 ** 31;

/** Dimensions as non-negative safe integers; `what` names the tensor or value in errors. */
export function checkedDims(dims: readonly Int64[], what: string, source: string): number[] {
  return dims.map((d) => {
    const n = int64ToNumber(d);
    if (!Number.isSafeInteger(n) || n < 0) throw new WeightsError(`${source}: ${what} has an invalid dimension ${n}`);
    return n;
  });
}

export function tensorFromProto(t: TensorMessage, name: string, ctx: TensorContext): OnnxTensor {
  const what = `tensor '${name}'`;
  const elem = ELEMENT[t.dataType];
  if (elem === undefined) {
    if (t.dataType > 0 && t.dataType <= 23) throw new GradcamError('UNSUPPORTED', `${ctx.source}: ${what} has data type ${t.dataType}, which gradcam-wasm does not read`);
    throw new WeightsError(`${ctx.source}: ${what} has an invalid data type ${t.dataType}`);
  }
  if (t.segment) throw new GradcamError('UNSUPPORTED', `${ctx.source}: ${what} is segmented, which gradcam-wasm does not read`);
  const dims = checkedDims(t.dims, what, ctx.source);
  let count = 1;
  for (const d of dims) count *= d;
  if (count > MAX_ELEMENTS) throw new WeightsError(`${ctx.source}: ${what} has ${count} elements, more than ${MAX_ELEMENTS}`);
  const bytes = t.dataLocation === 1 ? externalBytes(t, what, ctx) : t.rawData.length > 0 ? t.rawData : undefined;
  if (bytes === undefined) return { name, dims, elemType: t.dataType, data: fromTypedField(t, count, what, ctx.source) };
  if (bytes.length !== count * elem.bytes) {
    throw new WeightsError(`${ctx.source}: ${what} (${elem.name} ${JSON.stringify(dims)}) needs ${count * elem.bytes} bytes of data, found ${bytes.length}`);
  }
  // Bytes (the bulk of a model's weights) are converted when read, by the op that copies them into the engine:
  // converting every initializer up front held a second copy of the weights beside the file while the model loaded.
  const type = t.dataType;
  return {
    name,
    dims,
    elemType: type,
    get data() {
      return fromLittleEndian(bytes, type, count);
    },
  };
}

/** Whether a data type converts to Float32Array (floating types); the others give Float64Array. */
export const isFloatType = (type: number): boolean => ELEMENT[type]?.float === true;

function externalBytes(t: TensorMessage, what: string, ctx: TensorContext): Uint8Array {
  const entry = new Map(t.externalData.map((e) => [e.key, e.value]));
  const location = entry.get('location');
  if (!location) throw new WeightsError(`${ctx.source}: ${what} is stored externally but names no location`);
  const file = ctx.externalData?.get(location);
  if (file === undefined) throw new WeightsError(`${ctx.source}: ${what} is stored in the external-data file '${location}', which was not given`);
  const offset = Number(entry.get('offset') ?? '0');
  const length = entry.has('length') ? Number(entry.get('length')) : file.length - offset;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > file.length) {
    throw new WeightsError(`${ctx.source}: ${what} lies outside its external-data file '${location}' (offset ${entry.get('offset')}, length ${entry.get('length')}, file ${file.length} bytes)`);
  }
  return file.subarray(offset, offset + length);
}

const littleEndianPlatform = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fromLittleEndian(bytes: Uint8Array, type: number, count: number): Float32Array | Float64Array {
  if (type === DataType.FLOAT && littleEndianPlatform) {
    // A copy (bytes may be a Node Buffer, whose slice() is a view into a shared pool).
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const float = ELEMENT[type]!.float;
  const out = float ? new Float32Array(count) : new Float64Array(count);
  const read = littleEndianReader(view, type);
  for (let i = 0; i < count; i++) out[i] = read(i);
  return out;
}

function littleEndianReader(view: DataView, type: number): (i: number) => number {
  switch (type) {
    case DataType.FLOAT: return (i) => view.getFloat32(4 * i, true);
    case DataType.DOUBLE: return (i) => view.getFloat64(8 * i, true);
    case DataType.FLOAT16: return (i) => halfToFloat(view.getUint16(2 * i, true));
    case DataType.BFLOAT16: return (i) => bfloat16ToFloat(view.getUint16(2 * i, true));
    case DataType.UINT8: return (i) => view.getUint8(i);
    case DataType.INT8: return (i) => view.getInt8(i);
    case DataType.BOOL: return (i) => (view.getUint8(i) !== 0 ? 1 : 0);
    case DataType.UINT16: return (i) => view.getUint16(2 * i, true);
    case DataType.INT16: return (i) => view.getInt16(2 * i, true);
    case DataType.INT32: return (i) => view.getInt32(4 * i, true);
    case DataType.UINT32: return (i) => view.getUint32(4 * i, true);
    case DataType.INT64: return (i) => view.getInt32(8 * i + 4, true) * 4294967296 + view.getUint32(8 * i, true);
    default: return (i) => view.getUint32(8 * i + 4, true) * 4294967296 + view.getUint32(8 * i, true); // UINT64
  }
}

// The typed repeated fields, as the ONNX spec assigns them to data types.
function fromTypedField(t: TensorMessage, count: number, what: string, source: string): Float32Array | Float64Array {
  const field = typedField(t);
  if (field.values.length !== count) {
    throw new WeightsError(`${source}: ${what} has ${count} elements but ${field.values.length} values in ${field.name}`);
  }
  const float = ELEMENT[t.dataType]!.float;
  const out = float ? new Float32Array(count) : new Float64Array(count);
  const convert = elementFromInt32(t.dataType);
  for (let i = 0; i < count; i++) {
    const v = field.values[i]!;
    out[i] = typeof v === 'number' ? (field.name === 'int32_data' ? convert(v) : v) : int64ToNumber(v);
  }
  return out;
}

function typedField(t: TensorMessage): { name: string; values: readonly Int64[] } {
  switch (t.dataType) {
    case DataType.FLOAT: return { name: 'float_data', values: t.floatData };
    case DataType.DOUBLE: return { name: 'double_data', values: t.doubleData };
    case DataType.INT64: return { name: 'int64_data', values: t.int64Data };
    case DataType.UINT32:
    case DataType.UINT64: return { name: 'uint64_data', values: t.uint64Data };
    default: return { name: 'int32_data', values: t.int32Data };
  }
}

// int32_data holds the small integer types, bool, and float16/bfloat16 as their 16-bit patterns.
function elementFromInt32(type: number): (v: number) => number {
  switch (type) {
    case DataType.FLOAT16: return (v) => halfToFloat(v & 0xffff);
    case DataType.BFLOAT16: return (v) => bfloat16ToFloat(v & 0xffff);
    case DataType.BOOL: return (v) => (v !== 0 ? 1 : 0);
    case DataType.UINT8: return (v) => v & 0xff;
    case DataType.INT8: return (v) => (v << 24) >> 24;
    case DataType.UINT16: return (v) => v & 0xffff;
    case DataType.INT16: return (v) => (v << 16) >> 16;
    default: return (v) => v;
  }
}

/** IEEE 754 half-precision bits -> number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const bf16Bits = new Uint32Array(1);
const bf16Value = new Float32Array(bf16Bits.buffer);
/** bfloat16 bits (the upper half of a float32) -> number (exact). */
export function bfloat16ToFloat(b: number): number {
  bf16Bits[0] = b << 16;
  return bf16Value[0]!;
}
