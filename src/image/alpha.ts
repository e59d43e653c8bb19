/**
 * Alpha composited over white, one rounding: round((v * a + 255 * (255 - a)) / 255). The CLI's
 * decoder, the API's normalisation and the resize all use this, so a transparent image means the
 * same thing everywhere.
 */
export const overWhite = (v: number, a: number): number => (a === 255 ? v : Math.round((v * a + 255 * (255 - a)) / 255));

/** RGBA -> RGB with alpha composited over white. */
export function rgbaOverWhite(rgba: Uint8Array | Uint8ClampedArray, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  rgbaIntoRgb(rgba, 0, rgb, 0, pixels);
  return rgb;
}

/** `pixels` RGBA pixels from rgba[from] written as RGB (alpha over white) at rgb[to]. */
export function rgbaIntoRgb(rgba: Uint8Array | Uint8ClampedArray, from: number, rgb: Uint8Array, to: number, pixels: number): void {
  for (let i = from, j = to; i < from + pixels * 4; i += 4, j += 3) {
    const a = rgba[i + 3]!;
    // Opaque pixels (nearly all, in most images) are copied: overWhite(v, 255) is v.
    if (a === 255) {
      rgb[j] = rgba[i]!;
      rgb[j + 1] = rgba[i + 1]!;
      rgb[j + 2] = rgba[i + 2]!;
    } else {
      for (let c = 0; c < 3; c++) rgb[j + c] = overWhite(rgba[i + c]!, a);
    }
  }
}

/** RGB -> opaque RGBA. */
export function rgbToRgba(rgb: Uint8Array, pixels: number): Uint8Array {
  const rgba = new Uint8Array(pixels * 4).fill(255);
  for (let i = 0; i < pixels; i++) rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
  return rgba;
}
