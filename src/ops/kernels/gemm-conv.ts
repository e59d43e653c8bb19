import { tf, type Tensor1D, type Tensor2D, type Tensor4D } from '../../tf.js';
import type { WasmHeap } from './heap.js';
import { heapMatMuls } from './matmul.js';

export type Pads = [[0, 0], [number, number], [number, number], [0, 0]];
export type Activation = 'relu' | 'linear';

/** tfjs-wasm's Conv2D on XNNPACK: no per-call overhead, but its cached operator holds two packed copies of the filter. */
export const xnnpackConv = (x: Tensor4D, filter: Tensor4D, stride: number, pad: Pads, bias?: Tensor1D, activation: Activation = 'linear'): Tensor4D =>
  bias ? tf.fused.conv2d({ x, filter, strides: stride, pad, bias, activation }) : tf.conv2d(x, filter, stride, pad);

/**
 * Convolution as im2col + matMul, for layers whose filters dwarf their activations.
 * Measured on tfjs-wasm 4.22: a conv operator keeps 2.0x its filter's bytes alive besides the filter
 * tensor, a matMul operator 1.0x. The columns are in (ky, kx, channel) order, so the matMul adds the
 * terms in XNNPACK's conv order: results are bit-identical to xnnpackConv.
 */
export const gemmConv = (heap: WasmHeap, x: Tensor4D, filter: Tensor4D, stride: number, pad: Pads, bias?: Tensor1D, activation: Activation = 'linear'): Tensor4D =>
  tf.tidy(() => {
    const [k, , cin, cout] = filter.shape;
    const attrs: Im2ColAttrs = { k, stride, pad: [pad[1][0], pad[1][1], pad[2][0], pad[2][1]] };
    const a = im2col(heap, x, attrs);
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
 * offset of the input pixel it reads (in one image, NHWC), or -1 where the window overhangs.
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
 * k x k input window of output position p (NHWC; a batch's images one after another), zeros where it overhangs.
 */
function im2col(heap: WasmHeap, x: Tensor4D, { k, stride, pad: [top, bottom, left, right] }: Im2ColAttrs): Tensor2D {
  const [n, h, w, c] = x.shape;
  const oh = outSize(h, k, stride, top, bottom);
  const ow = outSize(w, k, stride, left, right);
  const out = heap.output([n * oh * ow, k * k * c]) as Tensor2D;
  const src = heap.view(x); // views taken after output(), which may grow the heap
  const cols = heap.view(out);
  const pixels = windowPixels(h, w, c, k, stride, top, left, oh, ow);
  for (let b = 0, image = 0, row = 0; b < n; b++, image += h * w * c, row += pixels.length * c) {
    pixels.forEach((at, i) => {
      if (at >= 0) cols.set(src.subarray(image + at, image + at + c), row + i * c);
      else cols.fill(0, row + i * c, row + (i + 1) * c);
    });
  }
  return out;
}

/**
 * The input gradient of a conv from its own filter, with no second (flipped or transposed) filter: the
 * columns' gradient dy [positions, Cout] x W^T (W the filter as [k*k*Cin, Cout], read transposed by our
 * GEMM, its rows split over two threads where the runtime has a helper), scattered back onto the input by
 * col2im (im2col's adjoint). XNNPACK would run a strided conv's as a sub-pixel convolution with s*s*Cin
 * narrow output channels (ResNet's 7x7 stem: 10 ms), from a flipped filter and its packed copy (for
 * layer4, ~110 MB of the wasm heap). Without the heap kernels: tfjs's matMul and col2im here.
 */
export function columnsInputGrad(heap: WasmHeap, dy: Tensor4D, filter: Tensor4D, stride: number, pad: Pads, inH: number, inW: number): Tensor4D {
  return tf.tidy(() => {
    const [k, , cin, cout] = filter.shape;
    const [n, oh, ow] = dy.shape;
    const d = tf.reshape(dy, [n * oh * ow, cout]) as Tensor2D;
    const w = tf.reshape(filter, [k * k * cin, cout]) as Tensor2D; // shares the filter's data
    const attrs: Col2ImAttrs = { k, stride, top: pad[1][0], left: pad[2][0], inH, inW, oh, ow };
    const kernels = heap.kernels;
    if (!kernels) return col2im(heap, tf.matMul(d, w, false, true), attrs);
    const cols = heapMatMuls(heap, [[d, w]], true)[0]!;
    const out = heap.output([n, inH, inW, cin]) as Tensor4D;
    kernels.col2im(heap.offset(cols), heap.offset(out), n, inH, inW, cin, k, stride, attrs.top, attrs.left, oh, ow);
    return out;
  });
}

export interface Col2ImAttrs {
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
export function col2im(heap: WasmHeap, cols: Tensor2D, { k, stride, top, left, inH, inW, oh, ow }: Col2ImAttrs): Tensor4D {
  const c = cols.shape[1] / (k * k);
  const pixels = windowPixels(inH, inW, c, k, stride, top, left, oh, ow);
  const n = cols.shape[0] / (oh * ow);
  const out = heap.output([n, inH, inW, c]) as Tensor4D;
  const src = heap.view(cols); // views taken after output(), which may grow the heap
  const dx = heap.view(out).fill(0);
  for (let b = 0, image = 0, row = 0; b < n; b++, image += inH * inW * c, row += pixels.length * c) {
    pixels.forEach((at, i) => {
      if (at < 0) return;
      for (let j = 0, d = image + at, o = row + i * c; j < c; j++) dx[d + j] = dx[d + j]! + src[o + j]!;
    });
  }
  return out;
}
