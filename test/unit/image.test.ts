import { beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { Jimp } from 'jimp';
import { decodeImage } from '../../src/image/decode.js';
import { resizeRgbPillowBilinear } from '../../src/image/resize.js';
import { renderHeatmap, renderOverlay } from '../../src/image/render.js';
import { readImageHeader } from '../../src/image/header.js';
import { loadKernels } from '../../src/runtime/index.js';
import { decodeNpy, ImageDecodeError, InvalidInputError } from '../../src/index.js';
import type { Kernels } from '../../src/kernels/types.js';

const root = join(import.meta.dirname, '../..');
const fixture = (name: string) => new Uint8Array(readFileSync(join(root, 'test/fixtures', name)));
const pngBytes = (width: number, height: number, colorType: 0 | 2 | 6, fill: (i: number) => number[]) => {
  const png = new PNG({ width, height, colorType, inputColorType: 6 });
  for (let i = 0; i < width * height; i++) png.data.set(fill(i), i * 4);
  return new Uint8Array(PNG.sync.write(png, { colorType, inputColorType: 6 }));
};

describe('pictures against pytorch-grad-cam show_cam_on_image (golden PNGs made with it and OpenCV 4.6)', () => {
  let kernels: Kernels;
  beforeAll(async () => {
    kernels = await loadKernels();
  });
  const compare = async (ours: Uint8Array, goldenPng: string) => {
    const golden = await decodeImage(fixture(goldenPng));
    let differing = 0;
    let worst = 0;
    for (let i = 0; i < ours.length; i++) {
      const d = Math.abs(ours[i]! - golden.data[i]!);
      if (d > 0) differing++;
      worst = Math.max(worst, d);
    }
    // Float rounding at truncation edges, and OpenCV's one odd JET entry: a level here and there.
    expect(differing / ours.length).toBeLessThan(0.01);
    expect(worst).toBeLessThanOrEqual(3);
  };
  const mask = () => decodeNpy(fixture('blob-mask-224.npy')).data as Float32Array;

  test('overlay on the photo, image_weight 0.5, RGB', async () => {
    const photo = resizeRgbPillowBilinear(await decodeImage(new Uint8Array(readFileSync(join(root, 'examples/chelsea.png')))), 224, 224);
    await compare(renderOverlay(kernels, photo, mask(), 224, 224).data as Uint8Array, 'overlay-chelsea-blob.golden.png');
  });
  test('heatmap alone', async () => {
    await compare(renderHeatmap(kernels, mask(), 224, 224).data as Uint8Array, 'heatmap-blob.golden.png');
  });
  test('colours are not swapped: the hot spot is red, the cold corner blue', () => {
    const heat = renderHeatmap(kernels, mask(), 224, 224).data;
    const at = (x: number, y: number) => Array.from(heat.subarray((y * 224 + x) * 3, (y * 224 + x) * 3 + 3));
    const [r, , b] = at(150, 80);
    expect(r).toBeGreaterThan(100);
    expect(b).toBe(0);
    const [r2, , b2] = at(0, 223);
    expect(r2).toBe(0);
    expect(b2).toBeGreaterThan(100);
  });
});

describe('decoding images', () => {
  test('grayscale becomes RGB with equal channels', async () => {
    const px = await decodeImage(pngBytes(4, 3, 0, (i) => [i * 20, i * 20, i * 20, 255]));
    expect([px.width, px.height]).toEqual([4, 3]);
    expect(Array.from(px.data.subarray(15, 18))).toEqual([100, 100, 100]);
  });

  test('alpha is composited over white', async () => {
    const px = await decodeImage(pngBytes(3, 1, 6, (i) => [[0, 0, 0, 0], [0, 0, 0, 255], [200, 0, 0, 128]][i]!));
    expect(Array.from(px.data)).toEqual([255, 255, 255, 0, 0, 0, 227, 127, 127]);
  });

  test('EXIF orientation is applied (6: rotate 90 degrees clockwise)', async () => {
    // A 4x2 JPEG whose left half is red, then an APP1/Exif segment with Orientation = 6.
    const img = new Jimp({ width: 4, height: 2, color: 0x0000ffff });
    for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) img.setPixelColor(0xff0000ff, x, y);
    const jpeg = new Uint8Array(await img.getBuffer('image/jpeg', { quality: 100 }));
    const tiff = [0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    const payload = [...new TextEncoder().encode('Exif\0\0'), ...tiff];
    const app1 = [0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 255, ...payload];
    const withExif = new Uint8Array([...jpeg.subarray(0, 2), ...app1, ...jpeg.subarray(2)]);
    const px = await decodeImage(withExif);
    expect([px.width, px.height]).toEqual([2, 4]);
    // Rotated clockwise, the red left half ends up on top.
    expect(px.data[0]!).toBeGreaterThan(200);
    expect(px.data[2]!).toBeLessThan(60);
    expect(px.data[(3 * 2) * 3 + 2]!).toBeGreaterThan(200);
  });

  test('a huge image is refused from its header, before decoding pixels', async () => {
    const header = pngBytes(1, 1, 2, () => [0, 0, 0, 255]);
    new DataView(header.buffer).setUint32(16, 20000);
    new DataView(header.buffer).setUint32(20, 20000);
    expect(readImageHeader(header)).toEqual({ format: 'png', width: 20000, height: 20000 });
    await expect(decodeImage(header)).rejects.toThrow(InvalidInputError);
    await expect(decodeImage(header)).rejects.toThrow(/20000x20000 = 400000000 pixels, above the limit of 50000000/);
    await expect(decodeImage(pngBytes(10, 10, 2, () => [1, 2, 3, 255]), 99)).rejects.toThrow(/above the limit of 99/);
  });

  test('corrupt and unknown data are ImageDecodeErrors', async () => {
    await expect(decodeImage(new TextEncoder().encode('GIF89a....'))).rejects.toThrow(ImageDecodeError);
    const truncated = pngBytes(8, 8, 2, () => [1, 2, 3, 255]).subarray(0, 40);
    await expect(decodeImage(truncated)).rejects.toThrow(ImageDecodeError);
    await expect(decodeImage(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0]))).rejects.toThrow(ImageDecodeError);
  });
});

