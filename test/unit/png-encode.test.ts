import * as zlib from 'node:zlib';
import { expect, test } from 'vitest';
import { decodeImage } from '../../src/image/decode.js';
import { writePng } from '../../src/image/png-encode.js';
import { readImageHeader } from '../../src/image/header.js';
import { encodeServedPng } from '../../src/serve/png.js';

const NODE = { deflate: (d: Uint8Array) => zlib.deflateSync(d, { strategy: zlib.constants.Z_RLE }), crc32: (d: Uint8Array) => zlib.crc32(d) };

function pixels(width: number, height: number, channels: 3 | 4, seed: number) {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  if (channels === 4) for (let i = 3; i < data.length; i += 8) data[i] = 255; // opaque and translucent pixels
  return { data, width, height };
}

test('writePng: pngjs (through decodeImage) reads back the very pixels, RGB and RGBA, every size', async () => {
  for (const [w, h] of [[1, 1], [1, 9], [7, 3], [37, 23], [300, 5]] as const) {
    const rgb = pixels(w, h, 3, w * 31 + h);
    const png = writePng(rgb, NODE);
    expect(readImageHeader(png)).toMatchObject({ width: w, height: h });
    const back = await decodeImage(png, 1e8);
    expect(Buffer.from(back.data).equals(Buffer.from(rgb.data)), `RGB ${w}x${h}`).toBe(true);
    // RGBA: the alpha channel survives (checked on pngjs's own output before decodeImage composites it).
    const rgba = pixels(w, h, 4, w + h);
    const { PNG } = await import('pngjs');
    const read = PNG.sync.read(Buffer.from(writePng(rgba, NODE)));
    expect(Buffer.from(read.data).equals(Buffer.from(rgba.data)), `RGBA ${w}x${h}`).toBe(true);
  }
});

test('encodeServedPng: lossless, and a smooth picture compresses', async () => {
  const w = 224;
  const data = new Uint8ClampedArray(w * w * 3).map((_, i) => (i % (w * 3)) / 3);
  const png = await encodeServedPng({ data, width: w, height: w });
  expect(Buffer.from((await decodeImage(png, 1e8)).data).equals(Buffer.from(data))).toBe(true);
  expect(png.length).toBeLessThan(data.length / 20);
});
