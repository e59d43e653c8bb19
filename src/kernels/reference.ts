import { overWhite, rgbaIntoRgb } from '../image/alpha.js';
import type { Kernels } from './types.js';

/** Plain TypeScript twins of the AssemblyScript kernels: the specification the tests hold them to. */
export const referenceKernels: Kernels = {
  channelMean(src, positions, channels) {
    const out = new Float32Array(channels);
    for (let p = 0; p < positions; p++) for (let c = 0; c < channels; c++) out[c]! += src[p * channels + c]!;
    for (let c = 0; c < channels; c++) out[c]! /= positions;
    return out;
  },
  weightedSumRelu(act, weights, positions, channels) {
    const out = new Float32Array(positions);
    for (let p = 0; p < positions; p++) {
      let s = 0;
      for (let c = 0; c < channels; c++) s += weights[c]! * act[p * channels + c]!;
      out[p] = Math.max(s, 0);
    }
    return out;
  },
  elementwiseSumRelu(act, weights, positions, channels) {
    const out = new Float32Array(positions);
    for (let p = 0; p < positions; p++) {
      let s = 0;
      for (let c = 0; c < channels; c++) s += weights[p * channels + c]! * act[p * channels + c]!;
      out[p] = Math.max(s, 0);
    }
    return out;
  },
  minMaxNormalize(x) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const denom = Math.fround(1e-7 + Math.fround(hi - lo));
    return x.map((v) => Math.fround(v - lo) / denom);
  },
  resizeBilinear(src, sh, sw, dh, dw, channels) {
    const out = new Float32Array(dh * dw * channels);
    const axis = (o: number, n: number, scale: number): [number, number, number] => {
      const f = (o + 0.5) * scale - 0.5;
      const i0 = Math.floor(f);
      if (i0 < 0) return [0, 0, 0];
      if (i0 >= n - 1) return [n - 1, n - 1, 0];
      return [i0, i0 + 1, f - i0];
    };
    for (let y = 0; y < dh; y++) {
      const [y0, y1, fy] = axis(y, sh, sh / dh);
      for (let x = 0; x < dw; x++) {
        const [x0, x1, fx] = axis(x, sw, sw / dw);
        for (let c = 0; c < channels; c++) {
          const at = (yy: number, xx: number) => src[(yy * sw + xx) * channels + c]!;
          const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
          const bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
          out[(y * dw + x) * channels + c] = top * (1 - fy) + bottom * fy;
        }
      }
    }
    return out;
  },
  meanRelu(maps) {
    const out = new Float32Array(maps[0]?.length ?? 0);
    for (const m of maps) for (let i = 0; i < out.length; i++) out[i]! += Math.max(m[i]!, 0);
    for (let i = 0; i < out.length; i++) out[i]! /= maps.length;
    return out;
  },
  guidedProduct(guided, cam) {
    const out = new Float32Array(guided.length);
    for (let p = 0; p < cam.length; p++) for (let k = 0; k < 3; k++) out[p * 3 + k] = guided[p * 3 + k]! * cam[p]!;
    return out;
  },
  colormapOverlay(rgb, mask, lut, imageWeight) {
    // The same float32 operations as the wasm kernel, each term from a table: the heat term of every
    // colormap entry and the image term of every byte value.
    const f = Math.fround;
    const w = f(imageWeight);
    const heat = Float32Array.from(lut.subarray(0, 768), (v) => f(f(1 - w) * f(v / 255)));
    const image = Float32Array.from({ length: 256 }, (_, v) => f(w * f(v / 255)));
    const blend = (i: number, level: number, c: number) => f(heat[level + c]! + image[rgb[i * 3 + c]!]!);
    let peak = 0;
    for (let i = 0; i < mask.length; i++) {
      const level = (Math.trunc(f(255 * mask[i]!)) & 255) * 3;
      for (let c = 0; c < 3; c++) peak = Math.max(peak, blend(i, level, c));
    }
    const out = new Uint8Array(rgb.length);
    for (let i = 0; i < mask.length; i++) {
      const level = (Math.trunc(f(255 * mask[i]!)) & 255) * 3;
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.trunc(f(f(blend(i, level, c) / peak) * 255));
    }
    return out;
  },
  pngRowsToRgb(raw, width, height, channels) {
    return unfilter(raw, width, height, channels) ? toRgb(raw, width, height, channels) : undefined;
  },
  base64Into(src, out, at) {
    const whole = src.length - (src.length % 3);
    let o = at;
    for (let i = 0; i < whole; i += 3) {
      const v = (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
      out[o++] = BASE64[v >> 18]!;
      out[o++] = BASE64[(v >> 12) & 63]!;
      out[o++] = BASE64[(v >> 6) & 63]!;
      out[o++] = BASE64[v & 63]!;
    }
    if (whole < src.length) {
      const two = whole + 1 < src.length;
      const v = (src[whole]! << 16) | (two ? src[whole + 1]! << 8 : 0);
      out[o++] = BASE64[v >> 18]!;
      out[o++] = BASE64[(v >> 12) & 63]!;
      out[o++] = two ? BASE64[(v >> 6) & 63]! : PAD;
      out[o++] = PAD;
    }
    return o;
  },
};

