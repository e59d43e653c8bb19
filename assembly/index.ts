// Post-processing kernels. Everything crosses the boundary as byte offsets into this module's
// memory and plain numbers: the TypeScript wrapper (src/kernels/wasm.ts) lays the arrays out.
// Activations and gradients are NHWC: element (p, c) of a [positions, channels] array is at p*C + c.

/** First free byte after static data: the wrapper places its arrays from here on. */
export function heapBase(): usize {
  return __heap_base;
}

/** dst[c] = mean over positions of src[p, c]. */
export function channelMean(src: usize, dst: usize, positions: i32, channels: i32): void {
  const vecEnd = channels & ~3;
  for (let c = 0; c < vecEnd; c += 4) v128.store(dst + (<usize>c << 2), f32x4.splat(0));
  for (let c = vecEnd; c < channels; c++) store<f32>(dst + (<usize>c << 2), 0);
  for (let p = 0; p < positions; p++) {
    const row = src + ((<usize>p * <usize>channels) << 2);
    for (let c = 0; c < vecEnd; c += 4) {
      const at = <usize>c << 2;
      v128.store(dst + at, f32x4.add(v128.load(dst + at), v128.load(row + at)));
    }
    for (let c = vecEnd; c < channels; c++) {
      const at = <usize>c << 2;
      store<f32>(dst + at, load<f32>(dst + at) + load<f32>(row + at));
    }
  }
  const n = <f32>positions;
  for (let c = 0; c < channels; c++) store<f32>(dst + (<usize>c << 2), load<f32>(dst + (<usize>c << 2)) / n);
}

@inline
function dotRelu(a: usize, w: usize, channels: i32): f32 {
  const vecEnd = channels & ~3;
  let acc = f32x4.splat(0);
  for (let c = 0; c < vecEnd; c += 4) {
    const at = <usize>c << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(a + at), v128.load(w + at)));
  }
  let sum = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (let c = vecEnd; c < channels; c++) sum += load<f32>(a + (<usize>c << 2)) * load<f32>(w + (<usize>c << 2));
  return sum > 0 ? sum : 0;
}

/** dst[p] = max(0, sum_c weights[c] * act[p, c]): the class activation map of channel weights. */
export function weightedSumRelu(act: usize, weights: usize, dst: usize, positions: i32, channels: i32): void {
  for (let p = 0; p < positions; p++) {
    store<f32>(dst + (<usize>p << 2), dotRelu(act + ((<usize>p * <usize>channels) << 2), weights, channels));
  }
}

/** dst[p] = max(0, sum_c weights[p, c] * act[p, c]): maps with per-position weights (HiResCAM, LayerCAM). */
export function elementwiseSumRelu(act: usize, weights: usize, dst: usize, positions: i32, channels: i32): void {
  for (let p = 0; p < positions; p++) {
    const off = (<usize>p * <usize>channels) << 2;
    store<f32>(dst + (<usize>p << 2), dotRelu(act + off, weights + off, channels));
  }
}

/** In place: x = x - min; x = x / (1e-7 + max), pytorch-grad-cam's scale_cam_image. */
export function minMaxNormalize(ptr: usize, n: i32): void {
  if (n <= 0) return;
  let lo = load<f32>(ptr);
  let hi = lo;
  for (let i = 1; i < n; i++) {
    const v = load<f32>(ptr + (<usize>i << 2));
    lo = min(lo, v);
    hi = max(hi, v);
  }
  const denom: f32 = <f32>1e-7 + (hi - lo);
  const vecEnd = n & ~3;
  const vlo = f32x4.splat(lo);
  const vden = f32x4.splat(denom);
  for (let i = 0; i < vecEnd; i += 4) {
    const at = ptr + (<usize>i << 2);
    v128.store(at, f32x4.div(f32x4.sub(v128.load(at), vlo), vden));
  }
  for (let i = vecEnd; i < n; i++) {
    const at = ptr + (<usize>i << 2);
    store<f32>(at, (load<f32>(at) - lo) / denom);
  }
}

/**
 * Bilinear resize with half-pixel centres and edge replication (OpenCV INTER_LINEAR without
 * antialiasing), `channels` interleaved values per pixel.
 */
