import { overWhite, rgbaIntoRgb } from './alpha.js';
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
 * or undefined for anything else (palettes, 16 bits, interlacing, tRNS, a bad CRC, corrupt data, more
 * than `maxPixels`), which the caller hands to the full decoder, whose errors are the only ones.
 */
export function readCommonPng(bytes: Uint8Array, maxPixels: number, zlib: Zlib): Pixels | undefined {
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
  return unfilter(raw, width, height, channels) ? { data: toRgb(raw, width, height, channels), width, height } : undefined;
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

/**
 * Undoes the rows' filters in place: row y's samples end up at raw[y * (stride + 1) + 1 ...], each
 * filter reading the row above as already unfiltered (the first row's "above" is zeros, which turns
 * Up into nothing and Paeth into Sub). False for an unknown filter type.
 */
function unfilter(raw: Uint8Array, width: number, height: number, bpp: number): boolean {
  const stride = width * bpp;
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    const end = row + stride;
    let type = raw[row - 1];
    if (y === 0 && (type === 2 || type === 4)) type = type === 2 ? 0 : 1;
    if (type === 0) continue;
    if (type === 1) {
      for (let i = row + bpp; i < end; i++) raw[i] = (raw[i]! + raw[i - bpp]!) & 255;
    } else if (type === 2) {
      for (let i = row; i < end; i++) raw[i] = (raw[i]! + raw[i - stride - 1]!) & 255;
    } else if (type === 3) {
      if (y === 0) {
        for (let i = row + bpp; i < end; i++) raw[i] = (raw[i]! + (raw[i - bpp]! >> 1)) & 255;
        continue;
      }
      for (let i = row; i < row + bpp; i++) raw[i] = (raw[i]! + (raw[i - stride - 1]! >> 1)) & 255;
      for (let i = row + bpp; i < end; i++) raw[i] = (raw[i]! + ((raw[i - bpp]! + raw[i - stride - 1]!) >> 1)) & 255;
    } else if (type === 4) {
      // Left and upper-left are 0 for the first pixel, so Paeth picks the byte above.
      for (let i = row; i < row + bpp; i++) raw[i] = (raw[i]! + raw[i - stride - 1]!) & 255;
      for (let i = row + bpp; i < end; i++) {
        const a = raw[i - bpp]!;
        const b = raw[i - stride - 1]!;
        const c = raw[i - stride - 1 - bpp]!;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - c - c);
        raw[i] = (raw[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
    } else {
      return false;
    }
  }
  return true;
}

/** Unfiltered rows of grey, grey + alpha, RGB or RGBA samples -> RGB, alpha over white (one loop per layout). */
function toRgb(raw: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  const stride = width * channels;
  let j = 0;
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    const end = row + stride;
    if (channels === 3) {
      rgb.set(raw.subarray(row, end), j);
      j += stride;
    } else if (channels === 4) {
      rgbaIntoRgb(raw, row, rgb, j, width);
      j += width * 3;
    } else {
      for (let i = row; i < end; i += channels, j += 3) {
        const v = channels === 2 ? overWhite(raw[i]!, raw[i + 1]!) : raw[i]!;
        rgb[j] = rgb[j + 1] = rgb[j + 2] = v;
      }
    }
  }
  return rgb;
}
