import * as zlib from 'node:zlib';
import { decodeImage } from '../image/decode.js';
import { readCommonPng, type Zlib } from '../image/png-decode.js';
import { encodePng } from '../image/encode.js';
import { writePng, type Deflate } from '../image/png-encode.js';
import type { Pixels } from '../image/preprocess.js';
import type { Kernels } from '../kernels/types.js';

/**
 * Node's zlib for readCommonPng and writePng; undefined before Node 20.15, which has no zlib.crc32 (every
 * PNG then goes to decodeImage and encodePng). The output is inflated into one buffer of the rows' size
 * (16 KB pieces and their concatenation cost ~0.05 ms of a 224x224 RGBA image's 0.6 ms). Deflate's
 * run-length strategy suits filtered rows: on the 600x400 coffee photo it took 6.6 ms against 21 ms at the
 * default strategy, and its output was smaller (466 against 468 KB).
 */
const NODE_ZLIB: (Zlib & Deflate) | undefined =
  typeof zlib.crc32 === 'function'
    ? {
        inflate: (data, maxBytes) => zlib.inflateSync(data, { maxOutputLength: maxBytes, chunkSize: Math.max(64, maxBytes) }),
        deflate: (data) => zlib.deflateSync(data, { strategy: zlib.constants.Z_RLE }),
        crc32: (data) => zlib.crc32(data),
      }
    : undefined;

/**
 * An upload decoded as decodeImage does, the common PNG (8-bit grey or RGB, with or without alpha)
 * read by readCommonPng on Node's native zlib: decodeImage goes through jimp and pngjs, which cost a
 * few times more, and decoding is a large part of what the server adds to a small model's
 * explanation. JPEGs and every other PNG (palettes, 16 bits, interlaced, tRNS, corrupt, over the
 * pixel limit) go to decodeImage, whose errors and limits stay the only ones.
 */
export async function decodeUpload(bytes: Uint8Array, maxPixels: number, kernels: Kernels): Promise<Pixels> {
  return fastPng(bytes, maxPixels, kernels) ?? decodeImage(bytes, maxPixels);
}

/** The fast path alone: a common PNG's pixels, or undefined for anything decodeImage must read. */
export const fastPng = (bytes: Uint8Array, maxPixels: number, kernels: Kernels): Pixels | undefined => NODE_ZLIB && readCommonPng(bytes, maxPixels, NODE_ZLIB, kernels);

/** The server's pictures as PNG: by writePng on Node's zlib (jimp, encodePng, took 4x as long), else by encodePng. */
export async function encodeServedPng(px: Pixels): Promise<Uint8Array> {
  return NODE_ZLIB ? writePng(px, NODE_ZLIB) : encodePng(px);
}