export function resizeBilinear(src: usize, sh: i32, sw: i32, dst: usize, dh: i32, dw: i32, channels: i32): void {
  const sy = <f32>sh / <f32>dh;
  const sx = <f32>sw / <f32>dw;
  for (let y = 0; y < dh; y++) {
    let fy = (<f32>y + 0.5) * sy - 0.5;
    let y0 = <i32>Mathf.floor(fy);
    fy -= <f32>y0;
    if (y0 < 0) { y0 = 0; fy = 0; }
    if (y0 >= sh - 1) { y0 = sh - 1; fy = 0; }
    const y1 = min(y0 + 1, sh - 1);
    for (let x = 0; x < dw; x++) {
      let fx = (<f32>x + 0.5) * sx - 0.5;
      let x0 = <i32>Mathf.floor(fx);
      fx -= <f32>x0;
      if (x0 < 0) { x0 = 0; fx = 0; }
      if (x0 >= sw - 1) { x0 = sw - 1; fx = 0; }
      const x1 = min(x0 + 1, sw - 1);
      for (let c = 0; c < channels; c++) {
        const p00 = load<f32>(src + ((<usize>(y0 * sw + x0) * channels + c) << 2));
        const p01 = load<f32>(src + ((<usize>(y0 * sw + x1) * channels + c) << 2));
        const p10 = load<f32>(src + ((<usize>(y1 * sw + x0) * channels + c) << 2));
        const p11 = load<f32>(src + ((<usize>(y1 * sw + x1) * channels + c) << 2));
        const top = p00 * (1 - fx) + p01 * fx;
        const bottom = p10 * (1 - fx) + p11 * fx;
        store<f32>(dst + ((<usize>(y * dw + x) * channels + c) << 2), top * (1 - fy) + bottom * fy);
      }
    }
  }
}

/** dst[i] += max(src[i], 0): accumulates the layer maps before their mean. */
export function addRelu(dst: usize, src: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const vecEnd = n & ~3;
  for (let i = 0; i < vecEnd; i += 4) {
    const at = <usize>i << 2;
    v128.store(dst + at, f32x4.add(v128.load(dst + at), f32x4.max(v128.load(src + at), zero)));
  }
  for (let i = vecEnd; i < n; i++) {
    const at = <usize>i << 2;
    store<f32>(dst + at, load<f32>(dst + at) + max(load<f32>(src + at), 0));
  }
}

/** In place: x = x / d. */
export function divide(ptr: usize, n: i32, d: f32): void {
  const vd = f32x4.splat(d);
  const vecEnd = n & ~3;
  for (let i = 0; i < vecEnd; i += 4) {
    const at = ptr + (<usize>i << 2);
    v128.store(at, f32x4.div(v128.load(at), vd));
  }
  for (let i = vecEnd; i < n; i++) {
    const at = ptr + (<usize>i << 2);
    store<f32>(at, load<f32>(at) / d);
  }
}

/** dst[p, k] = guided[p, k] * cam[p] for the 3 colour channels of each pixel: Guided Grad-CAM. */
export function guidedProduct(guided: usize, cam: usize, dst: usize, positions: i32): void {
  for (let p = 0; p < positions; p++) {
    const m = load<f32>(cam + (<usize>p << 2));
    const at = <usize>p * 12;
    store<f32>(dst + at, load<f32>(guided + at) * m);
    store<f32>(dst + at + 4, load<f32>(guided + at + 4) * m);
    store<f32>(dst + at + 8, load<f32>(guided + at + 8) * m);
  }
}

/**
 * pytorch-grad-cam's show_cam_on_image in RGB: heat = lut[uint8(255 * mask)] / 255,
 * cam = (1 - w) * heat + w * img / 255, then cam / max(cam), as uint8 (truncated).
 * `lut` is 256 RGB triples (u8); `img` and `dst` are RGB u8; `mask` is f32 in [0, 1].
 * With imageWeight 0 this is the bare heatmap.
 */
export function colormapOverlay(img: usize, mask: usize, lut: usize, dst: usize, n: i32, imageWeight: f32): void {
  const heatWeight: f32 = 1 - imageWeight;
  let peak: f32 = 0;
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < n; i++) {
      const level = <usize>(<u8>(<f32>255 * load<f32>(mask + (<usize>i << 2))));
      for (let c: usize = 0; c < 3; c++) {
        const heat = <f32>load<u8>(lut + level * 3 + c) / 255;
        const v = heatWeight * heat + imageWeight * (<f32>load<u8>(img + <usize>i * 3 + c) / 255);
        if (pass == 0) peak = max(peak, v);
        else store<u8>(dst + <usize>i * 3 + c, <u8>(v / peak * <f32>255));
      }
    }
  }
}

