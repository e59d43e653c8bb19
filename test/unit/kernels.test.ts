import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { loadKernels } from '../../src/runtime/index.js';
import { referenceKernels as ts } from '../../src/kernels/reference.js';
import { instantiateKernels, MAX_ARENA_BYTES } from '../../src/kernels/wasm.js';
import type { Kernels } from '../../src/kernels/types.js';
import { randomArray } from '../helpers/random-weights.js';
import { maxAbs, maxAbsDiff } from '../helpers/metrics.js';
import { jetLut } from '../../src/image/colormap.js';

/** The AssemblyScript kernels must agree with their TypeScript twins (float32 rounding aside). */
describe('AssemblyScript kernels vs TypeScript twins', () => {
  let as: Kernels;
  beforeAll(async () => {
    as = await loadKernels();
  });
  const close = (a: Float32Array, b: Float32Array, tol = 1e-5) => {
    expect(a.length).toBe(b.length);
    expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(tol * Math.max(1, maxAbs(b)));
  };

  test('arrays shorter than the sizes given are a RangeError, not a read past their end', () => {
    expect(() => as.channelMean(new Float32Array(10), 4, 3)).toThrow(RangeError);
    expect(() => as.weightedSumRelu(new Float32Array(12), new Float32Array(2), 4, 3)).toThrow('weights has 2 values, the kernel needs 3');
    expect(() => as.elementwiseSumRelu(new Float32Array(12), new Float32Array(3), 4, 3)).toThrow(RangeError);
    expect(() => as.resizeBilinear(new Float32Array(3), 2, 2, 4, 4, 1)).toThrow(RangeError);
    expect(() => as.guidedProduct(new Float32Array(5), new Float32Array(2))).toThrow(RangeError);
  });

  // Channel counts that do and do not fill whole SIMD lanes.
  for (const [P, C] of [[56 * 56, 64], [49, 512], [7, 3], [1, 1], [13, 6]] as const) {
    test(`channel reductions, ${P} positions x ${C} channels`, () => {
      const A = randomArray(P * C, P + C).map(Math.abs);
      const G = randomArray(P * C, P * C);
      const w = randomArray(C, C);
      close(as.channelMean(G, P, C), ts.channelMean(G, P, C));
      close(as.weightedSumRelu(A, w, P, C), ts.weightedSumRelu(A, w, P, C));
      close(as.elementwiseSumRelu(A, G, P, C), ts.elementwiseSumRelu(A, G, P, C));
    });
  }

  test('min-max normalisation, including constant and all-zero maps', () => {
    for (const x of [randomArray(1001, 3, 5), new Float32Array(10), new Float32Array(10).fill(3), Float32Array.of(-2, 7)]) {
      close(as.minMaxNormalize(x), ts.minMaxNormalize(x), 1e-6);
    }
    expect(Array.from(ts.minMaxNormalize(new Float32Array(4)))).toEqual([0, 0, 0, 0]);
  });

  for (const [sh, sw, dh, dw, ch] of [[7, 7, 224, 224, 1], [10, 15, 300, 451, 1], [5, 4, 3, 9, 3], [1, 1, 4, 4, 1]] as const) {
    test(`bilinear resize ${sh}x${sw} -> ${dh}x${dw} x${ch}`, () => {
      const src = randomArray(sh * sw * ch, sh * 100 + sw);
      close(as.resizeBilinear(src, sh, sw, dh, dw, ch), ts.resizeBilinear(src, sh, sw, dh, dw, ch), 1e-5);
    });
  }

  test('bilinear resize matches OpenCV INTER_LINEAR on a hand-computed case', () => {
    // 2 -> 4 samples: src = (dst + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamp, 0.25, 0.75, clamp.
    expect(Array.from(ts.resizeBilinear(Float32Array.of(0, 1), 1, 2, 1, 4, 1))).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(as.resizeBilinear(Float32Array.of(0, 1), 1, 2, 1, 4, 1))).toEqual([0, 0.25, 0.75, 1]);
  });

  test('mean of ReLU over maps and the guided product', () => {
    const maps = [randomArray(999, 1), randomArray(999, 2), randomArray(999, 3)];
    close(as.meanRelu(maps), ts.meanRelu(maps), 1e-6);
    const g = randomArray(333 * 3, 4);
    const cam = randomArray(333, 5);
    close(as.guidedProduct(g, cam), ts.guidedProduct(g, cam), 0);
  });

  test('colormap overlay (pytorch-grad-cam show_cam_on_image), heatmap only and blended', () => {
    const lut = jetLut();
    const n = 4097;
    const mask = randomArray(n, 21).map((v) => Math.abs(v));
    mask[0] = 1;
    mask[1] = 0;
    const rgb = Uint8Array.from(randomArray(n * 3, 22), (v) => Math.floor(Math.abs(v) * 256));
    for (const w of [0, 0.5, 1]) {
      expect(Array.from(as.colormapOverlay(rgb, mask, lut, w))).toEqual(Array.from(ts.colormapOverlay(rgb, mask, lut, w)));
    }
    const heat = ts.colormapOverlay(rgb, mask, lut, 0);
    // mask 1 -> LUT[255] = dark red; the image maximum is already 1, so no rescaling.
    expect(Array.from(heat.subarray(0, 3))).toEqual([128, 0, 0]);
    expect(Array.from(heat.subarray(3, 6))).toEqual([0, 0, 128]);
  });

  test('the JET table equals OpenCV 4.6 COLORMAP_JET (RGB) at sampled levels', () => {
    const lut = jetLut();
    const opencv = [[0, 0, 128], [0, 0, 255], [0, 128, 255], [2, 255, 254], [130, 255, 126], [255, 252, 0], [255, 124, 0], [252, 0, 0]];
    opencv.forEach((rgb, k) => expect(Array.from(lut.subarray(k * 96, k * 96 + 3)), `level ${k * 32}`).toEqual(rgb));
  });

  test('PNG scanlines to RGB: every row filter, 1-4 channels, widths with every remainder of 4 and 16, alpha over white, an unknown filter refused', () => {
    let seed = 11;
    const byte = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    for (const channels of [1, 2, 3, 4]) {
      for (const [width, height] of [[1, 1], [1, 7], [6, 4], [7, 3], [37, 23], [300, 5]] as const) {
        const row = width * channels + 1;
        const raw = new Uint8Array(height * row);
        for (let i = 0; i < raw.length; i++) raw[i] = byte();
        // Filter types 0-4 in turn, the first row included; alpha 255 (copied) and 0 present.
        for (let y = 0; y < height; y++) raw[y * row] = (y + channels) % 5;
        if (channels % 2 === 0) for (let i = channels; i < row; i += 2 * channels) raw[i] = 255;
        const want = ts.pngRowsToRgb(raw.slice(), width, height, channels)!;
        expect(want.length).toBe(width * height * 3);
        expect(Buffer.from(as.pngRowsToRgb(raw, width, height, channels)!).equals(Buffer.from(want)), `${channels} channels, ${width}x${height}`).toBe(true);
        raw[(height - 1) * row] = 5;
        expect(as.pngRowsToRgb(raw, width, height, channels)).toBeUndefined();
        expect(ts.pngRowsToRgb(raw, width, height, channels)).toBeUndefined();
      }
    }
    expect(() => as.pngRowsToRgb(new Uint8Array(10), 3, 1, 4)).toThrow(RangeError);
  });

  test('large inputs grow the kernel memory and keep working', () => {
    const big = randomArray(3 * 1024 * 1024, 9);
    close(as.minMaxNormalize(big), ts.minMaxNormalize(big), 1e-6);
  });
});

