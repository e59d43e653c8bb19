import { beforeAll, describe, expect, test } from 'vitest';
// The reference: tfjs's CPU backend and its autodiff (test-only imports).
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { tf, type Tensor, type Tensor4D } from '../../src/tf.js';
import { startBackend } from '../../src/runtime/index.js';
import { OPS } from '../../src/ops/registry.js';
import { GraphModel } from '../../src/graph/model.js';
import type { GraphSpec } from '../../src/graph/graph.js';
import { gradientTensors, type Gradients } from '../../src/models/types.js';
import type { Attribute, EngineContext, HostTensor, OpNode } from '../../src/ops/types.js';
import { randomArray } from '../helpers/random-weights.js';
import { maxAbs, maxAbsDiff } from '../helpers/metrics.js';

let ctx: EngineContext;
beforeAll(async () => {
  ctx = { heap: (await startBackend()).heap, ops: OPS };
});

// Hand-built graphs (ONNX op vocabulary, NCHW semantics) against the same network written with tfjs ops
// in NCHW terms and differentiated by tfjs's autodiff on the CPU backend.

let seq = 0;
const node = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attribute> = {}, guided = false): OpNode => ({
  name: `/${opType}_${seq++}`,
  opType,
  inputs,
  outputs,
  attributes: new Map(Object.entries(attrs)),
  guided,
});
const weights = (dims: number[], seed: number, scale = 0.3): HostTensor => ({ dims, data: randomArray(dims.reduce((a, b) => a * b, 1), seed).map((v) => v * scale), int: false });
const ints = (values: number[]): HostTensor => ({ dims: [values.length], data: Float64Array.from(values), int: true });

/** NCHW conv via tfjs's NHWC conv. */
const convRef = (x: Tensor, w: HostTensor, b: HostTensor | undefined, stride: number | [number, number], pads: number[], groups = 1, dilation: number | [number, number] = 1): Tensor => {
  const [cout, cinG, kh, kw] = w.dims as [number, number, number, number];
  // Dilation written out as zeros in the filter (tfjs has no gradient for dilated convs).
  const [dh, dw] = typeof dilation === 'number' ? [dilation, dilation] : dilation;
  const [keh, kew] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const oihw = new Float32Array(cout * cinG * keh * kew);
  for (let oi = 0; oi < cout * cinG; oi++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) oihw[(oi * keh + y * dh) * kew + z * dw] = w.data[(oi * kh + y) * kw + z]!;
  const xs = tf.transpose(x, [0, 2, 3, 1]);
  const filter = tf.transpose(tf.tensor4d(oihw, [cout, cinG, keh, kew]), [2, 3, 1, 0]);
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [pads[0]!, pads[2]!], [pads[1]!, pads[3]!], [0, 0]];
  const xg = groups === 1 ? [xs] : tf.split(xs, groups, 3);
  const fg = groups === 1 ? [filter] : tf.split(filter, groups, 3);
  const parts = xg.map((xi, i) => tf.conv2d(xi as Tensor4D, fg[i] as Tensor4D, stride, pad));
  const y = groups === 1 ? parts[0]! : tf.concat(parts, 3);
  const out = tf.transpose(y, [0, 3, 1, 2]);
  return b ? tf.add(out, tf.reshape(tf.tensor1d(b.data as Float32Array), [1, cout, 1, 1])) : out;
};

const guidedRelu = tf.customGrad((x: Tensor, save: (t: Tensor[]) => void) => {
  const y = tf.relu(x);
  save([y]);
  return { value: y, gradFunc: (dy: Tensor, [out]: Tensor[]) => tf.mul(tf.mul(tf.relu(dy), tf.step(out!)), 1) };
}) as (x: Tensor) => Tensor;

interface Case {
  readonly name: string;
  readonly size: [number, number];
  readonly nodes: OpNode[];
  readonly constants: Record<string, HostTensor>;
  readonly layers?: { name: string; value: string }[];
  /** The same network in NCHW terms with tfjs ops. */
  readonly ref: (x: Tensor, guided: boolean) => Tensor;
}