/**
 * PNG scanlines -> RGB. `raw` holds height + 1 rows of 1 + width * channels bytes (a filter-type byte,
 * then 8-bit samples: grey, grey + alpha, RGB or RGBA); the first row is zeros (what row 0's filters
 * read as the row above). The rows are unfiltered in place and written at `dst` as RGB, alpha
 * composited over white: round((v * a + 255 * (255 - a)) / 255). False for an unknown filter type.
 */
export function pngRowsToRgb(raw: usize, width: i32, height: i32, channels: i32, dst: usize): bool {
  const bpp = <usize>channels;
  const stride = <usize>width * bpp;
  let out = dst;
  for (let y = 1; y <= height; y++) {
    const row = raw + <usize>y * (stride + 1) + 1;
    const up = row - stride - 1;
    const type = load<u8>(row - 1);
    if (type > 4) return false;
    if (type == 2) unfilterUp(row, up, stride);
    else if (type != 0) {
      if (bpp >= 3) unfilterPixels(row, up, stride, bpp, type);
      else unfilterBytes(row, up, stride, bpp, type);
    }
    if (channels == 3) {
      memory.copy(out, row, stride);
      out += stride;
    } else if (channels == 4) {
      out = rgbaOverWhite(row, <usize>width, out);
    } else {
      for (let i: usize = 0; i < stride; i += bpp, out += 3) {
        const v = channels == 2 ? overWhite(load<u8>(row + i), <u32>load<u8>(row + i + 1)) : load<u8>(row + i);
        store<u8>(out, v);
        store<u8>(out + 1, v);
        store<u8>(out + 2, v);
      }
    }
  }
  return true;
}

/** Up: each byte plus the byte above, 16 at a time. */
@inline
function unfilterUp(row: usize, up: usize, stride: usize): void {
  let i: usize = 0;
  for (; i + 16 <= stride; i += 16) v128.store(row + i, i8x16.add(v128.load(row + i), v128.load(up + i)));
  for (; i < stride; i++) store<u8>(row + i, load<u8>(row + i) + load<u8>(up + i));
}

/**
 * Sub, Average and Paeth for 3 or 4 bytes per pixel: one pixel's bytes at a time in the 16-bit lanes
 * of a vector (the filters run along a row, each pixel needing the one before it decoded). Each load
 * reads 4 bytes; for 3 bytes per pixel the 4th is the next byte, read but never stored (the row above
 * and the rows' buffer always have one byte more: the next row's filter byte, or the output after the
 * last row).
 */
function unfilterPixels(row: usize, up: usize, stride: usize, bpp: usize, type: u8): void {
  const BYTE = i16x8.splat(0xff);
  let a = i16x8.splat(0); // the pixel to the left, decoded
  let c = i16x8.splat(0); // the pixel above-left
  for (let i: usize = 0; i < stride; i += bpp) {
    const x = i16x8.extend_low_i8x16_u(v128.load32_zero(row + i));
    const b = i16x8.extend_low_i8x16_u(v128.load32_zero(up + i));
    let predicted: v128;
    if (type == 1) predicted = a;
    else if (type == 3) predicted = i16x8.shr_u(i16x8.add(a, b), 1);
    else {
      const pa = i16x8.abs(i16x8.sub(b, c));
      const pb = i16x8.abs(i16x8.sub(a, c));
      const pc = i16x8.abs(i16x8.sub(i16x8.add(a, b), i16x8.add(c, c)));
      const takeA = v128.and(i16x8.le_s(pa, pb), i16x8.le_s(pa, pc));
      predicted = v128.bitselect(a, v128.bitselect(b, c, i16x8.le_s(pb, pc)), takeA);
    }
    a = v128.and(i16x8.add(x, predicted), BYTE);
    c = b;
    const bytes = i32x4.extract_lane(i8x16.narrow_i16x8_u(a, a), 0);
    if (bpp == 4) store<u32>(row + i, bytes);
    else {
      store<u16>(row + i, <u16>bytes);
      store<u8>(row + i + 2, <u8>(bytes >> 16));
    }
  }
}

