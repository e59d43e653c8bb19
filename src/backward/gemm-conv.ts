import { tf, type Tensor1D, type Tensor4D } from '../tf.js';

export type Pads = [[0, 0], [number, number], [number, number], [0, 0]];
export type Activation = 'relu' | 'linear';

/** Runs one convolution (square kernel, equal strides, explicit padding), optionally with bias and activation. */
export type ConvRunner = (x: Tensor4D, filter: Tensor4D, stride: number, pad: Pads, bias?: Tensor1D, activation?: Activation) => Tensor4D;

/** tfjs-wasm's Conv2D on XNNPACK: no per-call overhead, but its cached operator holds two packed copies of the filter. */
export const xnnpackConv: ConvRunner = (x, filter, stride, pad, bias, activation = 'linear') =>
  bias ? tf.fused.conv2d({ x, filter, strides: stride, pad, bias, activation }) : tf.conv2d(x, filter, stride, pad);

/**
 * Convolution as im2col + matMul, for layers whose filters dwarf their activations.
 * Measured on tfjs-wasm 4.22: a conv operator keeps 2.0x its filter's bytes alive besides the filter
 * tensor, a matMul operator 1.0x. The columns are built in JS (tfjs-wasm's slice and concat cost
 * 0.3-1.5 ms each) in (ky, kx, channel) order, so the matMul adds the terms in XNNPACK's conv order:
 * results are bit-identical to xnnpackConv.
 */
export const gemmConv: ConvRunner = (x, filter, stride, pad, bias, activation = 'linear') =>
  tf.tidy(() => {
    const [k, , cin, cout] = filter.shape;
    const { cols, oh, ow } = im2col(x.dataSync() as Float32Array, x.shape, k, stride, pad);
    const a = tf.tensor2d(cols, [oh * ow, k * k * cin]);
    const w = tf.reshape(filter, [k * k * cin, cout]); // shares the filter's data: matMul caches its operator on it
    const y = bias ? tf.fused.matMul({ a, b: w, bias, activation }) : tf.matMul(a, w);
    return tf.reshape(y, [1, oh, ow, cout]);
  });

/** Row p holds the k x k input window of output position p (NHWC input, batch 1), zeros where it overhangs. */
export function im2col(src: Float32Array, shape: readonly number[], k: number, stride: number, pad: Pads): { cols: Float32Array; oh: number; ow: number } {
  const [, h, w, c] = shape as [number, number, number, number];
  const [, [top, bottom], [left, right]] = pad;
  const oh = Math.floor((h + top + bottom - k) / stride) + 1;
  const ow = Math.floor((w + left + right - k) / stride) + 1;
  const cols = new Float32Array(oh * ow * k * k * c);
  let o = 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      for (let ky = 0; ky < k; ky++) {
        const iy = y * stride - top + ky;
        for (let kx = 0; kx < k; kx++, o += c) {
          const ix = x * stride - left + kx;
          if (iy >= 0 && iy < h && ix >= 0 && ix < w) cols.set(src.subarray((iy * w + ix) * c, (iy * w + ix + 1) * c), o);
        }
      }
    }
  }
  return { cols, oh, ow };
}
