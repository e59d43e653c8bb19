import { tf, type Tensor1D, type Tensor2D, type Tensor4D } from '../tf.js';
import { wasmHeapKernel } from './wasm-kernel.js';

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
 * tensor, a matMul operator 1.0x. The columns are in (ky, kx, channel) order, so the matMul adds the
 * terms in XNNPACK's conv order: results are bit-identical to xnnpackConv.
 */
export const gemmConv: ConvRunner = (x, filter, stride, pad, bias, activation = 'linear') =>
  tf.tidy(() => {
    const [k, , cin, cout] = filter.shape;
    const attrs: Im2ColAttrs = { k, stride, pad: [pad[1][0], pad[1][1], pad[2][0], pad[2][1]] };
    const a = im2col({ x }, attrs) as Tensor2D;
    const b = tf.reshape(filter, [k * k * cin, cout]); // shares the filter's data: matMul caches its operator on it
    const y = bias ? tf.fused.matMul({ a, b, bias, activation }) : tf.matMul(a, b);
    const [n, h, w] = x.shape;
    const [top, bottom, left, right] = attrs.pad;
    return tf.reshape(y, [n, outSize(h, k, stride, top, bottom), outSize(w, k, stride, left, right), cout]);
  });

const outSize = (n: number, k: number, stride: number, before: number, after: number): number => Math.floor((n + before + after - k) / stride) + 1;

interface Im2ColAttrs {
  readonly k: number;
  readonly stride: number;
  readonly pad: readonly [number, number, number, number]; // top, bottom, left, right
}

/**
 * For each output position p and tap (ky, kx) of a k x k window, in im2col's row order: the element
 * offset of the input pixel it reads (NHWC, batch 1), or -1 where the window overhangs.
 */
function windowPixels(h: number, w: number, c: number, k: number, stride: number, top: number, left: number, oh: number, ow: number): Int32Array {
  const at = new Int32Array(oh * ow * k * k);
  let i = 0;
  for (let y = 0; y < oh; y++) {
    for (let xo = 0; xo < ow; xo++) {
      for (let ky = 0; ky < k; ky++) {
        const iy = y * stride - top + ky;
        for (let kx = 0; kx < k; kx++) {
          const ix = xo * stride - left + kx;
          at[i++] = iy >= 0 && iy < h && ix >= 0 && ix < w ? (iy * w + ix) * c : -1;
        }
      }
    }
  }
  return at;
}

/**
 * im2col on the wasm heap (tfjs-wasm's slice and concat would cost 0.3-1.5 ms each): row p holds the
 * k x k input window of output position p (NHWC), zeros where it overhangs; a batch's images follow each other.
 */
const im2col = wasmHeapKernel<Im2ColAttrs>('GradcamIm2Col', (backend, { x }, { k, stride, pad: [top, bottom, left, right] }) => {
  const [n, h, w, c] = x!.shape as [number, number, number, number];
  const oh = outSize(h, k, stride, top, bottom);
  const ow = outSize(w, k, stride, left, right);
  const out = backend.makeOutput([n * oh * ow, k * k * c], 'float32');
  const src = backend.typedArrayFromHeap(x!) as Float32Array; // views taken after makeOutput, which may grow the heap
  const cols = backend.typedArrayFromHeap(out) as Float32Array;
  const windows = windowPixels(h, w, c, k, stride, top, left, oh, ow);
  for (let img = 0, base = 0, row = 0; img < n; img++, base += h * w * c, row += windows.length * c) {
    windows.forEach((at, i) => {
      if (at >= 0) cols.set(src.subarray(base + at, base + at + c), row + i * c);
      else cols.fill(0, row + i * c, row + (i + 1) * c);
    });
  }
  return out;
});

/**
 * The input gradient of a gemmConv from its own filter, with no second (flipped) filter: the
 * columns' gradient (W [k*k*Cin, Cout] x dy^T [Cout, positions], W as the matMul's left operand,
 * which XNNPACK reads in place: no packed copy), transposed to im2col's layout and scattered back onto
 * the input (col2im, im2col's adjoint). For layer4 this saves the backward filters and their packed
 * copies (~110 MB of the wasm heap).
 */
export function gemmConvInputGrad(dy: Tensor4D, filter: Tensor4D, stride: number, pad: Pads, inH: number, inW: number): Tensor4D {
  return tf.tidy(() => {
    const [k, , cin, cout] = filter.shape;
    const [, oh, ow] = dy.shape;
    const dyT = tf.transpose(tf.reshape(dy, [oh * ow, cout]));
    const cols = tf.transpose(tf.matMul(tf.reshape(filter, [k * k * cin, cout]), dyT)) as Tensor2D;
    return col2im({ cols }, { k, stride, top: pad[1][0], left: pad[2][0], inH, inW, oh, ow }) as Tensor4D;
  });
}

interface Col2ImAttrs {
  readonly k: number;
  readonly stride: number;
  readonly top: number;
  readonly left: number;
  readonly inH: number;
  readonly inW: number;
  readonly oh: number;
  readonly ow: number;
}

/** im2col's adjoint: each row's k x k window (the columns' gradient) is added back onto the input's pixels. */
const col2im = wasmHeapKernel<Col2ImAttrs>('GradcamCol2Im', (backend, { cols }, { k, stride, top, left, inH, inW, oh, ow }) => {
  const c = cols!.shape[1]! / (k * k);
  const out = backend.makeOutput([1, inH, inW, c], 'float32');
  const src = backend.typedArrayFromHeap(cols!) as Float32Array; // views taken after makeOutput, which may grow the heap
  const dx = (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
  windowPixels(inH, inW, c, k, stride, top, left, oh, ow).forEach((at, i) => {
    if (at < 0) return;
    for (let j = 0, o = i * c; j < c; j++) dx[at + j] = dx[at + j]! + src[o + j]!;
  });
  return out;
});
