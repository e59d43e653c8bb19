/**
 * pytorch-grad-cam's deprocess_image for a guided gradient: standardise over the whole array
 * (population std), x 0.1 + 0.5, clip to [0, 1], x 255 truncated to uint8.
 */
export function deprocessImage(img: Float32Array): Uint8Array {
  let mean = 0;
  for (const v of img) mean += v;
  mean /= img.length;
  let variance = 0;
  for (const v of img) variance += (v - mean) ** 2;
  const std = Math.fround(Math.sqrt(variance / img.length));
  const m = Math.fround(mean);
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const v = Math.fround(Math.fround(Math.fround(img[i]! - m) / Math.fround(std + 1e-5)) * Math.fround(0.1)) + 0.5;
    out[i] = Math.trunc(Math.fround(Math.min(Math.max(Math.fround(v), 0), 1) * 255));
  }
  return out;
}
