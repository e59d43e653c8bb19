import { tf, type Tensor4D } from '../../tf.js';

/**
 * d(loss)/d(input) of a 'valid' depthwise convolution (channel multiplier 1, square kernel): a
 * depthwise convolution of dy, zero-inserted for strides, with the spatially flipped kernel.
 */
export function depthwiseInputGrad(dy: Tensor4D, flippedFilter: Tensor4D, kernel: number, stride: number, inH: number, inW: number): Tensor4D {
  return tf.tidy(() => {
    const [n, oh, ow, c] = dy.shape;
    let x = dy;
    if (stride > 1) {
      const cols = tf.pad(tf.reshape(dy, [n * oh, ow, 1, c]), [[0, 0], [0, 0], [0, stride - 1], [0, 0]]);
      x = tf.reshape(tf.pad(tf.reshape(cols, [n * oh, 1, ow * stride, c]), [[0, 0], [0, stride - 1], [0, 0], [0, 0]]), [n, oh * stride, ow * stride, c]);
    }
    const lead = kernel - 1;
    const [, h, w] = x.shape;
    const tailH = inH - h;
    const tailW = inW - w;
    if (tailH < 0 || tailW < 0) x = tf.slice(x, [0, 0, 0, 0], [-1, h + Math.min(tailH, 0), w + Math.min(tailW, 0), -1]);
    return tf.depthwiseConv2d(x, flippedFilter, 1, [[0, 0], [lead, Math.max(tailH, 0)], [lead, Math.max(tailW, 0)], [0, 0]]);
  });
}