/** A kernel's result as bytes: its array's, or base64Into's end offset. */
const bytesOf = (x: unknown) => (typeof x === 'number' ? Buffer.from(String(x)) : Buffer.from((x as Float32Array).buffer, (x as Float32Array).byteOffset, (x as Float32Array).byteLength));

/** One call of every kernel whose arena takes about `n` floats (x 4 bytes), with its arguments. */
function callsOfSize(n: number): [keyof Kernels, unknown[]][] {
  const side = Math.ceil(Math.sqrt(n));
  const f = randomArray(n, n % 97);
  const bytes = Uint8Array.from(f, (v) => Math.floor(Math.abs(v) * 256));
  const rows = new Uint8Array(side * (side * 4 + 1)).map((_, i) => (i % (side * 4 + 1) === 0 ? i % 5 : i * 7));
  return [
    ['channelMean', [f, n / 4, 4]],
    ['weightedSumRelu', [f, f.subarray(0, 4), n / 4, 4]],
    ['elementwiseSumRelu', [f, f, n / 4, 4]],
    ['minMaxNormalize', [f]],
    ['resizeBilinear', [f.subarray(0, 9), 3, 3, side, side, 1]],
    ['meanRelu', [[f, f]]],
    ['guidedProduct', [f, f.subarray(0, n / 4)]],
    ['colormapOverlay', [bytes.subarray(0, (3 * n) / 4), f.subarray(0, n / 4), jetLut(), 0.5]],
    ['pngRowsToRgb', [rows, side, side, 4]],
    ['base64Into', [bytes, new Uint8Array(4 * n), 0]],
  ];
}

describe('the wasm kernels memory', () => {
  afterEach(() => vi.restoreAllMocks());

  test('a call whose arena would pass maxArenaBytes runs the TypeScript twin, and the memory stays within it', async () => {
    const limit = 1 << 20;
    const k = await instantiateKernels(readFileSync(new URL('../../build/kernels.wasm', import.meta.url)), { maxArenaBytes: limit });
    const start = k.memoryBytes;
    const twin = Object.fromEntries(callsOfSize(16).map(([name]) => [name, vi.spyOn(ts, name)]));
    for (const [name, args] of callsOfSize(32 * 1024)) {
      // ~128 KB: the wasm kernel
      (k[name] as (...a: unknown[]) => unknown)(...args);
      expect(twin[name], name).not.toHaveBeenCalled();
    }
    for (const [name, args] of callsOfSize(512 * 1024)) {
      // ~2 MB: the twin, with the same result as the twin called directly
      const got = (k[name] as (...a: unknown[]) => unknown)(...args.map((a) => (a instanceof Uint8Array ? a.slice() : a)));
      expect(twin[name], name).toHaveBeenCalledTimes(1);
      const want = (ts[name] as (...a: unknown[]) => unknown)(...args.map((a) => (a instanceof Uint8Array ? a.slice() : a)));
      expect(bytesOf(got).equals(bytesOf(want)), name).toBe(true);
    }
    expect(k.memoryBytes).toBeGreaterThan(start);
    expect(k.memoryBytes).toBeLessThanOrEqual(start + limit + 65536);
  });

  test('the default limit keeps a 224x224 explanation and a 1536x1536 map in wasm', async () => {
    expect(MAX_ARENA_BYTES).toBe(64 * 1024 * 1024);
    const k = await instantiateKernels(readFileSync(new URL('../../build/kernels.wasm', import.meta.url)));
    const spy = vi.spyOn(ts, 'resizeBilinear');
    k.resizeBilinear(new Float32Array(49), 7, 7, 1536, 1536, 1);
    expect(spy).not.toHaveBeenCalled();
  });
});
