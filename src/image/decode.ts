import { ImageDecodeError, InvalidInputError } from '../errors.js';
import { readImageHeader } from './header.js';
import type { Pixels } from './preprocess.js';
import { rgbaOverWhite } from './alpha.js';

export const DEFAULT_MAX_IMAGE_PIXELS = 50_000_000;

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
  let image: Awaited<ReturnType<typeof Jimp.read>>;
  try {
    image = await Jimp.read(bytes.slice().buffer);
  } catch (cause) {
    throw new ImageDecodeError(`cannot decode ${header.format.toUpperCase()} image: ${(cause as Error).message}`, { cause });
  }
  const { data, width, height } = image.bitmap;
  return { data: rgbaOverWhite(data, width * height), width, height };
}
