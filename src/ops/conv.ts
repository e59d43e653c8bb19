import { tf, type Tensor, type Tensor4D } from '../tf.js';
import { backwardFilter, convInputGrad } from './kernels/conv-grad.js';
import { depthwiseInputGrad } from './kernels/depthwise.js';
import { columnsInputGrad, gemmConv, xnnpackConv, type Activation, type Pads } from './kernels/gemm-conv.js';
import { winogradConv, winogradFilter, winogradInputGrad, winogradUsable } from './kernels/winograd.js';
import type { WasmHeap } from './kernels/heap.js';
import { generalConv } from './conv-general.js';
import type { EngineContext, HostTensor, NodeKernel, OpModule, OpSpec } from './types.js';
import { attr, constantInput, onlyAttributes, unsupported } from './util.js';

/** Other filters at least this big run as im2col + matMul: their weights dwarf their activations. */
const GEMM_MIN_FILTER = 1 << 18;

/** One convolution's geometry, NHWC: square kernel, equal strides and dilations; pads [top, bottom, left, right]. */
export interface ConvShape {
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  readonly pads: readonly [number, number, number, number];
}

/** A convolution with its forward and input gradient, however it runs. */
export interface ConvRun {
  forward(x: Tensor4D, activation?: Activation): Tensor4D;
  /** d(score)/d(input) from d(score)/d(output); inH/inW are the forward input's size. */
  inputGrad(dy: Tensor4D, inH: number, inW: number): Tensor4D;
  readonly tensors: readonly Tensor[];
}

/** `run` (an unpadded conv) on its input padded by [top, bottom, left, right]; its input gradient cropped back. */
function prePadded(run: ConvRun, [t, b, l, r]: readonly [number, number, number, number]): ConvRun {
  return {
    forward: (x, activation) => tf.tidy(() => run.forward(tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]), activation)),
    inputGrad: (dy, inH, inW) => tf.tidy(() => tf.slice(run.inputGrad(dy, inH + t + b, inW + l + r), [0, t, l, 0], [-1, inH, inW, -1])),
    tensors: run.tensors,
  };
}

/** A filter with its `d`-fold dilation written out as zeros: the same convolution without dilation. */
function dilate(hwio: Float32Array, k: number, cin: number, cout: number, d: number): Float32Array {
  if (d === 1) return hwio;
  const ke = (k - 1) * d + 1;
  const out = new Float32Array(ke * ke * cin * cout);
  const tap = cin * cout;
  for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) out.set(hwio.subarray((y * k + x) * tap, (y * k + x + 1) * tap), (y * d * ke + x * d) * tap);
  return out;
}

/**
 * How one dense (groups = 1) convolution runs, chosen from its shape and what it costs in memory:
 * - 3x3 stride-1 pad-1 as Winograd F(2x2, 3x3) (winograd.ts), whatever the filter's size: 2.25x fewer
 *   multiplications, and each output sums 9x fewer products, which brings the rounding error to PyTorch's.
 *   Its planes (16/9 of the filter, one set for the forward and the input gradient) take less memory
 *   than a filter XNNPACK packs a second copy of;
 * - other large filters as im2col + matMul (gemm-conv.ts): the matMul operator packs the filter once (XNNPACK's
 *   conv twice) and the input gradient reuses the same filter;
 * - the rest on XNNPACK's conv; the input gradient of a strided one from the same filter on our GEMM
 *   (gemm-conv.ts), else as a forward sub-pixel convolution of dy (conv-grad.ts).
 */
