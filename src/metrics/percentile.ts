/**
 * Which pixels ROAD removes, as pytorch-grad-cam decides it: a pixel is kept where map < the map's
 * percentile p, and removed (imputed) elsewhere.
 */

/**
 * NumPy's `np.percentile(a, p)` (method 'linear') of float32 values, as NumPy 1.24 computes it: the two
 * neighbouring order statistics, their difference rounded to float32, then interpolated in float64.
 */
export function percentile(values: Float32Array, p: number): number {
  const sorted = Float32Array.from(values).sort();
  const n = sorted.length;
  const position = (n - 1) * (p / 100);
  if (position >= n - 1) return sorted[n - 1]!;
  const lo = Math.floor(position);
  const gamma = position - lo;
  const a = sorted[lo]!;
  const b = sorted[lo + 1]!;
  const diff = Math.fround(b - a);
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/**
 * 1 where a pixel is kept, 0 where it is removed: kept where map < percentile(map, p), compared in
 * float32 as torch compares a float32 tensor with a scalar.
 */
export function keepMask(map: Float32Array, p: number): Uint8Array {
  const threshold = Math.fround(percentile(map, p));
  const keep = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) keep[i] = map[i]! < threshold ? 1 : 0;
  return keep;
}

/** 1 - map in float32, the map of LeRF (least relevant first). */
export function invertMap(map: Float32Array): Float32Array {
  const out = new Float32Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = 1 - map[i]!;
  return out;
}