async function check(c: Case, guided: boolean): Promise<void> {
  const [h, w] = c.size;
  const spec: GraphSpec = {
    source: 'test.onnx',
    nodes: c.nodes,
    constants: new Map(Object.entries(c.constants)),
    input: 'input',
    output: 'logits',
    layers: c.layers ?? [{ name: 'first', value: c.nodes[0]!.outputs[0]! }],
  };
  const model = GraphModel.create(spec, ctx, { requiredInputSize: c.size });
  const xData = randomArray(3 * h * w, h * 7 + w);
  const nhwc = tf.tensor4d(xData, [1, h, w, 3]);
  const before = tf.memory().numTensors;
  const pass = model.forward(nhwc);
  const logits = Array.from(await pass.logits.data());
  const seed = randomArray(logits.length, 99);
  const g = model.gradients(pass, { seed, layers: [], guided, toInput: true });
  const ours = Array.from(await g.input!.data());
  tf.dispose([g.input!, ...Object.values(g.layers)]);
  pass.dispose();
  expect(tf.memory().numTensors).toBe(before);
  nhwc.dispose();
  if (guided) stackedPasses(model, xData, h, w, logits.length);
  model.dispose();

  await tf.setBackend('cpu');
  let refLogits: number[];
  let refGrad: number[];
  try {
    const x = tf.tensor4d(xData, [1, h, w, 3]);
    const f = (t: Tensor) => c.ref(tf.transpose(t, [0, 3, 1, 2]), guided);
    refLogits = Array.from(f(x).dataSync());
    refGrad = Array.from(tf.grad((t: Tensor) => tf.sum(tf.mul(f(t), tf.tensor1d(seed))))(x).dataSync());
  } finally {
    await tf.setBackend('wasm');
  }
  expect(maxAbsDiff(logits, refLogits), 'logits').toBeLessThanOrEqual(1e-4 * maxAbs(refLogits));
  expect(maxAbsDiff(ours, refGrad), 'input gradient').toBeLessThanOrEqual(1e-4 * maxAbs(refGrad));
}

/**
 * The plain pass (the first layer and the input) and the guided one together (gradientPasses: stacked where
 * every op allows, else one by one) give the bits of each alone, on a batch of two images.
 */
function stackedPasses(model: GraphModel, xData: Float32Array, h: number, w: number, classes: number): void {
  const x = tf.tensor4d([...xData, ...xData.map((v) => 0.5 - v)], [2, h, w, 3]);
  const layer = model.layers[0]!;
  const pass = model.forward(x, [layer]);
  const seed = randomArray(2 * classes, 98);
  const reqs = [
    { seed, layers: [layer], guided: false, toInput: true },
    { seed, layers: [], guided: true, toInput: true },
  ];
  const before = tf.memory().numTensors;
  const alone = reqs.map((r) => model.gradients(pass, r));
  const together = model.gradientPasses(pass, reqs);
  const data = (g: Gradients) => [...Object.values(g.layers), g.input!].map((t) => t.dataSync());
  together.forEach((g, i) => {
    const [a, b] = [data(alone[i]!), data(g)];
    expect(b.length).toBe(a.length);
    a.forEach((v, j) => expect(maxAbsDiff(b[j]!, v), `pass ${i}, gradient ${j}`).toBe(0));
  });
  tf.dispose([...alone, ...together].flatMap(gradientTensors));
  expect(tf.memory().numTensors).toBe(before);
  pass.dispose();
  x.dispose();
}

/** A head: global average pool, flatten, Gemm to 5 classes. */
function head(from: string, channels: number, seedBase: number) {
  const fc = weights([5, channels], seedBase);
  const fb = weights([5], seedBase + 1);
  return {
    nodes: [node('GlobalAveragePool', [from], ['gap']), node('Flatten', ['gap'], ['flat'], { axis: 1 }), node('Gemm', ['flat', 'fc.w', 'fc.b'], ['logits'], { transB: 1 })],
    constants: { 'fc.w': fc, 'fc.b': fb },
    ref: (x: Tensor) => tf.add(tf.matMul(tf.mean(x, [2, 3]), tf.tensor2d(fc.data as Float32Array, [5, channels]), false, true), tf.tensor1d(fb.data as Float32Array)),
  };
}

