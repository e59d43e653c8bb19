import { ImageDecodeError, InvalidInputError } from '../errors.js';
import { readImageHeader } from './header.js';
import type { Pixels } from './preprocess.js';
import { rgbaOverWhite } from './alpha.js';

export const DEFAULT_MAX_IMAGE_PIXELS = 50_000_000;

/**
 * jpeg-js's own limits (100 MP and 512 MB by default: a 48 MP colour JPEG already exceeds the memory
 * one) sized to the image, whose pixel count was checked against `maxPixels` on its header, so that
 * `maxPixels` is the only limit. By jpeg-js's own accounting a pixel costs at most 19 bytes: 4 of
 * output, and per component (3, unsubsampled) 4 of coefficient blocks and 1 of samples; it also
 * counts the compressed data once. Block padding and Huffman tables are covered by the margin.
 */
export const jpegLimits = (pixels: number, fileBytes: number) => ({
  maxResolutionInMP: Math.ceil(pixels / 1e6) + 1,
  maxMemoryUsageInMB: Math.ceil((pixels * 20 + fileBytes) / 2 ** 20) + 16,
});

/**
 * Decodes a PNG or JPEG to RGB (EXIF orientation applied, grayscale expanded, alpha composited over
 * white). jimp is imported here only, so the engine never loads it.
 */
export async function decodeImage(bytes: Uint8Array, maxPixels = DEFAULT_MAX_IMAGE_PIXELS): Promise<Pixels> {
  const header = readImageHeader(bytes);
  if (header.width === 0 || header.height === 0) throw new ImageDecodeError(`image header says ${header.width}x${header.height}`);
  if (header.width * header.height > maxPixels) {
    throw new InvalidInputError(`image is ${header.width}x${header.height} = ${header.width * header.height} pixels, above the limit of ${maxPixels}`);
  }
  const { Jimp } = await import('jimp');
  const bitmap = await Jimp.fromBuffer(bytes.slice().buffer, { 'image/jpeg': jpegLimits(header.width * header.height, bytes.byteLength) }).then(
    (image) => image.bitmap,
    (cause: unknown) => {
      throw new ImageDecodeError(`cannot decode ${header.format.toUpperCase()} image: ${(cause as Error).message}`, { cause });
    },
  );
  const { data, width, height } = bitmap;
  return { data: rgbaOverWhite(data, width * height), width, height };
}
