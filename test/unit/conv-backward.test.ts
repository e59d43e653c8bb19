import { beforeAll, describe, expect, test } from 'vitest';
import { tf, type Tensor, type Tensor4D } from '../../src/tf.js';
import { startBackend } from '../../src/runtime/index.js';
import type { WasmHeap } from '../../src/ops/kernels/heap.js';
import { backwardFilter, convInputGrad, explicitPad, type ConvGeometry } from '../../src/ops/kernels/conv-grad.js';
import { col2im, columnsInputGrad, gemmConv, xnnpackConv } from '../../src/ops/kernels/gemm-conv.js';
import { heapMatMuls } from '../../src/ops/kernels/matmul.js';
import { randomArray } from '../helpers/random-weights.js';
import { maxAbs, maxAbsDiff } from '../helpers/metrics.js';

let heap: WasmHeap;
beforeAll(async () => {
  heap = (await startBackend()).heap;
});

/** The input gradient as forward convolutions must equal tfjs's own (autodiff) gradient. */
describe('convolution input gradient as a forward sub-pixel convolution', () => {
  const cases: [ConvGeometry, number, number][] = [
    [{ kernel: 3, stride: 1, pad: 1 }, 9, 12],
    [{ kernel: 3, stride: 2, pad: 1 }, 14, 14],
    [{ kernel: 3, stride: 2, pad: 1 }, 19, 29], // odd sizes as in chelsea-native
    [{ kernel: 1, stride: 2, pad: 0 }, 19, 28],
    [{ kernel: 7, stride: 2, pad: 3 }, 32, 33],
    [{ kernel: 7, stride: 2, pad: 3 }, 300, 451],
    [{ kernel: 1, stride: 3, pad: 1 }, 10, 11], // only phase 2 of 3 is reached
    [{ kernel: 2, stride: 4, pad: 1 }, 13, 17], // phases 3 and 0: not a run, all four are computed
  ];
  for (const [g, h, w] of cases) {
    test(`k${g.kernel} s${g.stride} p${g.pad} on ${h}x${w}`, () => {
      const cin = 3;
      const cout = 5;
      const x = tf.tensor4d(randomArray(h * w * cin, h * w), [1, h, w, cin]);
      const W = tf.tensor4d(randomArray(g.kernel * g.kernel * cin * cout, 7), [g.kernel, g.kernel, cin, cout]);
      const y = tf.conv2d(x, W, g.stride, explicitPad(g.pad));
      const dy = tf.tensor4d(randomArray(y.size, 3), y.shape);
      // tfjs's Conv2DBackpropInput (slow, but the definition).
      const expected = tf.conv2dTranspose(dy, W, [1, h, w, cin], g.stride, g.pad);
      const back = backwardFilter(W, g);
      const ours = convInputGrad(dy, back, g, h, w);
      expect(ours.shape).toEqual(expected.shape);
      const e = expected.dataSync();
      expect(maxAbsDiff(ours.dataSync(), e)).toBeLessThanOrEqual(1e-5 * maxAbs(e));
      tf.dispose([x, W, y, dy, expected, back, ours]);
    });
  }
});

/**
 * im2col + matMul must give exactly XNNPACK's conv results (fused bias/ReLU); its input gradient from
 * the same filter (dy x W^T, W read transposed, then col2im) must match tfjs's Conv2DBackpropInput.
 */
describe('gemmConv', () => {
  const cases: [ConvGeometry, number, number, number, number][] = [
    [{ kernel: 3, stride: 1, pad: 1 }, 7, 7, 32, 48],
    [{ kernel: 3, stride: 2, pad: 1 }, 14, 13, 16, 32],
    [{ kernel: 3, stride: 2, pad: 1 }, 10, 15, 8, 8],
  ];
  for (const [g, h, w, cin, cout] of cases) {
    test(`k${g.kernel} s${g.stride} on ${h}x${w}, ${cin} -> ${cout} channels`, () => {
      const x = tf.tensor4d(randomArray(h * w * cin, 11), [1, h, w, cin]);
      const W = tf.tensor4d(randomArray(g.kernel * g.kernel * cin * cout, 12), [g.kernel, g.kernel, cin, cout]);
      const bias = tf.tensor1d(randomArray(cout, 13));
      const before = tf.memory().numTensors;
      const pad = explicitPad(g.pad);
      const pairs = [
        [xnnpackConv(x, W, g.stride, pad, bias, 'relu'), gemmConv(heap, x, W, g.stride, pad, bias, 'relu')],
        [xnnpackConv(x, W, g.stride, pad), gemmConv(heap, x, W, g.stride, pad)],
      ];
      const dy = tf.tensor4d(randomArray(pairs[1]![0]!.size, 14), pairs[1]![0]!.shape);
      for (const [a, b] of pairs) {
        expect(b!.shape).toEqual(a!.shape);
        expect(maxAbsDiff(b!.dataSync(), a!.dataSync())).toBe(0);
      }
      const expected = tf.conv2dTranspose(dy, W, [1, h, w, cin], g.stride, g.pad);
      const dx = columnsInputGrad(heap, dy, W, g.stride, pad, h, w);
      expect(dx.shape).toEqual(expected.shape);
      const e = expected.dataSync();
      expect(maxAbsDiff(dx.dataSync(), e)).toBeLessThanOrEqual(1e-5 * maxAbs(e));
      tf.dispose([dy, expected, dx, ...pairs.flat()] as Tensor[]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, W, bias]);
    });
  }
});

