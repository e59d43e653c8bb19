import { describe, expect, test } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PNG, type PNGOptions } from 'pngjs';
import { decodeImage } from '../../src/image/decode.js';
import { decodeUpload, fastPng } from '../../src/serve/png.js';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';

/** A w x h RGBA picture with every kind of neighbourhood (so that each filter's predictions vary), alpha varying if asked. */
function picture(w: number, h: number, alpha: boolean): PNG {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    const [x, y] = [i % w, Math.floor(i / w)];
    // Channels: two ramps whose steps tie in Paeth's predictor (b with c, a with c), noise; alpha a ramp.
    png.data.set([(y * 3 - x * 6) & 255, (x * 3 - y * 6) & 255, (i * 2654435761) >>> 24, alpha ? (x * 29 + y * 5) & 255 : 255], i * 4);
  }
  return png;
}
const encode = (png: PNG, options: PNGOptions) => new Uint8Array(PNG.sync.write(png, { inputColorType: 6, inputHasAlpha: true, ...options }));
const same = async (bytes: Uint8Array) => {
  const [fast, slow] = [await decodeUpload(bytes, 1e8), await decodeImage(bytes, 1e8)];
  expect([fast.width, fast.height]).toEqual([slow.width, slow.height]);
  expect(Buffer.from(fast.data).equals(Buffer.from(slow.data))).toBe(true); // toEqual is slow on megabytes
};

describe('decodeUpload: a fast path for PNGs that gives decodeImage pixels', () => {
  test('8-bit RGB and RGBA (alpha over white), with each of the five row filters and with adaptive filtering', async () => {
    for (const colorType of [2, 6] as const) {
      for (const filterType of [0, 1, 2, 3, 4, -1]) {
        const bytes = encode(picture(37, 23, colorType === 6), { colorType, filterType });
        expect(fastPng(bytes, 1e8), `colour ${colorType} filter ${filterType}`).toBeDefined();
        await same(bytes);
      }
    }
  });

  test.skipIf(!hasMobilenet)(`the shared test images (${missingReason})`, async () => {
    const dir = join(ASSETS, 'images');
    const files = readdirSync(dir).filter((f) => f.endsWith('.png'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(join(dir, f)));
      expect(fastPng(bytes, 1e8), f).toBeDefined();
      await same(bytes);
    }
  });

  test('grayscale and 16 bits take the fast path too; too many pixels, a bad CRC, a truncated file, a JPEG go to decodeImage', async () => {
    const rgb = encode(picture(16, 9, false), { colorType: 2 });
    const others = [encode(picture(16, 9, false), { colorType: 0 }), encode(picture(16, 9, true), { colorType: 6, bitDepth: 16 })];
    for (const bytes of others) {
      expect(fastPng(bytes, 1e8)).toBeDefined();
      await same(bytes);
    }
    expect(fastPng(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]), 1e8)).toBeUndefined();
    expect(fastPng(rgb, 16 * 9 - 1)).toBeUndefined();
    await expect(decodeUpload(rgb, 16 * 9 - 1)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const badCrc = rgb.slice();
    badCrc[badCrc.length - 20]! ^= 1; // inside the IDAT chunk
    expect(fastPng(badCrc, 1e8)).toBeUndefined();
    const err = await decodeImage(badCrc).catch((e: Error) => e);
    await expect(decodeUpload(badCrc, 1e8)).rejects.toMatchObject({ name: (err as Error).name, message: (err as Error).message });
    const truncated = rgb.subarray(0, rgb.length - 30);
    expect(fastPng(truncated, 1e8)).toBeUndefined();
    await expect(decodeUpload(truncated, 1e8)).rejects.toMatchObject({ code: 'IMAGE_DECODE_ERROR' });
  });
});
