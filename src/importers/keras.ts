import { GradcamError, InvalidInputError } from '../errors.js';
import type { GraphSpec } from '../graph/graph.js';
import type { Attribute, HostTensor, OpNode } from '../ops/types.js';
import type { KerasArtifacts, KerasLayerSpec } from '../models/keras/loader.js';

/**
 * A TF.js layers model (Keras topology) as the engine's graph. Keras tensors are NHWC; the graph's
 * semantics are ONNX's (NCHW), so kernels are transposed here and the ops that depend on element order
 * (Reshape, Flatten) go through NHWC order explicitly. ReLU and ReLU6 follow the guided rule.
 */
const cfg = <T>(spec: KerasLayerSpec, key: string, fallback?: T): T => (spec.config[key] ?? fallback) as T;
const PASS_THROUGH = new Set(['Reshape', 'Flatten', 'Dropout']);
/** The layer types listed as explainable layers. */
const LISTED = new Set(['Conv2D', 'DepthwiseConv2D', 'Activation', 'ReLU', 'BatchNormalization', 'Add', 'ZeroPadding2D']);

type Activation = 'linear' | 'relu' | 'relu6' | 'softmax';

function readActivation(spec: KerasLayerSpec): Activation {
  if (spec.className === 'ReLU') {
    const max = cfg<number | null>(spec, 'max_value', null);
    if (cfg<number>(spec, 'negative_slope', 0) !== 0 || cfg<number>(spec, 'threshold', 0) !== 0) throw new GradcamError('UNSUPPORTED', `layer ${spec.name}: leaky/thresholded ReLU is not supported`);
    if (max === null) return 'relu';
    if (max === 6) return 'relu6';
    throw new GradcamError('UNSUPPORTED', `layer ${spec.name}: ReLU max_value ${max} is not supported`);
  }
  const a = cfg<string>(spec, 'activation', 'linear');
  if (a === 'linear' || a === 'relu' || a === 'relu6' || a === 'softmax') return a;
  throw new GradcamError('UNSUPPORTED', `layer ${spec.name}: activation '${a}' is not supported (linear, relu, relu6, softmax)`);
}

/** HWIO (Keras Conv2D) -> OIHW; for a depthwise kernel [kh, kw, C, m] -> [C * m, 1, kh, kw]. */
function toOihw(data: Float32Array, [kh, kw, a, b]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh!; y++) for (let x = 0; x < kw!; x++) for (let i = 0; i < a!; i++) for (let o = 0; o < b!; o++) out[((o * a! + i) * kh! + y) * kw! + x] = data[((y * kw! + x) * a! + i) * b! + o]!;
  return out;
}

