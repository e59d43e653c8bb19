import { InvalidInputError } from '../errors.js';
import { channelsOf, type Pixels } from './preprocess.js';
import { rgbaOverWhite, rgbToRgba } from './alpha.js';

const PRECISION_BITS = 22;

interface AxisTaps {
  readonly start: Int32Array;
  readonly count: Int32Array;
  /** Fixed-point weights, `maxTaps` per output sample. */
  readonly weights: Int32Array;
  readonly maxTaps: number;
}

/** Pillow's BILINEAR taps for one axis: a triangle filter widened by the scale when downscaling (antialiasing). */
function bilinearTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * maxTaps);
  const w = new Float64Array(maxTaps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let i = lo; i < hi; i++) {
      w[i - lo] = Math.max(0, 1 - Math.abs((i - center + 0.5) / support));
      total += w[i - lo]!;
    }
    start[o] = lo;
    count[o] = hi - lo;
    for (let k = 0; k < hi - lo; k++) weights[o * maxTaps + k] = Math.trunc((w[k]! / total) * 2 ** PRECISION_BITS + 0.5);
  }
  return { start, count, weights, maxTaps };
}

function resample(src: Uint8Array, lines: number, inLen: number, outLen: number, lineStride: number, sampleStride: number, ch: number, dstLineStride: number, dstSampleStride: number, dst: Uint8Array): void {
  const taps = bilinearTaps(inLen, outLen);
  const half = 2 ** (PRECISION_BITS - 1);
  for (let line = 0; line < lines; line++) {
    for (let o = 0; o < outLen; o++) {
      const s0 = taps.start[o]!;
      const n = taps.count[o]!;
      for (let c = 0; c < ch; c++) {
        let acc = half;
        for (let k = 0; k < n; k++) acc += taps.weights[o * taps.maxTaps + k]! * src[line * lineStride + (s0 + k) * sampleStride + c]!;
        dst[line * dstLineStride + o * dstSampleStride + c] = Math.min(255, Math.max(0, Math.floor(acc / 2 ** PRECISION_BITS)));
      }
    }
  }
}

/**
 * Resizes RGB pixels exactly as Pillow's Image.resize(size, BILINEAR) does: antialiased when
 * downscaling, horizontal pass first (kept as uint8), then vertical, 22-bit fixed-point weights.
 * RGBA (told apart by the data length) is composited over white first, as the CLI does, and comes
 * back as opaque RGBA.
 */
export function resizeRgbPillowBilinear(px: Pixels, width: number, height: number): Pixels {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw new InvalidInputError(`resize target ${width}x${height} is not a positive integer size`);
  }
  const rgba = channelsOf(px) === 4;
  const out = resizeRgb(rgba ? rgbaOverWhite(px.data, px.width * px.height) : px.data instanceof Uint8Array ? px.data : new Uint8Array(px.data), px.width, px.height, width, height);
  return rgba ? { data: rgbToRgba(out, width * height), width, height } : { data: out, width, height };
}

function resizeRgb(src: Uint8Array, inW: number, inH: number, width: number, height: number): Uint8Array {
  const ch = 3;
  let data = src;
  if (width !== inW) {
    const out = new Uint8Array(inH * width * ch);
    resample(data, inH, inW, width, inW * ch, ch, ch, width * ch, ch, out);
    data = out;
  }
  if (height !== inH) {
    const out = new Uint8Array(height * width * ch);
    // Columns are the lines now: step one pixel between lines, one row between samples.
    resample(data, width, inH, height, ch, width * ch, ch, ch, width * ch, out);
    data = out;
  }
  return data;
}
