import { WeightsError } from '../errors.js';
import type { ByteSource } from '../runtime/io.js';

/** Safetensors dtypes we can turn into float32. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';
export type Dtype = FloatDtype | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

const BYTES_PER_ELEMENT: Record<Dtype, number> = {
  F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};
const isFloatDtype = (d: Dtype): d is FloatDtype => d === 'F32' || d === 'F16' || d === 'BF16';
// A real header is a few KB; anything past this is a corrupt length field, not a header to allocate for.
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

export interface TensorInfo {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Byte range inside the data section (after the header). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /**
   * The tensor converted to float32; throws WeightsError for other dtypes and on NaN/Inf. `transient`: in a
   * scratch array that the next transient read overwrites (for data consumed at once, as a filter that is
   * copied into the engine; it saves the page faults of a fresh array per tensor).
   */
  float32(key: string, transient?: boolean): Float32Array;
}

const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isByteSource = (v: unknown): v is ByteSource =>
  typeof v === 'object' && v !== null && typeof (v as ByteSource).read === 'function' && isNonNegInt((v as ByteSource).byteLength);

/**
 * Parses a safetensors file (8-byte little-endian header length, JSON header, raw data). Tensor data is
 * read only when asked for, without copying from in-memory bytes. Every offset is checked before use.
 */
export function parseSafetensors(source: Uint8Array | ByteSource): SafetensorsFile {
  const bytes: ByteSource | undefined =
    source instanceof Uint8Array
      ? { byteLength: source.byteLength, read: (o, n, into) => (into ? (into.set(source.subarray(o, o + n)), into.subarray(0, n)) : source.subarray(o, o + n)) }
      : isByteSource(source)
        ? source
        : undefined;
  if (!bytes) throw new WeightsError('weights must be a Uint8Array');
  if (bytes.byteLength < 8) throw new WeightsError(`not a safetensors file: ${bytes.byteLength} bytes is shorter than the 8-byte header length`);
  const lenBytes = bytes.read(0, 8);
  const headerLen64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen64 > BigInt(bytes.byteLength - 8)) {
    throw new WeightsError(`not a safetensors file or truncated: header length ${headerLen64} exceeds the ${bytes.byteLength - 8} bytes after it`);
  }
  const headerLen = Number(headerLen64);
  if (headerLen > MAX_HEADER_BYTES) throw new WeightsError(`header length ${headerLen} is implausibly large`);
  if (headerLen < 2) throw new WeightsError('not a safetensors file: empty header');

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.read(8, headerLen)));
  } catch (cause) {
    throw new WeightsError(`not a safetensors file: header is not valid JSON (${(cause as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new WeightsError('not a safetensors file: header is not a JSON object');
  }

  const dataStart = 8 + headerLen;
  // Transient reads (float32(key, true)) land in one array, grown as needed, which lives as long as this file's
  // object: loading a model reads every filter once, and a fresh array for each costs more in page faults than
  // the reading (ResNet34's 87 MB of conv weights: ~0.3 s of its start on a VM where new pages cost ~3.5 ms/MB).
  let scratch = new Float32Array(0);
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (entry !== null && typeof entry === 'object') metadata = entry as Record<string, string>;
      continue;
    }
    tensors.set(key, checkEntry(key, entry, dataLen));
  }
  checkNoOverlap(tensors);

  return {
    metadata,
    tensors,
    float32(key: string, transient = false): Float32Array {
      const info = tensors.get(key);
      if (!info) throw new WeightsError('missing tensor', key);
      if (!isFloatDtype(info.dtype)) throw new WeightsError(`dtype ${info.dtype} is not a float type (expected F32, F16 or BF16)`, key);
      const [at, size] = [dataStart + info.begin, info.end - info.begin];
      let out: Float32Array;
      if (transient && info.dtype === 'F32') {
        // Little-endian hosts (all wasm runtimes) read F32 bytes as they are.
        if (scratch.length < size / 4) scratch = new Float32Array(size / 4);
        out = scratch.subarray(0, size / 4);
        bytes.read(at, size, new Uint8Array(out.buffer, out.byteOffset, size));
      } else {
        out = toFloat32(bytes.read(at, size), info.dtype);
      }
      for (let i = 0; i < out.length; i++) {
        if (!Number.isFinite(out[i])) throw new WeightsError(`non-finite value (${out[i]}) at flat index ${i}`, key);
      }
      return out;
    },
  };
}

function checkEntry(key: string, entry: unknown, dataLen: number): TensorInfo {
  if (entry === null || typeof entry !== 'object') throw new WeightsError('header entry is not an object', key);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(BYTES_PER_ELEMENT, dtype)) {
    throw new WeightsError(`unknown dtype ${JSON.stringify(dtype)}`, key);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) throw new WeightsError(`invalid shape ${JSON.stringify(shape)}`, key);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
    throw new WeightsError(`invalid data_offsets ${JSON.stringify(offsets)}`, key);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLen) {
    throw new WeightsError(`data_offsets [${begin}, ${end}] fall outside the ${dataLen}-byte data section`, key);
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const size = BYTES_PER_ELEMENT[dtype as Dtype];
  if (count * size !== end - begin) {
    throw new WeightsError(`shape [${shape.join(', ')}] of ${dtype} needs ${count * size} bytes but data_offsets span ${end - begin}`, key);
  }
  return { dtype: dtype as Dtype, shape: shape as number[], begin, end };
}

/** The format forbids tensors that share bytes (one write would change another tensor). */
function checkNoOverlap(tensors: ReadonlyMap<string, TensorInfo>): void {
  const spans = [...tensors].filter(([, t]) => t.end > t.begin).sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < spans.length; i++) {
    const [prevKey, prev] = spans[i - 1]!;
    const [key, t] = spans[i]!;
    if (t.begin < prev.end) throw new WeightsError(`data_offsets [${t.begin}, ${t.end}] overlap those of ${prevKey} [${prev.begin}, ${prev.end}]`, key);
  }
}

function toFloat32(raw: Uint8Array, dtype: FloatDtype): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.byteLength / BYTES_PER_ELEMENT[dtype];
  // A tensor read from a file on its own (a fresh buffer) is used as it is: no second copy (little-endian hosts).
  if (dtype === 'F32' && raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength) return new Float32Array(raw.buffer, 0, n);
  const out = new Float32Array(n);
  if (dtype === 'F32') {
    // Little-endian hosts (all wasm runtimes) can copy the bytes as they are.
    new Uint8Array(out.buffer).set(raw);
  } else if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = view.getUint16(i * 2, true) << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Writes a safetensors file; used by tests and tools that make weights. */
export function encodeSafetensors(tensors: Record<string, { dtype: Dtype; shape: number[]; data: Uint8Array }>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [key, t] of Object.entries(tensors)) {
    header[key] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(Math.ceil(json.byteLength / 8) * 8).fill(0x20);
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const t of Object.values(tensors)) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}
