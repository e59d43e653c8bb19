import { PNG } from 'pngjs';
import { rgbaOverWhite } from '../image/alpha.js';
import { decodeImage } from '../image/decode.js';
import { readImageHeader } from '../image/header.js';
import type { Pixels } from '../image/preprocess.js';

/**
 * An upload decoded as decodeImage does, with PNGs read by pngjs's synchronous decoder on Node's native
 * zlib: jimp decodes with the same pngjs (so the pixels are the same) but through its asynchronous
 * stream and image wrapper, which costs a few times more, and decoding is a sixth of a small model's
 * explanation. The server is Node-only, so this path is too; JPEGs, and PNGs pngjs refuses or that
 * are over the pixel limit, go to decodeImage, whose errors and limits stay the only ones.
 */
export async function decodeUpload(bytes: Uint8Array, maxPixels: number): Promise<Pixels> {
  return fastPng(bytes, maxPixels) ?? decodeImage(bytes, maxPixels);
}

/** A PNG's pixels by pngjs (alpha over white, as decodeImage); undefined for anything else. */
export function fastPng(bytes: Uint8Array, maxPixels: number): Pixels | undefined {
  let pixels: number;
  try {
    const header = readImageHeader(bytes);
    pixels = header.width * header.height;
    if (header.format !== 'png' || pixels === 0 || pixels > maxPixels) return undefined;
  } catch {
    return undefined;
  }
  try {
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (png.width * png.height !== pixels) return undefined;
    return { data: rgbaOverWhite(png.data, pixels), width: png.width, height: png.height };
  } catch {
    return undefined; // decodeImage reports it with its typed error
  }
}
