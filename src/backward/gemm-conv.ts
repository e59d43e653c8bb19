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
 * Measured on tfjs-wasm 4.22: a conv operator keeps 2.0x its filter's bytes alive (besides the filter
 * tensor), a matMul operator 1.0x; at ResNet's layer4 the im2col step costs about 1 ms per call.
 * im2col is a depthwise conv whose one-hot filters copy one tap each; reordering its output to
 * (tap, channel) makes the matMul add the terms in XNNPACK's conv order, so results are bit-identical.
 * Owns its one-hot filters (one per kernel size and channel count): dispose() it with the model.
 */
export class GemmConv {
  private readonly oneHot = new Map<string, Tensor4D>();

  readonly run: ConvRunner = (x, filter, stride, pad, bias, activation = 'linear') =>
    tf.tidy(() => {
      const [k, , cin, cout] = filter.shape;
      const taps = tf.depthwiseConv2d(x, this.tapFilter(k, cin), stride, pad);
      const [, oh, ow] = taps.shape;
      const cols = tf.reshape(tf.transpose(tf.reshape(taps, [oh * ow, cin, k * k]), [0, 2, 1]), [oh * ow, k * k * cin]);
      const w = tf.reshape(filter, [k * k * cin, cout]); // shares the filter's data, so matMul caches its operator on it
      const y = bias ? tf.fused.matMul({ a: cols, b: w, bias, activation }) : tf.matMul(cols, w);
      return tf.reshape(y, [1, oh, ow, cout]);
    });

  /** Creates the one-hot filter for (k, channels) now, so explain() allocates no lasting tensors. */
  prepare(k: number, channels: number): void {
    this.tapFilter(k, channels);
  }

  dispose(): void {
    tf.dispose([...this.oneHot.values()]);
    this.oneHot.clear();
  }

  private tapFilter(k: number, channels: number): Tensor4D {
    const key = `${k}x${channels}`;
    let f = this.oneHot.get(key);
    if (!f) {
      const taps = k * k;
      const data = new Float32Array(taps * channels * taps);
      for (let t = 0; t < taps; t++) for (let c = 0; c < channels; c++) data[(t * channels + c) * taps + t] = 1;
      f = tf.keep(tf.tensor4d(data, [k, k, channels, taps]));
      this.oneHot.set(key, f);
    }
    return f;
  }
}
