import { tf, type Tensor, type Tensor4D } from '../tf.js';
import { depthwiseInputGrad } from './kernels/depthwise.js';
import { maxPoolGrad } from './kernels/maxpool.js';
import type { OpModule, OpSpec } from './types.js';
import { attr, onlyAttributes, tensorOf, unsupported } from './util.js';

interface Window {
  readonly k: number;
  readonly s: number;
  readonly pads: readonly [number, number, number, number]; // top, left, bottom, right (ONNX order)
  readonly ceil: boolean;
}

function readWindow(spec: OpSpec, extra: string[]): Window {
  onlyAttributes(spec, ['kernel_shape', 'strides', 'pads', 'ceil_mode', 'auto_pad', 'dilations', ...extra]);
  const [kh, kw] = attr<number[]>(spec, 'kernel_shape', []);
  const [sh, sw] = attr<number[]>(spec, 'strides', [1, 1]);
  const pads = attr<number[]>(spec, 'pads', [0, 0, 0, 0]) as [number, number, number, number];
  if (kh === undefined || kh !== kw || sh !== sw) throw unsupported(spec, 'only square windows with equal strides are supported');
  if (attr<number[]>(spec, 'dilations', [1, 1]).some((d) => d !== 1)) throw unsupported(spec, 'dilations');
  if (attr<string>(spec, 'auto_pad', 'NOTSET') !== 'NOTSET') throw unsupported(spec, `auto_pad '${attr<string>(spec, 'auto_pad')}'`);
  if (pads[0] !== pads[1]) throw unsupported(spec, `pads [${pads.join(', ')}]: top and left padding must be equal`);
  return { k: kh, s: sh!, pads, ceil: attr<number>(spec, 'ceil_mode', 0) === 1 };
}

/** Output size along one axis, as torch computes it (ceil mode: a last window must start inside the input or its padding before). */
function outSize(n: number, w: Window, before: number, after: number): number {
  const span = n + before + after - w.k;
  let out = (w.ceil ? Math.ceil(span / w.s) : Math.floor(span / w.s)) + 1;
  if (w.ceil && (out - 1) * w.s >= n + before) out--;
  return out;
}

/** Stored paddings that make a 'valid' pool give torch's output size: the pads, plus ceil mode's overhang after. */
function paddings(x: Tensor, w: Window): { pads: [number, number][]; oh: number; ow: number } {
  const [, h, wd] = x.shape as number[];
  const [t, l, b, r] = w.pads;
  const oh = outSize(h!, w, t, b);
  const ow = outSize(wd!, w, l, r);
  const extra = (n: number, o: number, before: number) => Math.max((o - 1) * w.s + w.k - n - before, 0);
  return { pads: [[0, 0], [t, extra(h!, oh, t)], [l, extra(wd!, ow, l)], [0, 0]], oh, ow };
}

/** MaxPool (ceil_mode, pads); its gradient goes to each window's first maximum, as in PyTorch. */
export const maxPool: OpModule = {
  create(spec, { heap }) {
    const w = readWindow(spec, ['storage_order']);
    if (spec.node.outputs.length > 1 && spec.node.outputs[1]) throw unsupported(spec, 'the Indices output');
    return {
      forward: ([x]) => {
        const xt = tensorOf(x!) as Tensor4D;
        const { pads } = paddings(xt, w);
        const padded = pads.some(([a, b]) => a || b) ? tf.pad(xt, pads, -Infinity) : xt;
        return [tf.maxPool(padded as Tensor4D, w.k, w.s, 'valid')];
      },
      backward: ([dy], saved) => [maxPoolGrad(heap, dy as Tensor4D, saved.inputs[0] as Tensor4D, saved.outputs[0] as Tensor4D, { size: w.k, stride: w.s, pad: w.pads[0] })],
      saves: { inputs: [0], outputs: true },
      stacks: true,
    };
  },
};

/**
 * AveragePool (count_include_pad, ceil_mode, pads) as a depthwise convolution with a uniform filter,
 * divided per output position by torch's divisor; its gradient is that convolution's.
 */
export const averagePool: OpModule = {
  create(spec) {
    const w = readWindow(spec, ['count_include_pad']);
    const includePad = attr<number>(spec, 'count_include_pad', 0) === 1;
    const ones = new Map<number, Tensor4D>();
    const filter = (c: number): Tensor4D => {
      let f = ones.get(c);
      // Made on first use, inside a pass's tidy: kept for the graph's lifetime.
      if (!f) ones.set(c, (f = tf.keep(tf.fill([w.k, w.k, c, 1], 1) as Tensor4D)));
      return f;
    };
    /** 1 / divisor per output position [1, oh, ow, 1] (torch's avg_pool2d). */
    const scale = (h: number, wd: number, oh: number, ow: number): Tensor4D => {
      const [t, l, b, r] = w.pads;
      const out = new Float32Array(oh * ow);
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const y0 = y * w.s - t, x0 = x * w.s - l;
          const y1 = Math.min(y0 + w.k, h + b), x1 = Math.min(x0 + w.k, wd + r);
          const pool = (y1 - y0) * (x1 - x0);
          const count = (Math.min(y1, h) - Math.max(y0, 0)) * (Math.min(x1, wd) - Math.max(x0, 0));
          out[y * ow + x] = 1 / (includePad ? pool : count);
        }
      }
      return tf.tensor4d(out, [1, oh, ow, 1]);
    };
    return {
      forward: ([x]) => {
        const xt = tensorOf(x!) as Tensor4D;
        const [, h, wd, c] = xt.shape;
        const { pads, oh, ow } = paddings(xt, w);
        const sum = tf.depthwiseConv2d(tf.pad(xt, pads), filter(c), w.s, 'valid');
        return [tf.mul(sum, scale(h, wd, oh, ow))];
      },
      backward: ([dy], saved) => {
        const [, h, wd, c] = saved.inputShapes[0] as number[];
        const xShape = { shape: [1, h!, wd!, c!] } as unknown as Tensor;
        const { pads, oh, ow } = paddings(xShape, w);
        const g = tf.mul(dy!, scale(h!, wd!, oh, ow)) as Tensor4D;
        const full = depthwiseInputGrad(g, filter(c!), w.k, w.s, h! + pads[1]![0] + pads[1]![1], wd! + pads[2]![0] + pads[2]![1]);
        return [tf.slice(full, [0, pads[1]![0], pads[2]![0], 0], [-1, h!, wd!, -1])];
      },
      stacks: true,
      get tensors() {
        return [...ones.values()];
      },
    };
  },
};

/** GlobalAveragePool: the mean over H, W (stored [N, 1, 1, C]); its gradient spreads evenly. */
export const globalAveragePool: OpModule = {
  create(spec) {
    onlyAttributes(spec, []);
    return {
      forward: ([x]) => [tf.mean(tensorOf(x!), [1, 2], true)],
      backward: ([dy], saved) => {
        const [, h, w, c] = saved.inputShapes[0] as [number, number, number, number];
        return [tf.mul(tf.div(dy!, h * w), tf.ones([dy!.shape[0], h, w, c]))];
      },
      stacks: true,
    };
  },
};
