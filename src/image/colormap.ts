/**
 * OpenCV's COLORMAP_JET as 256 RGB triples: the GNU Octave jet formula sampled at i/255, scaled to
 * 255 in float32 and rounded half to even as OpenCV's LUT conversion does. It equals cv2's table
 * except one entry (index 159, blue: 2 here, 1 in OpenCV, a float-literal artefact of its table).
 */
export function jetLut(): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  const ramp = (x: number, offset: number) => Math.min(Math.max(Math.min(4 * x - offset, -4 * x + offset + 3), 0), 1);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    [1.5, 0.5, -0.5].forEach((offset, c) => {
      lut[i * 3 + c] = roundHalfEven(Math.fround(Math.fround(ramp(x, offset)) * 255));
    });
  }
  return lut;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
