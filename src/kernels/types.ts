/**
 * The post-processing kernels. Arrays are float32; NHWC arrays are [positions, channels] row-major.
 * Two implementations: AssemblyScript/wasm SIMD (./wasm.ts) and plain TypeScript (./reference.ts),
 * which the tests compare on random inputs.
 */
export interface Kernels {
  /** Per-channel mean over positions: [P, C] -> [C]. */
  channelMean(src: Float32Array, positions: number, channels: number): Float32Array;
  /** max(0, sum_c w[c] * A[p, c]): [P, C] x [C] -> [P]. */
  weightedSumRelu(act: Float32Array, weights: Float32Array, positions: number, channels: number): Float32Array;
  /** max(0, sum_c W[p, c] * A[p, c]): [P, C] x [P, C] -> [P]. */
  elementwiseSumRelu(act: Float32Array, weights: Float32Array, positions: number, channels: number): Float32Array;
  /** (x - min) / (1e-7 + max(x - min)), a new array. */
  minMaxNormalize(x: Float32Array): Float32Array;
  /** Bilinear, half-pixel centres, edge replicate (cv2.INTER_LINEAR upsampling); interleaved channels. */
  resizeBilinear(src: Float32Array, sh: number, sw: number, dh: number, dw: number, channels: number): Float32Array;
  /** Mean over maps of max(map, 0). */
  meanRelu(maps: readonly Float32Array[]): Float32Array;
  /** guided[p, k] * cam[p] for k in 0..2: [P, 3] x [P] -> [P, 3]. */
  guidedProduct(guided: Float32Array, cam: Float32Array): Float32Array;
  /**
   * pytorch-grad-cam's show_cam_on_image (RGB): lut[uint8(255 mask)] blended with the image,
   * divided by its maximum, as uint8 RGB. imageWeight 0 gives the bare heatmap.
   */
  colormapOverlay(rgb: Uint8Array, mask: Float32Array, lut: Uint8Array, imageWeight: number): Uint8Array;
  /**
   * A PNG's inflated scanlines -> RGB: `height` rows of a filter-type byte and width * channels 8-bit
   * samples (grey, grey + alpha, RGB or RGBA), unfiltered, with alpha composited over white as
   * image/alpha.ts's overWhite. Undefined for an unknown filter type. `raw` is scratch: it may be
   * overwritten.
   */
  pngRowsToRgb(raw: Uint8Array, width: number, height: number, channels: number): Uint8Array | undefined;
  /** Standard padded base64 (RFC 4648) of `src` as ASCII bytes written into `out` at `at`; returns the end. */
  base64Into(src: Uint8Array, out: Uint8Array, at: number): number;
}
