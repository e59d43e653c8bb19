import { inflateSync } from 'node:zlib';
import { rgbaOverWhite } from '../image/alpha.js';
import { decodeImage } from '../image/decode.js';
import type { Pixels } from '../image/preprocess.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ascii = (b: Uint8Array, at: number) => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

/**
 * An upload decoded as decodeImage does, with a fast path for the PNGs that need nothing but inflating
 * and unfiltering (8-bit RGB or RGBA, not interlaced, no tRNS or eXIf chunk, every CRC right): Node's
 * native zlib instead of jimp's pngjs, about 5x faster, which matters when decoding costs a sixth of a
 * small model's explanation. Everything else (JPEG, palettes, 16 bits, broken files) goes to
 * decodeImage, so errors and limits are its own; the fast path gives the same pixels.
 */
export async function decodeUpload(bytes: Uint8Array, maxPixels: number): Promise<Pixels> {
  return simplePng(bytes, maxPixels) ?? decodeImage(bytes, maxPixels);
}

/** The pixels of a simple PNG (see decodeUpload); undefined for anything else. */
export function simplePng(b: Uint8Array, maxPixels: number): Pixels | undefined {
  if (b.length < 45 || SIGNATURE.some((v, i) => b[i] !== v)) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const idat: Uint8Array[] = [];
  let header: { width: number; height: number; channels: number } | undefined;
  for (let at = 8; ; ) {
    if (at + 12 > b.length) return undefined;
    const length = dv.getUint32(at);
    const type = ascii(b, at + 4);
    const start = at + 8;
    if (start + length + 4 > b.length || crc32(b.subarray(at + 4, start + length)) !== dv.getUint32(start + length)) return undefined;
    const data = b.subarray(start, start + length);
    at = start + length + 4;
    if (header === undefined) {
      if (type !== 'IHDR' || length !== 13) return undefined;
      const [depth, color, compression, filter, interlace] = data.subarray(8);
      const width = dv.getUint32(start);
      const height = dv.getUint32(start + 4);
      if (depth !== 8 || (color !== 2 && color !== 6) || compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
      if (width === 0 || height === 0 || width * height > maxPixels) return undefined;
      header = { width, height, channels: color === 2 ? 3 : 4 };
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'tRNS' || type === 'eXIf') return undefined;
    else if (type === 'IEND') break;
  }
  const { width, height, channels } = header;
  const stride = width * channels;
  let raw: Uint8Array;
  try {
    raw = inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat));
  } catch {
    return undefined;
  }
  if (raw.length !== height * (stride + 1)) return undefined;
  const out = new Uint8Array(height * stride);
  if (!unfilter(raw, out, height, stride, channels)) return undefined;
  return { data: channels === 3 ? out : rgbaOverWhite(out, width * height), width, height };
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** PNG's CRC-32 (ISO 3309) of a chunk's type and data (zlib.crc32 is missing before Node 20.15). */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** PNG's five row filters undone (RFC 2083 6.3); false for an unknown filter type. */
function unfilter(raw: Uint8Array, out: Uint8Array, height: number, stride: number, bpp: number): boolean {
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const up = row - stride; // the row above (none for y = 0: read as zeros)
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp]! : 0;
      const b = y > 0 ? out[up + x]! : 0;
      let predicted: number;
      if (filter === 0) predicted = 0;
      else if (filter === 1) predicted = a;
      else if (filter === 2) predicted = b;
      else if (filter === 3) predicted = (a + b) >> 1;
      else if (filter === 4) {
        const c = x >= bpp && y > 0 ? out[up + x - bpp]! : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else return false;
      out[row + x] = (raw[src + x]! + predicted) & 0xff;
    }
  }
  return true;
}