export function denseConv(heap: WasmHeap, oihw: Float32Array, bias: Float32Array | undefined, cin: number, cout: number, g: ConvShape): ConvRun {
  const { kernel: k, stride, dilation, pads } = g;
  const b = bias && tf.tensor1d(bias);
  const own = b ? [b] : [];
  const explicit: Pads = [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]];
  if (k === 3 && stride === 1 && dilation === 1 && pads.every((p) => p === 1) && winogradUsable(heap, cin, cout)) {
    // One set of planes serves the forward and the input gradient (see winogradRun).
    const planes = winogradFilter(heap, oihw, cin, cout);
    return {
      forward: (x, act) => winogradConv(heap, x, planes, b, act),
      inputGrad: (dy) => winogradInputGrad(heap, dy, planes),
      tensors: [...own, ...planes],
    };
  }
  const filter = hwioTensor(heap, oihw, k, cin, cout);
  if (k > 1 && dilation === 1 && oihw.length >= GEMM_MIN_FILTER) {
    return {
      forward: (x, act) => gemmConv(heap, x, filter, stride, explicit, b, act),
      inputGrad: (dy, inH, inW) => columnsInputGrad(heap, dy, filter, stride, explicit, inH, inW),
      tensors: [...own, filter],
    };
  }
  const forward = (x: Tensor4D, act: Activation = 'linear'): Tensor4D =>
    dilation === 1 ? xnnpackConv(x, filter, stride, explicit, b, act) : tf.fused.conv2d({ x, filter, strides: stride, pad: explicit, dilations: dilation, bias: b, activation: act });
  if (heap.kernels && stride > 1 && dilation === 1) {
    return {
      forward,
      inputGrad: (dy, inH, inW) => columnsInputGrad(heap, dy, filter, stride, explicit, inH, inW),
      tensors: [...own, filter],
    };
  }
  // The input gradient of a dilated conv is that of the same conv with its dilation written out.
  const ke = (k - 1) * dilation + 1;
  const geom = { kernel: ke, stride, pad: pads[0] };
  const dilated = dilation === 1 ? filter : tf.tensor4d(dilate(hwioOf(oihw, cout, cin, k * k), k, cin, cout, dilation), [ke, ke, cin, cout]);
  const back = backwardFilter(dilated, geom);
  if (dilated !== filter) dilated.dispose();
  return {
    forward,
    inputGrad: (dy, inH, inW) => convInputGrad(dy, back, geom, inH, inW),
    tensors: [...own, filter, back],
  };
}

/**
 * An OIHW filter [cout, cin, k, k] as an HWIO tensor [k, k, cin, cout], transposed straight into its memory on
 * the heap where our heap kernels run (else through a JS array that tfjs copies). Loading a model does this
 * for most of its weights; a fresh JS array each cost more in page faults than the transposition (ResNet34).
 */
function hwioTensor(heap: WasmHeap, oihw: Float32Array, k: number, cin: number, cout: number): Tensor4D {
  if (!heap.kernels) return tf.tensor4d(hwioOf(oihw, cout, cin, k * k), [k, k, cin, cout]);
  const filter = heap.output([k, k, cin, cout]) as Tensor4D;
  hwioInto(heap.view(filter), oihw, cout, cin, k * k);
  return filter;
}

/** A depthwise convolution (groups = channels, `mult` outputs per channel), filter [k, k, C, mult]. */
function depthwiseConv(hwcm: Float32Array, bias: Float32Array | undefined, c: number, mult: number, g: ConvShape): ConvRun {
  const { kernel: k, stride, dilation, pads } = g;
  const filter = tf.tensor4d(hwcm, [k, k, c, mult]);
  const b = bias && tf.tensor1d(bias);
  const ke = (k - 1) * dilation + 1;
  // The gradient's filter: taps flipped (dilation written out), one output per (channel, multiplier).
  const flipped = tf.tidy(() => tf.reshape(tf.reverse(tf.tensor4d(dilate(hwcm, k, c, mult, dilation), [ke, ke, c, mult]), [0, 1]), [ke, ke, c * mult, 1])) as Tensor4D;
  return {
    forward: (x, act = 'linear') =>
      tf.tidy(() => {
        const padded = pads.some((p) => p > 0) ? tf.pad(x, [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]]) : x;
        return tf.fused.depthwiseConv2d({ x: padded, filter, strides: stride, pad: 'valid', dilations: dilation, bias: b, activation: act });
      }),
    inputGrad: (dy, inH, inW) =>
      tf.tidy(() => {
        const full = depthwiseInputGrad(dy, flipped, ke, stride, inH + pads[0] + pads[1], inW + pads[2] + pads[3]);
        const perChannel = mult === 1 ? full : tf.sum(tf.reshape(full, [...full.shape.slice(0, 3), c, mult]), 4);
        return tf.slice(perChannel, [0, pads[0], pads[2], 0], [-1, inH, inW, -1]) as Tensor4D;
      }),
    tensors: [filter, flipped, ...(b ? [b] : [])],
  };
}

