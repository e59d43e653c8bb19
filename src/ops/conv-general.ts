import { tf, type Tensor4D } from '../tf.js';
import type { ConvRun } from './conv.js';

/** A convolution of any 2-D geometry: kernel kh x kw, strides sh, sw, dilations dh, dw; pads [top, bottom, left, right]. */
export interface GeneralConvShape {
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
}

/** An HWIO filter [kh, kw, cin, cout] with its dilation written out as zeros. */
function dilated(hwio: Float32Array, [kh, kw]: readonly [number, number], [dh, dw]: readonly [number, number], tap: number): { data: Float32Array; keh: number; kew: number } {
  const [keh, kew] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  if (dh === 1 && dw === 1) return { data: hwio, keh, kew };
  const data = new Float32Array(keh * kew * tap);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) data.set(hwio.subarray((y * kw + x) * tap, (y * kw + x + 1) * tap), (y * dh * kew + x * dw) * tap);
  return { data, keh, kew };
}

/**
 * A dense convolution outside the fast paths' square geometry (Inception's 1x7 and 7x1, unequal strides or
 * dilations), dilation written out. Forward: XNNPACK's conv on the padded input. Input gradient: at stride 1 the
 * forward conv of dy (fully padded) with the flipped, in/out-swapped filter; strided, tfjs's transposed conv (Conv2DBackpropInput).
 */
export function generalConv(hwio: Float32Array, bias: Float32Array | undefined, cin: number, cout: number, g: GeneralConvShape): ConvRun {
  const { data, keh, kew } = dilated(hwio, g.kernel, g.dilations, cin * cout);
  const [sh, sw] = g.strides;
  const [t, b, l, r] = g.pads;
  const filter = tf.tensor4d(data, [keh, kew, cin, cout]);
  const back = tf.tidy(() => tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as Tensor4D);
  const biasT = bias && tf.tensor1d(bias);
  return {
    forward: (x, activation = 'linear') =>
      tf.fused.conv2d({ x, filter, strides: [sh, sw], pad: [[0, 0], [t, b], [l, r], [0, 0]], bias: biasT, activation }),
    inputGrad: (dy, inH, inW) =>
      tf.tidy(() => {
        const [hp, wp] = [inH + t + b, inW + l + r];
        const [, oh, ow] = dy.shape;
        const full =
          sh === 1 && sw === 1
            ? tf.conv2d(dy, back, 1, [[0, 0], [keh - 1, hp - oh], [kew - 1, wp - ow], [0, 0]])
            : tf.conv2dTranspose(dy, filter, [dy.shape[0], hp, wp, cin], [sh, sw], 'valid');
        return tf.slice(full, [0, t, l, 0], [-1, inH, inW, -1]);
      }),
    tensors: [filter, back, ...(biasT ? [biasT] : [])],
  };
}
