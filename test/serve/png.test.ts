import { describe, expect, test } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { PNG, type PNGOptions } from 'pngjs';
import { decodeImage } from '../../src/image/decode.js';
import { decodeUpload, fastPng as fastPngWith } from '../../src/serve/png.js';
import { loadKernels } from '../../src/runtime/index.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import type { Kernels } from '../../src/kernels/types.js';
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
// Every case runs with the wasm kernels (the server's) and with their TypeScript twins.
const KERNELS: Record<string, Kernels> = { wasm: await loadKernels(), typescript: referenceKernels };

describe.each(Object.keys(KERNELS))('decodeUpload with the %s kernels: a fast path for common PNGs that gives decodeImage pixels', (name) => {
  const kernels = KERNELS[name]!;
  const fastPng = (bytes: Uint8Array, maxPixels: number) => fastPngWith(bytes, maxPixels, kernels);
  const same = async (bytes: Uint8Array) => {
    const [fast, slow] = [await decodeUpload(bytes, 1e8, kernels), await decodeImage(bytes, 1e8)];
    expect([fast.width, fast.height]).toEqual([slow.width, slow.height]);
    expect(Buffer.from(fast.data).equals(Buffer.from(slow.data))).toBe(true); // toEqual is slow on megabytes
  };

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

  test('grey and grey + alpha, random pictures, sizes, filters and compression levels, IDAT split into several chunks', async () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let k = 0; k < 48; k++) {
      const [w, h] = [1 + Math.floor(random() * 40), 1 + Math.floor(random() * 30)];
      const colorType = ([0, 2, 4, 6] as const)[k % 4]!;
      const png = new PNG({ width: w, height: h });
      for (let i = 0; i < png.data.length; i++) png.data[i] = k % 3 === 0 ? (i * 3 + (i >> 7)) & 255 : Math.floor(random() * 256);
      if (k % 5 === 0) for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
      const bytes = encode(png, { colorType, filterType: k % 6 === 5 ? -1 : k % 5, deflateLevel: k % 10 });
      for (const b of k % 2 ? [bytes, splitIdat(bytes, 1 + (k % 7))] : [bytes]) {
        expect(fastPng(b, 1e8), `case ${k}`).toBeDefined();
        await same(b);
      }
    }
  });

  test('16 bits, palettes, tRNS, an unknown filter, too many pixels, a bad CRC, a truncated file, a JPEG go to decodeImage', async () => {
    const rgb = encode(picture(16, 9, false), { colorType: 2 });
    const others = [
      encode(picture(16, 9, true), { colorType: 6, bitDepth: 16 }),
      withChunk(rgb, 'tRNS', [0, 1, 0, 2, 0, 3]),
      palette(),
    ];
    for (const bytes of others) {
      expect(fastPng(bytes, 1e8)).toBeUndefined();
      await same(bytes);
    }
    // Rows followed by a megabyte of zeros: the reader stops inflating at what the rows need, and
    // decodeImage refuses the file, as it does anything inflating past its rows.
    const bomb = withIdat(rgb, () => {}, (raw) => Buffer.concat([raw, Buffer.alloc(1 << 20)]));
    expect(fastPng(bomb, 1e8)).toBeUndefined();
    await expect(decodeUpload(bomb, 1e8, kernels)).rejects.toMatchObject({ code: 'IMAGE_DECODE_ERROR' });
    const badFilter = withIdat(rgb, (raw) => (raw[0] = 5));
    expect(fastPng(badFilter, 1e8)).toBeUndefined();
    await expect(decodeUpload(badFilter, 1e8, kernels)).rejects.toMatchObject({ code: 'IMAGE_DECODE_ERROR' });
    expect(fastPng(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]), 1e8)).toBeUndefined();
    expect(fastPng(rgb, 16 * 9 - 1)).toBeUndefined();
    await expect(decodeUpload(rgb, 16 * 9 - 1, kernels)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const badCrc = rgb.slice();
    badCrc[badCrc.length - 20]! ^= 1; // inside the IDAT chunk
    expect(fastPng(badCrc, 1e8)).toBeUndefined();
    const err = await decodeImage(badCrc).catch((e: Error) => e);
    await expect(decodeUpload(badCrc, 1e8, kernels)).rejects.toMatchObject({ name: (err as Error).name, message: (err as Error).message });
    const truncated = rgb.subarray(0, rgb.length - 30);
    expect(fastPng(truncated, 1e8)).toBeUndefined();
    await expect(decodeUpload(truncated, 1e8, kernels)).rejects.toMatchObject({ code: 'IMAGE_DECODE_ERROR' });
  });
});

// PNG surgery for the cases pngjs does not write: chunks of our own, with their CRCs.
const chunk = (type: string, data: ArrayLike<number>) => {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(data as Uint8Array)]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(body.length - 4, 0);
  body.copy(out, 4);
  out.writeUInt32BE(zlib.crc32(body), body.length + 4);
  return out;
};
/** The file's chunks: [type, data]. */
function chunks(bytes: Uint8Array): [string, Buffer][] {
  const b = Buffer.from(bytes);
  const out: [string, Buffer][] = [];
  for (let at = 8; at < b.length; at += 12 + b.readUInt32BE(at)) out.push([b.toString('latin1', at + 4, at + 8), b.subarray(at + 8, at + 8 + b.readUInt32BE(at))]);
  return out;
}
const assemble = (list: [string, ArrayLike<number>][]) => new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...list.map(([t, d]) => chunk(t, d))]));
const idatOf = (bytes: Uint8Array) => Buffer.concat(chunks(bytes).filter(([t]) => t === 'IDAT').map(([, d]) => d));
/** The same file with its compressed data in `parts` IDAT chunks. */
function splitIdat(bytes: Uint8Array, parts: number): Uint8Array {
  const data = idatOf(bytes);
  const size = Math.ceil(data.length / parts);
  const idats = Array.from({ length: parts }, (_, i) => ['IDAT', data.subarray(i * size, (i + 1) * size)] as [string, Buffer]);
  const rest = chunks(bytes).filter(([t]) => t !== 'IDAT');
  return assemble([rest[0]!, ...idats, ...rest.slice(1)]);
}
/** The file with a chunk added after IHDR. */
const withChunk = (bytes: Uint8Array, type: string, data: number[]) => {
  const list = chunks(bytes);
  return assemble([list[0]!, [type, data], ...list.slice(1)]);
};
/** The file with its inflated rows changed by `edit` (and `grow`, which may return other bytes). */
function withIdat(bytes: Uint8Array, edit: (raw: Buffer) => void, grow = (raw: Buffer) => raw): Uint8Array {
  let raw = zlib.inflateSync(idatOf(bytes));
  edit(raw);
  raw = grow(raw);
  return assemble(chunks(bytes).flatMap(([t, d]): [string, Buffer][] => (t === 'IDAT' ? [] : t === 'IEND' ? [['IDAT', zlib.deflateSync(raw)], [t, d]] : [[t, d]])));
}
/** A 4x2 8-bit palette PNG with four colours. */
function palette(): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(4, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  const rows = Buffer.from([0, 0, 1, 2, 3, 0, 3, 2, 1, 0]);
  return assemble([['IHDR', ihdr], ['PLTE', [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 99, 199]], ['IDAT', zlib.deflateSync(rows)], ['IEND', []]]);
}