/** `groups` dense convolutions side by side on channel slices (ResNeXt, RegNet, ShuffleNet). */
function groupedConv(runs: ConvRun[]): ConvRun {
  return {
    forward: (x, act) => tf.tidy(() => tf.concat(tf.split(x, runs.length, 3).map((xi, i) => runs[i]!.forward(xi as Tensor4D, act)), 3) as Tensor4D),
    inputGrad: (dy, inH, inW) => tf.tidy(() => tf.concat(tf.split(dy, runs.length, 3).map((d, i) => runs[i]!.inputGrad(d as Tensor4D, inH, inW)), 3) as Tensor4D),
    tensors: runs.flatMap((r) => r.tensors),
  };
}

/** Output channels [from, to) of an OIHW filter [cout, cinG, kh, kw] (taps = kh * kw) as HWIO [kh, kw, cinG, to - from]. */
function hwioOf(w: ArrayLike<number>, cout: number, cinG: number, taps: number, from = 0, to = cout): Float32Array {
  return hwioInto(new Float32Array(taps * cinG * (to - from)), w, cout, cinG, taps, from, to);
}

function hwioInto(out: Float32Array, w: ArrayLike<number>, cout: number, cinG: number, taps: number, from = 0, to = cout): Float32Array {
  const n = to - from;
  for (let o = from; o < to; o++) {
    for (let i = 0; i < cinG; i++) for (let t = 0; t < taps; t++) out[(t * cinG + i) * n + (o - from)] = w[(o * cinG + i) * taps + t]!;
  }
  return out;
}

/** ONNX auto_pad SAME_UPPER/SAME_LOWER: total = max((ceil(n/s) - 1) * s + k_eff - n, 0). */
function autoPads(mode: string, n: number, ke: number, s: number): [number, number] {
  const total = Math.max((Math.ceil(n / s) - 1) * s + ke - n, 0);
  const small = Math.floor(total / 2);
  return mode === 'SAME_LOWER' ? [total - small, small] : [small, total - small];
}

