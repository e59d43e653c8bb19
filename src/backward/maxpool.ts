import { tf, type Tensor4D } from '../tf.js';

export interface PoolGeometry {
  readonly size: number;
  readonly stride: number;
  readonly pad: number;
}

/**
 * Max-pool gradient that routes each window's gradient to the FIRST maximum in row-major order,
 * as PyTorch does. tfjs's MaxPoolGrad picks the last one, which differs wherever a window holds
 * equal maxima (flat image regions saturate the stem to identical values).
 */
export function maxPoolGrad(dy: Tensor4D, input: Tensor4D, g: PoolGeometry): Tensor4D {
  const [, inH, inW, C] = input.shape;
  const [, outH, outW] = dy.shape;
  const x = input.dataSync() as Float32Array;
  const d = dy.dataSync() as Float32Array;
  const dx = new Float32Array(x.length);
  for (let oy = 0; oy < outH; oy++) {
    const y0 = oy * g.stride - g.pad;
    for (let ox = 0; ox < outW; ox++) {
      const x0 = ox * g.stride - g.pad;
      for (let c = 0; c < C; c++) {
        let best = -1;
        let bestVal = -Infinity;
        for (let ky = Math.max(y0, 0); ky < Math.min(y0 + g.size, inH); ky++) {
          for (let kx = Math.max(x0, 0); kx < Math.min(x0 + g.size, inW); kx++) {
            const at = (ky * inW + kx) * C + c;
            if (x[at]! > bestVal || Number.isNaN(x[at])) {
              bestVal = x[at]!;
              best = at;
            }
          }
        }
        if (best >= 0) dx[best]! += d[(oy * outW + ox) * C + c]!;
      }
    }
  }
  return tf.tensor4d(dx, input.shape);
}