/**
 * The input gradient from the filter itself (W read transposed by the GEMM, the heap kernels' col2im) must
 * be the bits of W^T stored and tfjs's ops in col2im's order: the same products, summed in the same order.
 */
describe('columnsInputGrad', () => {
  const cases: [ConvGeometry, number, number, number, number, number][] = [
    // geometry, n, h, w, cin, cout
    [{ kernel: 7, stride: 2, pad: 3 }, 1, 37, 30, 3, 16],
    [{ kernel: 3, stride: 2, pad: 1 }, 2, 14, 13, 8, 12],
    [{ kernel: 1, stride: 2, pad: 0 }, 1, 9, 10, 7, 5],
    [{ kernel: 3, stride: 3, pad: 0 }, 1, 11, 8, 4, 9],
  ];
  for (const [g, n, h, w, cin, cout] of cases) {
    test(`k${g.kernel} s${g.stride} p${g.pad}, ${n}x${h}x${w}, ${cin} -> ${cout} channels`, () => {
      const oihw = randomArray(cout * cin * g.kernel * g.kernel, 21);
      // HWIO from OIHW, as the conv op lays its filter out.
      const hwio = tf.tidy(() => tf.transpose(tf.tensor4d(oihw, [cout, cin, g.kernel, g.kernel]), [2, 3, 1, 0])) as Tensor4D;
      const pad = explicitPad(g.pad);
      const y = tf.conv2d(tf.zeros([n, h, w, cin]) as Tensor4D, hwio, g.stride, pad);
      const dy = tf.tensor4d(randomArray(y.size, 22), y.shape);
      const before = tf.memory().numTensors;
      const ours = columnsInputGrad(heap, dy, hwio, g.stride, pad, h, w);
      expect(tf.memory().numTensors).toBe(before + 1);
      const attrs = { k: g.kernel, stride: g.stride, top: g.pad, left: g.pad, inH: h, inW: w, oh: y.shape[1], ow: y.shape[2] };
      const same = tf.tidy(() => {
        const wT = tf.transpose(tf.reshape(hwio, [-1, cout])) as tf.Tensor2D;
        return col2im(heap, heapMatMuls(heap, [[tf.reshape(dy, [-1, cout]) as tf.Tensor2D, wT]])[0]!, attrs);
      });
      const expected = tf.conv2dTranspose(dy, hwio, [n, h, w, cin], g.stride, g.pad);
      expect(ours.shape).toEqual([n, h, w, cin]);
      expect(maxAbsDiff(ours.dataSync(), same.dataSync())).toBe(0);
      const e = expected.dataSync();
      expect(maxAbs(e)).toBeGreaterThan(0);
      expect(maxAbsDiff(ours.dataSync(), e)).toBeLessThanOrEqual(1e-5 * maxAbs(e));
      tf.dispose([hwio, y, dy, ours, same, expected]);
    });
  }
});

/** The heap kernels' col2im must add the same terms in the same order as col2im. */
describe('col2im on the heap kernels', () => {
  const cases: [number, number, number, number, number, number, number, number][] = [
    // n, inH, inW, c, k, stride, top/left pad, (output size follows)
    [1, 7, 7, 512, 3, 1, 1, 0],
    [2, 14, 13, 12, 3, 2, 1, 0],
    [3, 5, 9, 4, 3, 2, 0, 0],
    [1, 6, 6, 3, 2, 3, 1, 0],
    [1, 1, 1, 8, 3, 1, 1, 0],
    [2, 9, 8, 7, 3, 2, 1, 0],
    [2, 20, 18, 3, 7, 2, 3, 0], // a stem: rows of 7 taps x 3 channels, whole or cut at the edges
  ];
  for (const [n, inH, inW, c, k, stride, pad] of cases) {
    test(`${n}x${inH}x${inW}x${c}, k${k} s${stride} p${pad}`, () => {
      const oh = Math.floor((inH + 2 * pad - k) / stride) + 1;
      const ow = Math.floor((inW + 2 * pad - k) / stride) + 1;
      const attrs = { k, stride, top: pad, left: pad, inH, inW, oh, ow };
      const cols = tf.tensor2d(randomArray(k * k * c * n * oh * ow, n + c + k), [n * oh * ow, k * k * c]);
      const before = tf.memory().numTensors;
      const expected = col2im(heap, cols, attrs);
      const ours = heap.output([n, inH, inW, c]);
      heap.kernels!.col2im(heap.offset(cols), heap.offset(ours), n, inH, inW, c, k, stride, pad, pad, oh, ow);
      expect(ours.shape).toEqual(expected.shape);
      const e = expected.dataSync();
      expect(maxAbsDiff(ours.dataSync(), e)).toBe(0);
      expect(maxAbs(e)).toBeGreaterThan(0);
      tf.dispose([ours, expected]);
      expect(tf.memory().numTensors).toBe(before);
      cols.dispose();
    });
  }
});