export function kerasGraph(artifacts: KerasArtifacts, source = 'model.json'): { spec: GraphSpec; requiredInputSize?: [number, number] } {
  const nodes: OpNode[] = [];
  const constants = new Map<string, HostTensor>();
  const valueOf = new Map<string, string>();
  const rankOf = new Map<string, number>([['input', 4]]);
  const constant = (name: string, dims: readonly number[], data: Float32Array | Float64Array, int = false) => {
    constants.set(name, { dims, data, int });
    return name;
  };
  const node = (name: string, opType: string, inputs: string[], attrs: Record<string, Attribute> = {}, rank?: number): string => {
    const out = `${name}:${nodes.length}`;
    nodes.push({ name, opType, inputs, outputs: [out], attributes: new Map(Object.entries(attrs)), guided: opType === 'Relu' || opType === 'Clip' });
    rankOf.set(out, rank ?? rankOf.get(inputs[0]!) ?? 4);
    return out;
  };
  const weight = (spec: KerasLayerSpec, suffix: string, required = true) => {
    const w = artifacts.weights.get(`${spec.name}/${suffix}`);
    if (!w && required) throw new InvalidInputError(`layer ${spec.name}: weight '${spec.name}/${suffix}' is missing from the weights manifest`);
    return w;
  };
  const activate = (spec: KerasLayerSpec, x: string, a: Activation): string => {
    if (a === 'relu') return node(spec.name, 'Relu', [x]);
    if (a === 'relu6') return node(spec.name, 'Clip', [x, constant(`${spec.name}/min`, [], new Float32Array([0])), constant(`${spec.name}/max`, [], new Float32Array([6]))]);
    if (a === 'softmax') return node(spec.name, 'Softmax', [x], { axis: -1 });
    return x;
  };
  /** Keras's element order (NHWC) for a reshape: rank-4 values go through NHWC and back. */
  const reshapeNhwc = (spec: KerasLayerSpec, x: string, target: number[]): string => {
    const nhwc = rankOf.get(x) === 4 ? node(`${spec.name}/to_nhwc`, 'Transpose', [x], { perm: [0, 2, 3, 1] }) : x;
    const shaped = node(`${spec.name}/reshape`, 'Reshape', [nhwc, constant(`${spec.name}/shape`, [target.length + 1], Float64Array.from([0, ...target]), true)], {}, target.length + 1);
    return target.length === 3 ? node(spec.name, 'Transpose', [shaped], { perm: [0, 3, 1, 2] }, 4) : shaped;
  };
  const padding = (spec: KerasLayerSpec): Record<string, Attribute> => {
    const p = cfg<string>(spec, 'padding', 'valid');
    if (p === 'same') return { auto_pad: 'SAME_UPPER' };
    if (p === 'valid') return {};
    throw new GradcamError('UNSUPPORTED', `layer ${spec.name}: padding '${p}' is not supported`);
  };

  for (const spec of artifacts.layers) {
    const inputs = spec.inbound.length === 0 ? ['input'] : spec.inbound.map((n) => valueOf.get(n)!);
    const x = inputs[0]!;
    let out: string;
    switch (spec.className) {
      case 'InputLayer':
      case 'Dropout':
        out = x;
        break;
      case 'Activation':
      case 'ReLU':
        out = activate(spec, x, readActivation(spec));
        if (out === x) out = node(spec.name, 'Identity', [x]);
        break;
      case 'Flatten':
        out = reshapeNhwc(spec, x, [-1]);
        break;
      case 'Reshape':
        out = reshapeNhwc(spec, x, cfg<number[]>(spec, 'target_shape'));
        break;
      case 'BatchNormalization': {
        const mean = weight(spec, 'moving_mean')!;
        const c = mean.shape[0]!;
        const gamma = cfg<boolean>(spec, 'scale', true) ? weight(spec, 'gamma')!.data : new Float32Array(c).fill(1);
        const beta = cfg<boolean>(spec, 'center', true) ? weight(spec, 'beta')!.data : new Float32Array(c);
        const names = ['gamma', 'beta', 'mean', 'var'].map((k, i) => constant(`${spec.name}/${k}`, [c], [gamma, beta, mean.data, weight(spec, 'moving_variance')!.data][i]!));
        out = node(spec.name, 'BatchNormalization', [x, ...names], { epsilon: cfg<number>(spec, 'epsilon', 1e-3) });
        break;
      }
      case 'GlobalAveragePooling2D': {
        const pooled = node(`${spec.name}/pool`, 'GlobalAveragePool', [x]);
        out = cfg<boolean>(spec, 'keepdims', false) ? pooled : node(spec.name, 'Flatten', [pooled], { axis: 1 }, 2);
        break;
      }
      case 'Add':
        out = inputs.slice(1).reduce((acc, y, i) => node(i === inputs.length - 2 ? spec.name : `${spec.name}/${i}`, 'Add', [acc, y]), x);
        break;
      case 'ZeroPadding2D': {
        const p = cfg<number | number[] | number[][]>(spec, 'padding', 1);
        const [[t, b], [l, r]] = (typeof p === 'number' ? [[p, p], [p, p]] : Array.isArray(p[0]) ? p : [[p[0], p[0]], [p[1], p[1]]]) as [[number, number], [number, number]];
        out = node(spec.name, 'Pad', [x, constant(`${spec.name}/pads`, [8], Float64Array.from([0, 0, t, l, 0, 0, b, r]), true)]);
        break;
      }
      case 'Dense': {
        const kernel = weight(spec, 'kernel')!;
        const bias = cfg<boolean>(spec, 'use_bias', true) ? weight(spec, 'bias') : undefined;
        const ins = [x, constant(`${spec.name}/kernel`, kernel.shape, kernel.data), ...(bias ? [constant(`${spec.name}/bias`, bias.shape, bias.data)] : [])];
        out = activate(spec, node(`${spec.name}/dense`, 'Gemm', ins, {}, 2), readActivation(spec));
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = spec.className === 'DepthwiseConv2D';
        const kernel = weight(spec, depthwise ? 'depthwise_kernel' : 'kernel')!;
        const [kh, kw, a, m] = kernel.shape as [number, number, number, number];
        const bias = cfg<boolean>(spec, 'use_bias', true) ? (weight(spec, 'bias', false) ?? weight(spec, 'depthwise_bias')) : undefined;
        const dims = depthwise ? [a * m, 1, kh, kw] : [m, a, kh, kw];
        const attrs = { kernel_shape: [kh, kw], strides: cfg<number[]>(spec, 'strides', [1, 1]), dilations: cfg<number[]>(spec, 'dilation_rate', [1, 1]), group: depthwise ? a : 1, ...padding(spec) };
        const ins = [x, constant(`${spec.name}/kernel`, dims, toOihw(kernel.data, kernel.shape)), ...(bias ? [constant(`${spec.name}/bias`, bias.shape, bias.data)] : [])];
        const act = readActivation(spec);
        out = activate(spec, node(act === 'linear' ? spec.name : `${spec.name}/conv`, 'Conv', ins, attrs), act);
        break;
      }
      default:
        throw new GradcamError('UNSUPPORTED', `layer ${spec.name}: layer type ${spec.className} is not supported`);
    }
    valueOf.set(spec.name, out);
  }

  // The logits: the input of a final softmax (through reshapes and dropout), flattened to [N, classes].
  const byName = new Map(artifacts.layers.map((l) => [l.name, l]));
  let last = artifacts.layers.at(-1)!;
  while (PASS_THROUGH.has(last.className) && last.inbound.length === 1) last = byName.get(last.inbound[0]!)!;
  const softmax = readActivation(last) === 'softmax' && last.className !== 'InputLayer';
  let logits = valueOf.get(artifacts.layers.at(-1)!.name)!;
  if (softmax) {
    const pre = nodes.find((n) => n.outputs[0] === valueOf.get(last.name))!.inputs[0]!;
    logits = rankOf.get(pre) === 2 ? pre : reshapeNhwc({ ...last, name: `${last.name}/logits` }, pre, [-1]);
  }
  const layers = artifacts.layers.filter((l) => LISTED.has(l.className)).map((l) => ({ name: l.name, value: valueOf.get(l.name)! }));
  const declared = artifacts.layers.map((l) => l.config.batch_input_shape as (number | null)[] | undefined).find((s) => Array.isArray(s));
  const [h, w] = [declared?.[1], declared?.[2]];
  let requiredInputSize: [number, number] | undefined;
  // Flatten ties the head to one spatial size; otherwise (global pooling) any size works.
  if (artifacts.layers.some((l) => l.className === 'Flatten')) {
    if (!h || !w) throw new GradcamError('UNSUPPORTED', 'a model with a Flatten layer must declare its input size (batch_input_shape)');
    requiredInputSize = [h, w];
  }
  return { spec: { source, nodes, constants, input: 'input', output: logits, layers }, requiredInputSize };
}
