import type { Pixels } from './preprocess.js';
import { jimpFromRgb } from './jimp.js';

/** RGB pixels -> PNG bytes. */
export async function encodePng(px: Pixels): Promise<Uint8Array> {
  return new Uint8Array(await (await jimpFromRgb(px)).getBuffer('image/png'));
}
