import { tf, type Tensor4D } from '../../tf.js';

/**
 * Gradient of a global average pool: each channel's gradient spread evenly over h x w, NHWC.
 * Built in JS: tfjs-wasm's Tile takes ~3 ms for this.
 */
export function spatialMeanGrad(perChannel: ArrayLike<number>, h: number, w: number): Tensor4D {
  const c = perChannel.length;
  const out = new Float32Array(h * w * c);
  for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) out[p * c + k] = perChannel[k]! / (h * w);
  return tf.tensor4d(out, [1, h, w, c]);
}