function convCase(name: string, size: [number, number], cout: number, k: number | [number, number], stride: number | [number, number], pads: number[], opts: { groups?: number; dilation?: number | [number, number]; cin?: number; relu?: boolean } = {}): Case {
  const { groups = 1, dilation = 1, cin = 3 } = opts;
  const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);
  const [kh, kw] = pair(k);
  // A first conv brings the image to `cin` channels when the tested conv needs more than 3.
  const pre = cin === 3 ? undefined : { w: weights([cin, 3, 1, 1], 5), b: weights([cin], 6) };
  const w = weights([cout, cin / groups, kh, kw], 7, 1 / Math.sqrt(kh * kw * cin / groups));
  const b = weights([cout], 8);
  const hd = head('y', cout, 20);
  const nodes = [
    ...(pre ? [node('Conv', ['input', 'pre.w', 'pre.b'], ['x0'], { kernel_shape: [1, 1] }), node('Relu', ['x0'], ['x1'], {}, true)] : []),
    node('Conv', [pre ? 'x1' : 'input', 'w', 'b'], ['c'], { kernel_shape: [kh, kw], strides: pair(stride), pads, group: groups, dilations: pair(dilation) }),
    node('Relu', ['c'], ['y'], {}, true),
    ...hd.nodes,
  ];
  return {
    name,
    size,
    nodes,
    constants: { w, b, ...(pre ? { 'pre.w': pre.w, 'pre.b': pre.b } : {}), ...hd.constants },
    ref: (x, guided) => {
      const act = guided ? guidedRelu : tf.relu;
      const x1 = pre ? act(convRef(x, pre.w, pre.b, 1, [0, 0, 0, 0])) : x;
      return hd.ref(act(convRef(x1, w, b, stride, pads, groups, dilation)));
    },
  };
}

const convCases: Case[] = [
  convCase('3x3 stride 1 (Winograd)', [13, 11], 8, 3, 1, [1, 1, 1, 1], { cin: 8 }),
  convCase('3x3 stride 2 (sub-pixel input gradient)', [15, 12], 8, 3, 2, [1, 1, 1, 1]),
  convCase('7x7 stride 2 pad 3 (stem)', [33, 30], 4, 7, 2, [3, 3, 3, 3]),
  convCase('1x1 stride 2', [9, 10], 6, 1, 2, [0, 0, 0, 0]),
  convCase('3x3 dilation 2', [12, 13], 5, 3, 1, [2, 2, 2, 2], { dilation: 2 }),
  convCase('asymmetric pads', [10, 9], 4, 3, 2, [1, 1, 0, 0]),
  convCase('grouped (2 groups)', [10, 10], 8, 3, 1, [1, 1, 1, 1], { cin: 8, groups: 2 }),
  convCase('depthwise stride 2', [11, 12], 8, 3, 2, [1, 1, 1, 1], { cin: 8, groups: 8 }),
  convCase('depthwise, multiplier 2', [9, 9], 16, 5, 1, [2, 2, 2, 2], { cin: 8, groups: 8 }),
  convCase('large filter (im2col + matMul)', [7, 6], 512, 3, 1, [1, 1, 1, 1], { cin: 64 }),
  convCase('3x3, top and left pads differ', [10, 9], 4, 3, 2, [0, 1, 1, 0]),
  convCase('1x7 (Inception)', [12, 11], 6, [1, 7], 1, [0, 3, 0, 3]),
  convCase('7x1, pads [3, 0, 3, 0]', [12, 11], 6, [7, 1], 1, [3, 0, 3, 0]),
  convCase('3x2, strides 2x1, dilations 1x2, asymmetric pads', [13, 12], 5, [3, 2], [2, 1], [1, 2, 0, 1], { dilation: [1, 2] }),
  convCase('1x3 grouped (2 groups), stride 2', [9, 10], 8, [1, 3], 2, [0, 1, 0, 1], { cin: 8, groups: 2 }),
];

describe('graph convolutions: every fast path against tfjs autodiff', () => {
  for (const c of convCases) {
    test(`${c.name}: logits and input gradient, plain and guided`, async () => {
      await check(c, false);
      await check(c, true);
    });
  }
});

const conv1 = (from: string, to: string, w: string, b: string, k = 3, stride = 1, pad = 1) =>
  node('Conv', [from, w, b], [to], { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] });