describe('resizeRgbPillowBilinear on RGBA', () => {
  test('composites over white first and returns opaque RGBA, the same pixels as resizing the composited RGB', () => {
    const [w, h] = [37, 23];
    const rgba = new Uint8Array(w * h * 4).map((_, i) => (i * 73 + (i >> 2) * 29) % 256);
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round((rgba[i * 4 + c]! * rgba[i * 4 + 3]! + 255 * (255 - rgba[i * 4 + 3]!)) / 255);
    for (const [ow, oh] of [[16, 11], [50, 40], [37, 23]] as const) {
      const a = resizeRgbPillowBilinear({ data: rgba, width: w, height: h }, ow, oh);
      const b = resizeRgbPillowBilinear({ data: rgb, width: w, height: h }, ow, oh);
      const expected = new Uint8Array(ow * oh * 4).fill(255);
      for (let i = 0; i < ow * oh; i++) expected.set(b.data.subarray(i * 3, i * 3 + 3), i * 4);
      expect(Buffer.from(a.data).equals(Buffer.from(expected))).toBe(true);
    }
  });
});

describe('JPEG size limits: --max-pixels is the only one', () => {
  test("jpeg-js's memory limit is sized from the pixel count, enough by jpeg-js's own accounting", async () => {
    const { default: jpeg } = await import('jpeg-js');
    const { jpegLimits } = await import('../../src/image/decode.js');
    const [w, h] = [480, 320];
    const noise = new Uint8Array(w * h * 4).map((_, i) => (i * 2654435761) >>> 24);
    const bytes = jpeg.encode({ data: noise, width: w, height: h }, 95).data;
    // The per-pixel share alone (without the fixed margin) must already cover an unsubsampled colour JPEG.
    const perPixelMB = jpegLimits(w * h, bytes.byteLength).maxMemoryUsageInMB - 16;
    expect(jpeg.decode(bytes, { maxMemoryUsageInMB: perPixelMB, useTArray: true }).width).toBe(w);
    expect(() => jpeg.decode(bytes, { maxMemoryUsageInMB: perPixelMB / 2, useTArray: true })).toThrow(/maxMemoryUsageInMB/);
    // jpeg-js's defaults (512 MB, 100 MP) refused colour JPEGs from 48 MP on, below the documented 50 MP.
    expect(jpegLimits(50e6, 0).maxMemoryUsageInMB).toBeGreaterThan(512 * 1.8);
    expect(jpegLimits(200e6, 0).maxResolutionInMP).toBeGreaterThanOrEqual(200);
    expect((await decodeImage(new Uint8Array(bytes), w * h)).width).toBe(w);
  });
});