/** Conv (ONNX): any group count, depthwise, dilations, pads and auto_pad; weights and bias are constants. */
export const conv: OpModule = {
  create(spec: OpSpec, { heap }: EngineContext): NodeKernel {
    onlyAttributes(spec, ['kernel_shape', 'strides', 'pads', 'dilations', 'group', 'auto_pad']);
    const weight = constantInput(spec, 1, 'the weight');
    const bias = spec.node.inputs[2] ? Float32Array.from(constantInput(spec, 2, 'the bias').data) : undefined;
    if (weight.dims.length !== 4) throw unsupported(spec, `only 2-D convolutions are supported (weight of rank ${weight.dims.length})`);
    const [cout, cinG, kh, kw] = weight.dims as [number, number, number, number];
    const [sh, sw] = attr<number[]>(spec, 'strides', [1, 1]);
    const [dh = 1, dw = 1] = attr<number[]>(spec, 'dilations', [1, 1]);
    const groups = attr<number>(spec, 'group', 1);
    const autoPad = attr<string>(spec, 'auto_pad', 'NOTSET');
    // Non-square kernels, unequal strides or dilations (Inception's 1x7) run outside the square fast paths.
    const square = kh === kw && sh === sw && dh === dw;
    if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad)) throw unsupported(spec, `auto_pad '${autoPad}'`);
    const [pt, pl, pb, pr] = attr<number[]>(spec, 'pads', [0, 0, 0, 0]);
    const cin = cinG * groups;
    const mult = cout / groups;
    if (!Number.isInteger(mult)) throw unsupported(spec, `${cout} output channels are not a multiple of group ${groups}`);
    const [ke, kew] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
    const shapeFor = (h: number, w: number): ConvShape => {
      if (autoPad === 'NOTSET') return { kernel: kh, stride: sh!, dilation: dh!, pads: [pt!, pb!, pl!, pr!] };
      if (autoPad === 'VALID') return { kernel: kh, stride: sh!, dilation: dh!, pads: [0, 0, 0, 0] };
      const [t, b] = autoPads(autoPad, h, ke, sh!);
      const [l, r] = autoPads(autoPad, w, kew, sw!);
      return { kernel: kh, stride: sh!, dilation: dh!, pads: [t, b, l, r] };
    };
    // Runs are prepared per padding (auto_pad SAME depends on the input size; NOTSET has one). A conv whose
    // padding does not depend on its input makes its one run now and lets go of the weight (an importer's
    // array, or its file), which the graph would otherwise keep alive as long as itself.
    let source: HostTensor | undefined = weight;
    const runs = new Map<string, ConvRun>();
    const runFor = (h: number, w: number): ConvRun => {
      const padded = shapeFor(h, w);
      // The fast paths pad top and left alike; SAME padding of an input whose sides differ in parity does
      // not (TF's 'same' on 8x9), nor do some explicit pads: such a conv pads its input explicitly and runs unpadded.
      const uneven = padded.pads[0] !== padded.pads[2];
      const g: ConvShape = uneven ? { ...padded, pads: [0, 0, 0, 0] } : padded;
      const key = padded.pads.join(',');
      let run = runs.get(key);
      if (!run) {
        const data = source!.data; // read once (an importer may produce it on access)
        const oihw = data instanceof Float32Array ? data : Float32Array.from(data);
        const general = (from: number, to: number) =>
          generalConv(hwioOf(oihw, cout, cinG, kh * kw, from, to), bias?.subarray(from, to), cinG, to - from, { kernel: [kh, kw], strides: [sh!, sw!], dilations: [dh, dw], pads: padded.pads });
        if (!square) run = groups === 1 ? general(0, cout) : groupedConv(Array.from({ length: groups }, (_, gi) => general(gi * mult, (gi + 1) * mult)));
        else if (groups === 1) run = denseConv(heap, oihw, bias, cin, cout, g);
        else if (cinG === 1) run = depthwiseConv(hwioOf(oihw, cout, 1, kh * kw), bias, cin, mult, g);
        else {
          run = groupedConv(
            Array.from({ length: groups }, (_, gi) => denseConv(heap, oihw.subarray(gi * mult * cinG * kh * kw, (gi + 1) * mult * cinG * kh * kw), bias?.subarray(gi * mult, (gi + 1) * mult), cinG, mult, g)),
          );
        }
        if (uneven && square) run = prePadded(run, padded.pads);
        // Made on first use at a new padding, possibly inside a pass's tidy: kept for the graph's lifetime.
        for (const t of run.tensors) tf.keep(t);
        runs.set(key, run);
      }
      return run;
    };
    if (autoPad === 'NOTSET' || autoPad === 'VALID') {
      runFor(1, 1);
      source = undefined;
    }
    return {
      forward: ([x]) => {
        const t = x as Tensor4D;
        if (t.rank !== 4 || t.shape[3] !== cin) throw unsupported(spec, `input of shape [${t.shape.join(', ')}] (NHWC) does not fit a weight of ${cin} input channels`);
        return [runFor(t.shape[1], t.shape[2]).forward(t)];
      },
      backward: ([dy], saved) => {
        const [, h, w] = saved.inputShapes[0]!;
        return [runFor(h!, w!).inputGrad(dy as Tensor4D, h!, w!)];
      },
      // Every way a conv runs takes any batch of dy: stacked passes are more images.
      stacks: true,
      bias,
      takes: [1, 2],
      get tensors() {
        return [...runs.values()].flatMap((r) => r.tensors);
      },
    };
  },
};