function mixedCases(): Case[] {
  const w1 = weights([8, 3, 3, 3], 31), b1 = weights([8], 32);
  const w2 = weights([8, 8, 3, 3], 33, 0.15), b2 = weights([8], 34);
  const bn = { s: weights([16], 35), t: weights([16], 36), m: weights([16], 37), v: { dims: [16], data: randomArray(16, 38).map((x) => 0.5 + Math.abs(x)), int: false } as HostTensor };
  const fcT = weights([96, 5], 41, 0.2), fcb = weights([5], 40);
  const bnRef = (x: Tensor) => {
    const r = (h: HostTensor) => tf.reshape(tf.tensor1d(h.data as Float32Array), [1, 16, 1, 1]);
    return tf.add(tf.mul(tf.div(tf.sub(x, r(bn.m)), tf.sqrt(tf.add(r(bn.v), 1e-5))), r(bn.s)), r(bn.t));
  };
  const poolPads: [number, number][] = [[0, 0], [1, 1], [1, 1], [0, 0]];
  const dense = {
    name: 'DenseNet-like: MaxPool (ceil_mode, pads), Concat, BatchNormalization, Relu, Pad, AveragePool (count_include_pad 0), Flatten (torch order), Gemm',
    size: [17, 14] as [number, number],
    nodes: [
      conv1('input', 'c1', 'w1', 'b1'),
      node('MaxPool', ['c1'], ['p1'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }),
      conv1('p1', 'c2', 'w2', 'b2'),
      node('Concat', ['p1', 'c2'], ['cat'], { axis: 1 }),
      node('BatchNormalization', ['cat', 'bn.s', 'bn.t', 'bn.m', 'bn.v'], ['bn'], { epsilon: 1e-5 }),
      node('Relu', ['bn'], ['r'], {}, true),
      node('Pad', ['r', 'pads'], ['rp'], { mode: 'constant' }),
      node('AveragePool', ['rp'], ['ap'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 0 }),
      node('ReduceMean', ['ap'], ['rm'], { axes: [2], keepdims: 1 }),
      node('Flatten', ['rm'], ['flat'], { axis: 1 }),
      node('MatMul', ['flat', 'fcT'], ['mm']),
      node('Add', ['mm', 'fcb'], ['logits']),
    ],
    constants: { w1, b1, w2, b2, 'bn.s': bn.s, 'bn.t': bn.t, 'bn.m': bn.m, 'bn.v': bn.v, pads: ints([0, 0, 0, 1, 0, 0, 0, 2]), fcb, fcT },
    ref: (x: Tensor, guided: boolean) => {
      const c1 = convRef(x, w1, b1, 1, [1, 1, 1, 1]);
      // ceil mode on 17x14 with pad 1: 9x8 outputs (the last window starts inside the padded input).
      const p1 = tf.transpose(tf.maxPool(tf.pad(tf.transpose(c1, [0, 2, 3, 1]) as Tensor4D, [[0, 0], [1, 1], [1, 2], [0, 0]], -1e30), 3, 2, 'valid'), [0, 3, 1, 2]);
      const c2 = convRef(p1, w2, b2, 1, [1, 1, 1, 1]);
      const r = (guided ? guidedRelu : tf.relu)(bnRef(tf.concat([p1, c2], 1)));
      const rp = tf.pad(r, [[0, 0], [0, 0], [0, 0], [1, 2]]); // 9x11
      // count_include_pad 0: sums over the padded input divided by the valid counts.
      const sums = tf.mul(tf.avgPool(tf.pad(tf.transpose(rp, [0, 2, 3, 1]) as Tensor4D, poolPads), 3, 2, 'valid'), 9);
      const counts = tf.mul(tf.avgPool(tf.pad(tf.ones([1, 9, 11, 1]) as Tensor4D, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'valid'), 9);
      const ap = tf.transpose(tf.div(sums, counts), [0, 3, 1, 2]); // [1, 16, 5, 6]
      const rm = tf.mean(ap, 2, true); // [1, 16, 1, 6]
      return tf.add(tf.matMul(tf.reshape(rm, [1, -1]), tf.tensor2d(fcT.data as Float32Array, [96, 5])), tf.tensor1d(fcb.data as Float32Array));
    },
  };
  const w3 = weights([8, 3, 3, 3], 51), b3 = weights([8], 52);
  const se = weights([8, 8, 1, 1], 53, 0.4), seb = weights([8], 54);
  const ln = { s: weights([8], 55), b: weights([8], 56) };
  const fc = weights([3, 5], 57, 0.5), fb = weights([5], 58);
  const shuffle = {
    name: 'ShuffleNet/ConvNeXt/MobileNetV3-like: shape subgraph (Shape, Gather, Unsqueeze, Concat, Div), channel shuffle (Reshape 5-D, Transpose), squeeze-excitation (HardSigmoid, Mul), HardSwish, LayerNormalization after a permute, Slice, Split, ReduceMean, final Softmax',
    size: [9, 10] as [number, number],
    nodes: [
      conv1('input', 'c', 'w3', 'b3'),
      node('Relu', ['c'], ['r'], {}, true),
      node('Shape', ['r'], ['shape']),
      node('Gather', ['shape', 'i0'], ['n'], { axis: 0 }),
      node('Gather', ['shape', 'i2'], ['h']),
      node('Gather', ['shape', 'i3'], ['w']),
      node('Div', ['eight', 'two'], ['per']),
      ...['n', 'h', 'w', 'per'].map((v) => node('Unsqueeze', [v, 'ax0'], [`${v}1`])),
      node('Concat', ['n1', 'two1', 'per1', 'h1', 'w1'], ['s5'], { axis: 0 }),
      node('Reshape', ['r', 's5'], ['r5']),
      node('Transpose', ['r5'], ['t5'], { perm: [0, 2, 1, 3, 4] }),
      node('Concat', ['n1', 'eight1', 'h1', 'w1'], ['s4'], { axis: 0 }),
      node('Reshape', ['t5', 's4'], ['sh']),
      node('GlobalAveragePool', ['sh'], ['g']),
      node('Conv', ['g', 'se', 'seb'], ['gc'], { kernel_shape: [1, 1] }),
      node('HardSigmoid', ['gc'], ['gs'], { alpha: 1 / 6, beta: 0.5 }),
      node('Mul', ['sh', 'gs'], ['m']),
      node('HardSwish', ['m'], ['hs']),
      node('Transpose', ['hs'], ['p'], { perm: [0, 2, 3, 1] }),
      node('LayerNormalization', ['p', 'ln.s', 'ln.b'], ['lnp'], { axis: -1, epsilon: 1e-6 }),
      node('Transpose', ['lnp'], ['q'], { perm: [0, 3, 1, 2] }),
      node('Slice', ['q', 'st', 'en', 'ax1'], ['sl']),
      node('Split', ['sl', 'sp'], ['a', 'b'], { axis: 1 }),
      node('Add', ['a', 'b'], ['ab']),
      node('ReduceMean', ['ab'], ['rm'], { axes: [2, 3], keepdims: 0 }),
      node('Gemm', ['rm', 'fc', 'fb'], ['logits']),
      node('Softmax', ['logits'], ['probs'], { axis: -1 }),
    ],
    constants: {
      w3, b3, se, seb, 'ln.s': ln.s, 'ln.b': ln.b, fc, fb,
      i0: { dims: [], data: Float64Array.from([0]), int: true },
      i2: { dims: [], data: Float64Array.from([2]), int: true },
      i3: { dims: [], data: Float64Array.from([3]), int: true },
      eight: { dims: [], data: Float64Array.from([8]), int: true },
      two: { dims: [], data: Float64Array.from([2]), int: true },
      two1: ints([2]),
      eight1: ints([8]),
      ax0: ints([0]),
      st: ints([1]),
      en: ints([7]),
      ax1: ints([1]),
      sp: ints([3, 3]),
    },
    layers: [{ name: 'shuffled', value: 'sh' }],
    ref: (x: Tensor, guided: boolean) => {
      const r = (guided ? guidedRelu : tf.relu)(convRef(x, w3, b3, 1, [1, 1, 1, 1]));
      const [n, , h, w] = r.shape as number[];
      const sh = tf.reshape(tf.transpose(tf.reshape(r, [n!, 2, 4, h!, w!]), [0, 2, 1, 3, 4]), [n!, 8, h!, w!]);
      const gc = convRef(tf.mean(sh, [2, 3], true), se, seb, 1, [0, 0, 0, 0]);
      const m = tf.mul(sh, tf.clipByValue(tf.add(tf.div(gc, 6), 0.5), 0, 1));
      const hs = tf.mul(m, tf.div(tf.relu6(tf.add(m, 3)), 6));
      const p = tf.transpose(hs, [0, 2, 3, 1]);
      const { mean, variance } = tf.moments(p, -1, true);
      const lnp = tf.add(tf.mul(tf.div(tf.sub(p, mean), tf.sqrt(tf.add(variance, 1e-6))), tf.tensor1d(ln.s.data as Float32Array)), tf.tensor1d(ln.b.data as Float32Array));
      const q = tf.transpose(lnp, [0, 3, 1, 2]);
      const sl = tf.slice(q, [0, 1, 0, 0], [-1, 6, -1, -1]);
      const ab = tf.add(tf.slice(sl, [0, 0, 0, 0], [-1, 3, -1, -1]), tf.slice(sl, [0, 3, 0, 0], [-1, 3, -1, -1]));
      return tf.add(tf.matMul(tf.mean(ab, [2, 3]), tf.tensor2d(fc.data as Float32Array, [3, 5])), tf.tensor1d(fb.data as Float32Array));
    },
  };
  const w4 = weights([6, 3, 3, 3], 61), b4 = weights([6], 62);
  const ln4 = { s: weights([6], 63), b: weights([6], 64) };
  const up = weights([6, 12], 65, 0.4), upb = weights([12], 66), down = weights([12, 6], 67, 0.3), gamma = weights([6, 1, 1], 68);
  const hd = head('res', 6, 70);
  const scalar = (v: number): HostTensor => ({ dims: [], data: Float32Array.from([v]), int: false });
  const convnext = {
    name: 'ConvNeXt-like block: Transpose to NHWC, LayerNormalization, MatMul of rank 4 (Linear), GELU as exported (Div, Erf, Add, Mul), layer scale, residual Add',
    size: [7, 9] as [number, number],
    nodes: [
      conv1('input', 'c', 'w4', 'b4'),
      node('Transpose', ['c'], ['p'], { perm: [0, 2, 3, 1] }),
      node('LayerNormalization', ['p', 'ln.s', 'ln.b'], ['n'], { axis: -1, epsilon: 1e-6 }),
      node('MatMul', ['n', 'up'], ['u0']),
      node('Add', ['upb', 'u0'], ['u']),
      node('Div', ['u', 'sqrt2'], ['ud']),
      node('Erf', ['ud'], ['e']),
      node('Add', ['e', 'one'], ['e1']),
      node('Mul', ['u', 'e1'], ['ue']),
      node('Mul', ['ue', 'half'], ['g']),
      node('MatMul', ['g', 'down'], ['d']),
      node('Transpose', ['d'], ['q'], { perm: [0, 3, 1, 2] }),
      node('Mul', ['gamma', 'q'], ['s']),
      node('Add', ['s', 'c'], ['res']),
      ...hd.nodes,
    ],
    constants: { w4, b4, 'ln.s': ln4.s, 'ln.b': ln4.b, up, upb, down, gamma, sqrt2: scalar(Math.SQRT2), one: scalar(1), half: scalar(0.5), ...hd.constants },
    layers: [{ name: 'block', value: 'res' }],
    ref: (x: Tensor) => {
      const c = convRef(x, w4, b4, 1, [1, 1, 1, 1]);
      const p = tf.transpose(c, [0, 2, 3, 1]);
      const { mean, variance } = tf.moments(p, -1, true);
      const n = tf.add(tf.mul(tf.div(tf.sub(p, mean), tf.sqrt(tf.add(variance, 1e-6))), tf.tensor1d(ln4.s.data as Float32Array)), tf.tensor1d(ln4.b.data as Float32Array));
      const u = tf.add(tf.reshape(tf.matMul(tf.reshape(n, [-1, 6]), tf.tensor2d(up.data as Float32Array, [6, 12])), [1, 7, 9, 12]), tf.tensor1d(upb.data as Float32Array));
      // GELU: tfjs has no gradient for Erf, so the reference uses d/du erf(u) = 2/sqrt(pi) exp(-u^2) through a custom gradient.
      const erf = tf.customGrad((v: Tensor, save: (t: Tensor[]) => void) => {
        save([v]);
        return { value: tf.erf(v), gradFunc: (dy: Tensor, [vv]: Tensor[]) => tf.mul(dy, tf.mul(2 / Math.sqrt(Math.PI), tf.exp(tf.neg(tf.square(vv!))))) };
      }) as (v: Tensor) => Tensor;
      const g = tf.mul(tf.mul(u, tf.add(erf(tf.div(u, Math.SQRT2)), 1)), 0.5);
      const d = tf.reshape(tf.matMul(tf.reshape(g, [-1, 12]), tf.tensor2d(down.data as Float32Array, [12, 6])), [1, 7, 9, 6]);
      const s = tf.mul(tf.reshape(tf.tensor1d(gamma.data as Float32Array), [6, 1, 1]), tf.transpose(d, [0, 3, 1, 2]));
      return hd.ref(tf.add(s, c));
    },
  };
  return [dense, shuffle, convnext];
}

describe('graph ops: layout, pooling, normalisation', () => {
  for (const c of mixedCases()) {
    test(`${c.name}`, async () => {
      await check(c, false);
      await check(c, true);
    });
  }
});