const BASE64 = new TextEncoder().encode('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const PAD = 0x3d;

/**
 * Undoes the rows' filters in place: row y's samples end up at raw[y * (stride + 1) + 1 ...], each
 * filter reading the row above as already unfiltered (the first row's "above" is zeros, which turns
 * Up into nothing and Paeth into Sub). False for an unknown filter type.
 */
function unfilter(raw: Uint8Array, width: number, height: number, bpp: number): boolean {
  const stride = width * bpp;
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    const end = row + stride;
    let type = raw[row - 1];
    if (y === 0 && (type === 2 || type === 4)) type = type === 2 ? 0 : 1;
    if (type === 0) continue;
    if (type === 1) {
      for (let i = row + bpp; i < end; i++) raw[i] = (raw[i]! + raw[i - bpp]!) & 255;
    } else if (type === 2) {
      for (let i = row; i < end; i++) raw[i] = (raw[i]! + raw[i - stride - 1]!) & 255;
    } else if (type === 3) {
      if (y === 0) {
        for (let i = row + bpp; i < end; i++) raw[i] = (raw[i]! + (raw[i - bpp]! >> 1)) & 255;
        continue;
      }
      for (let i = row; i < row + bpp; i++) raw[i] = (raw[i]! + (raw[i - stride - 1]! >> 1)) & 255;
      for (let i = row + bpp; i < end; i++) raw[i] = (raw[i]! + ((raw[i - bpp]! + raw[i - stride - 1]!) >> 1)) & 255;
    } else if (type === 4) {
      // Left and upper-left are 0 for the first pixel, so Paeth picks the byte above.
      for (let i = row; i < row + bpp; i++) raw[i] = (raw[i]! + raw[i - stride - 1]!) & 255;
      for (let i = row + bpp; i < end; i++) {
        const a = raw[i - bpp]!;
        const b = raw[i - stride - 1]!;
        const c = raw[i - stride - 1 - bpp]!;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - c - c);
        raw[i] = (raw[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
    } else {
      return false;
    }
  }
  return true;
}

/** Unfiltered rows of grey, grey + alpha, RGB or RGBA samples -> RGB, alpha over white (one loop per layout). */
function toRgb(raw: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  const stride = width * channels;
  let j = 0;
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    const end = row + stride;
    if (channels === 3) {
      rgb.set(raw.subarray(row, end), j);
      j += stride;
    } else if (channels === 4) {
      rgbaIntoRgb(raw, row, rgb, j, width);
      j += width * 3;
    } else {
      for (let i = row; i < end; i += channels, j += 3) {
        const v = channels === 2 ? overWhite(raw[i]!, raw[i + 1]!) : raw[i]!;
        rgb[j] = rgb[j + 1] = rgb[j + 2] = v;
      }
    }
  }
  return rgb;
}
