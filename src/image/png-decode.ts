import type { Kernels } from '../kernels/types.js';
import type { Pixels } from './preprocess.js';

/** What the PNG reader needs of zlib: the runtime's own (node:zlib in the server), passed, not imported. */
export interface Zlib {
  /** Inflates a zlib stream (checking its Adler-32); throws on corrupt data or more than `maxBytes` of output. */
  inflate(data: Uint8Array, maxBytes: number): Uint8Array;
  /** CRC-32 of bytes, as PNG chunks carry it. */
  crc32(data: Uint8Array): number;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const IHDR = 0x49484452;
const IDAT = 0x49444154;
const IEND = 0x49454e44;
const PLTE = 0x504c5445;
const TRNS = 0x74524e53;
/** Bytes per pixel of the 8-bit colour types read here: grey, RGB, grey + alpha, RGBA. */
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * The common PNG, read fast: 8 bits per sample, not interlaced, grey, RGB, grey + alpha or RGBA, no
 * transparency chunk. Returns RGB with alpha over white (as decodeImage: the same pixels as pngjs's),
 * or undefined for anything else (palettes, 16 bits, interlacing, tRNS, a bad CRC, corrupt data, an
 * unknown row filter, more than `maxPixels`), which the caller hands to the full decoder, whose errors
 * are the only ones. The rows are unfiltered and converted by `kernels.pngRowsToRgb`.
 */
export function readCommonPng(bytes: Uint8Array, maxPixels: number, zlib: Zlib, kernels: Pick<Kernels, 'pngRowsToRgb'>): Pixels | undefined {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  let at = 8;
  for (let first = true; ; first = false) {
    if (at + 12 > bytes.length) return undefined;
    const length = view.getUint32(at);
    const type = view.getUint32(at + 4);
    if (length > bytes.length - at - 12) return undefined;
    const start = at + 8;
    const data = bytes.subarray(start, start + length);
    if (zlib.crc32(bytes.subarray(at + 4, start + length)) !== view.getUint32(start + length)) return undefined;
    at = start + length + 4;
    if (first !== (type === IHDR)) return undefined;
    if (type === IHDR) {
      if (length !== 13) return undefined;
      width = view.getUint32(start);
      height = view.getUint32(start + 4);
      const [depth, colour, compression, filter, interlace] = data.subarray(8);
      channels = CHANNELS[colour!] ?? 0;
      if (depth !== 8 || channels === 0 || compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
      if (width === 0 || height === 0 || width * height > maxPixels) return undefined;
    } else if (type === IDAT) {
      idat.push(data);
    } else if (type === IEND) {
      break;
    } else if (type === PLTE || type === TRNS) {
      return undefined; // PLTE (a palette, or a rare hint in a truecolour file) and tRNS (alpha): left to the full decoder
    }
  }
  const stride = width * channels;
  let raw: Uint8Array;
  try {
    // No more than the rows need: a small file cannot inflate to gigabytes here.
    raw = zlib.inflate(idat.length === 1 ? idat[0]! : concat(idat), height * (stride + 1));
  } catch {
    return undefined;
  }
  if (raw.length < height * (stride + 1)) return undefined;
  const data = kernels.pngRowsToRgb(raw, width, height, channels);
  return data && { data, width, height };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
