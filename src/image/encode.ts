import type { Jimp as JimpImage } from 'jimp';
import type { Pixels } from './preprocess.js';

/** RGB pixels as an opaque jimp image. jimp is imported here and in figure.ts only (Node/Deno/Bun adapters). */
export async function jimpFromRgb(px: Pixels): Promise<InstanceType<typeof JimpImage>> {
  const { Jimp } = await import('jimp');
  const rgba = new Uint8Array(px.width * px.height * 4);
  for (let i = 0; i < px.width * px.height; i++) {
    rgba.set(px.data.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  // A Uint8Array, not a Node Buffer: the same code runs where there is no Buffer (browsers, workers).
  return Jimp.fromBitmap({ data: rgba as unknown as Buffer, width: px.width, height: px.height });
}

/** RGB pixels -> PNG bytes. */
export async function encodePng(px: Pixels): Promise<Uint8Array> {
  return new Uint8Array(await (await jimpFromRgb(px)).getBuffer('image/png'));
}