/** Sub, Average and Paeth byte by byte (1 or 2 bytes per pixel). */
function unfilterBytes(row: usize, up: usize, stride: usize, bpp: usize, type: u8): void {
  for (let i: usize = 0; i < stride; i++) {
    const a = i >= bpp ? <i32>load<u8>(row + i - bpp) : 0;
    const b = <i32>load<u8>(up + i);
    const c = i >= bpp ? <i32>load<u8>(up + i - bpp) : 0;
    let predicted = a;
    if (type == 3) predicted = (a + b) >> 1;
    else if (type == 4) {
      const pa = abs<i32>(b - c);
      const pb = abs<i32>(a - c);
      const pc = abs<i32>(a + b - c - c);
      predicted = select<i32>(a, select<i32>(b, c, pb <= pc), pa <= pb && pa <= pc);
    }
    store<u8>(row + i, load<u8>(row + i) + <u8>predicted);
  }
}

/**
 * RGBA over white to RGB, 4 pixels at a time: overWhite in 16-bit lanes, where v * a - 255 * a + 255 * 255
 * + 127 (at most 65152) is exact modulo 2^16, and floor(y / 255) = (y + 1 + (y >> 8)) >> 8 for every such y.
 */
@inline
function rgbaOverWhite(row: usize, pixels: usize, out: usize): usize {
  const ALPHA_LOW = i8x16(3, -1, 3, -1, 3, -1, 3, -1, 7, -1, 7, -1, 7, -1, 7, -1);
  const ALPHA_HIGH = i8x16(11, -1, 11, -1, 11, -1, 11, -1, 15, -1, 15, -1, 15, -1, 15, -1);
  const RGB = i8x16(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  let p: usize = 0;
  for (; p + 4 <= pixels; p += 4, out += 12) {
    const v = v128.load(row + p * 4);
    const low = overWhite8(i16x8.extend_low_i8x16_u(v), i8x16.swizzle(v, ALPHA_LOW));
    const high = overWhite8(i16x8.extend_high_i8x16_u(v), i8x16.swizzle(v, ALPHA_HIGH));
    const rgb = i8x16.swizzle(i8x16.narrow_i16x8_u(low, high), RGB);
    v128.store64_lane(out, rgb, 0);
    v128.store32_lane(out + 8, rgb, 2);
  }
  for (; p < pixels; p++, out += 3) {
    const at = row + p * 4;
    const a = <u32>load<u8>(at + 3);
    store<u8>(out, overWhite(load<u8>(at), a));
    store<u8>(out + 1, overWhite(load<u8>(at + 1), a));
    store<u8>(out + 2, overWhite(load<u8>(at + 2), a));
  }
  return out;
}

/** overWhite in eight 16-bit lanes (values and their alphas). */
@inline
function overWhite8(v: v128, a: v128): v128 {
  const y = i16x8.add(i16x8.sub(i16x8.mul(v, a), i16x8.mul(a, i16x8.splat(255))), i16x8.splat(<i16>65152));
  return i16x8.shr_u(i16x8.add(i16x8.add(y, i16x8.splat(1)), i16x8.shr_u(y, 8)), 8);
}

/** round((v * a + 255 * (255 - a)) / 255) in integers: x / 255 is never halfway, so floor((x + 127) / 255). */
@inline
function overWhite(v: u32, a: u32): u8 {
  return <u8>((v * a + 255 * (255 - a) + 127) / 255);
}

// The base64 alphabet (RFC 4648).
const BASE64 = memory.data<u8>([65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 43, 47]);

/** Standard padded base64 (RFC 4648) of n bytes at `src`, written at `dst` (4 * ceil(n / 3) bytes). */
export function base64(src: usize, n: i32, dst: usize): void {
  const whole = <usize>(n - (n % 3));
  let o = dst;
  for (let i: usize = 0; i < whole; i += 3, o += 4) {
    const v = (<u32>load<u8>(src + i) << 16) | (<u32>load<u8>(src + i + 1) << 8) | <u32>load<u8>(src + i + 2);
    store<u32>(o, <u32>load<u8>(BASE64 + (v >> 18)) | (<u32>load<u8>(BASE64 + ((v >> 12) & 63)) << 8) | (<u32>load<u8>(BASE64 + ((v >> 6) & 63)) << 16) | (<u32>load<u8>(BASE64 + (v & 63)) << 24));
  }
  if (whole < <usize>n) {
    const two = whole + 1 < <usize>n;
    const v = (<u32>load<u8>(src + whole) << 16) | (two ? <u32>load<u8>(src + whole + 1) << 8 : 0);
    store<u8>(o, load<u8>(BASE64 + (v >> 18)));
    store<u8>(o + 1, load<u8>(BASE64 + ((v >> 12) & 63)));
    store<u8>(o + 2, two ? load<u8>(BASE64 + ((v >> 6) & 63)) : 0x3d);
    store<u8>(o + 3, 0x3d);
  }
}
