import { InvalidInputError } from '../errors.js';

/** A NumPy array as stored in a .npy file (C order, little-endian float32 or uint8). */
export interface NpyArray {
  readonly dtype: 'float32' | 'uint8';
  readonly shape: readonly number[];
  readonly data: Float32Array | Uint8Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DESCR = { float32: '<f4', uint8: '|u1' } as const;

export function decodeNpy(bytes: Uint8Array): NpyArray {
  const bad = (why: string) => new InvalidInputError(`not a supported .npy file: ${why}`);
  if (bytes.byteLength < 10 || !MAGIC.every((b, i) => bytes[i] === b)) throw bad('missing \\x93NUMPY magic');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (major < 1 || major > 3) throw bad(`format version ${major}`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > bytes.byteLength) throw bad('header runs past the end of the file');
  const header = new TextDecoder('latin1').decode(bytes.subarray(8 + lenBytes, dataStart));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad('unreadable header');
  if (fortran === 'True') throw bad('Fortran order is not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`invalid shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const payload = bytes.subarray(dataStart);
  if (descr === DESCR.float32) {
    if (payload.byteLength !== count * 4) throw bad(`expected ${count * 4} data bytes, found ${payload.byteLength}`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(payload);
    return { dtype: 'float32', shape, data };
  }
  if (descr === DESCR.uint8) {
    if (payload.byteLength !== count) throw bad(`expected ${count} data bytes, found ${payload.byteLength}`);
    return { dtype: 'uint8', shape, data: payload.slice() };
  }
  throw bad(`dtype '${descr}' (only float32 '<f4' and uint8 '|u1' are supported)`);
}

export function encodeNpy(data: Float32Array | Uint8Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new InvalidInputError(`shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
  const descr = data instanceof Float32Array ? DESCR.float32 : DESCR.uint8;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that magic + version + length + header is a multiple of 64, ending with a newline.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
