import type { Jimp as JimpImage } from 'jimp';
import { channelsOf, type Pixels } from './preprocess.js';

/**
 * RGB (or RGBA) pixels as a jimp image. jimp is imported here, in decode.ts and in figure.ts only (Node/Deno/Bun
 * adapters), and its types stay out of the public .d.ts files: they do not compile without skipLibCheck.
 */
export async function jimpFromRgb(px: Pixels): Promise<InstanceType<typeof JimpImage>> {
  const { Jimp } = await import('jimp');
  if (channelsOf(px) === 4) return Jimp.fromBitmap({ data: px.data as unknown as Buffer, width: px.width, height: px.height });
  const rgba = new Uint8Array(px.width * px.height * 4);
  for (let i = 0; i < px.width * px.height; i++) {
    rgba.set(px.data.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  // A Uint8Array, not a Node Buffer: the same code runs where there is no Buffer (browsers, workers).
  return Jimp.fromBitmap({ data: rgba as unknown as Buffer, width: px.width, height: px.height });
}
