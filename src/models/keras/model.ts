import { tf, type Tensor, type Tensor2D, type Tensor4D } from '../../tf.js';
import { GradcamError, InvalidInputError, LayerNotFoundError } from '../../errors.js';
import { backwardFilter, convInputGrad } from '../../backward/conv.js';
import { depthwiseInputGrad } from '../../backward/depthwise.js';
import { spatialMeanGrad } from '../../backward/mean.js';
import type { Pads } from '../../backward/gemm-conv.js';
import type { GradMode } from '../../backward/relu.js';
import type { BiasGradient, ExplainableModel, ForwardPass, GradientRequest, Gradients } from '../types.js';
import type { KerasArtifacts, KerasLayerSpec } from './loader.js';

type Activation = 'linear' | 'relu' | 'relu6' | 'softmax';
const PASS_THROUGH = new Set(['Reshape', 'Flatten', 'Dropout']);

/** One executable layer: its forward op and the gradient of its input(s). */
interface Op {
  readonly spec: KerasLayerSpec;
  /** Output before a fused activation (needed for its gradient), when there is one. */
  forward(inputs: Tensor[]): { out: Tensor; pre?: Tensor };
  backward(dy: Tensor, inputs: Tensor[], out: Tensor, pre: Tensor | undefined, mode: GradMode): Tensor[];
  /** A 2-D bias (conv bias, BatchNorm shift) and the activation applied after it: FullGrad's terms. */
  readonly bias?: { readonly values: Float32Array; readonly activation: Activation };
  dispose(): void;
}

const cfg = <T>(spec: KerasLayerSpec, key: string, fallback?: T): T => (spec.config[key] ?? fallback) as T;

/** TF 'same' padding: total = max((ceil(n/s) - 1) * s + k - n, 0), the extra pixel after. */
function padAmounts(spec: KerasLayerSpec, n: number, k: number, s: number): [number, number] {
  const padding = cfg<string>(spec, 'padding', 'valid');
  if (padding === 'valid') return [0, 0];
  if (padding !== 'same') throw new GradcamError('UNSUPPORTED', `layer ${spec.name}: padding '${padding}' is not supported`);
  const total = Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function activate(x: Tensor, a: Activation): Tensor {
  if (a === 'relu') return tf.relu(x);
  if (a === 'relu6') return tf.relu6(x);
  if (a === 'softmax') return tf.softmax(x);
  return x;
}

/** Gradient through an activation given its input; guided mode also drops negative gradient. */
function activationGrad(dy: Tensor, pre: Tensor, a: Activation, mode: GradMode, layer: string): Tensor {
  if (a === 'linear') return dy;
  if (a === 'softmax') throw new GradcamError('UNSUPPORTED', `layer ${layer}: softmax inside the network is not supported (only as the final layer)`);
  return tf.tidy(() => {
    let mask = tf.greater(pre, 0);
    if (a === 'relu6') mask = tf.logicalAnd(mask, tf.less(pre, 6));
    return tf.mul(mode === 'guided' ? tf.relu(dy) : dy, tf.cast(mask, 'float32'));
  });
}

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

function makeOp(spec: KerasLayerSpec, weight: (suffix: string) => Tensor | undefined): Op {
  const need = (suffix: string): Tensor => {
    const w = weight(suffix);
    if (!w) throw new InvalidInputError(`layer ${spec.name}: weight '${spec.name}/${suffix}' is missing from the weights manifest`);
    return w;
  };
  const base = { spec, dispose() {} };
  switch (spec.className) {
    case 'InputLayer':
    case 'Dropout':
      return { ...base, forward: ([x]) => ({ out: x! }), backward: (dy) => [dy] };
    case 'Reshape':
    case 'Flatten': {
      const target = spec.className === 'Flatten' ? [-1] : cfg<number[]>(spec, 'target_shape');
      return { ...base, forward: ([x]) => ({ out: tf.reshape(x!, [x!.shape[0]!, ...target]) }), backward: (dy, [x]) => [tf.reshape(dy, x!.shape)] };
    }
    case 'Activation':
    case 'ReLU': {
      const a = readActivation(spec);
      return { ...base, forward: ([x]) => ({ out: activate(x!, a) }), backward: (dy, [x], _o, _p, mode) => [activationGrad(dy, x!, a, mode, spec.name)] };
    }
    case 'BatchNormalization': {
      const eps = cfg<number>(spec, 'epsilon', 1e-3);
      const gamma = cfg<boolean>(spec, 'scale', true) ? need('gamma') : undefined;
      const beta = cfg<boolean>(spec, 'center', true) ? need('beta') : undefined;
      const [scale, shift] = tf.tidy(() => {
        let s = tf.rsqrt(tf.add(need('moving_variance'), eps));
        if (gamma) s = tf.mul(s, gamma);
        let b = tf.neg(tf.mul(need('moving_mean'), s));
        if (beta) b = tf.add(b, beta);
        return [s, b];
      });
      return {
        ...base,
        bias: { values: shift.dataSync() as Float32Array, activation: 'linear' },
        forward: ([x]) => ({ out: tf.add(tf.mul(x!, scale), shift) }),
        backward: (dy) => [tf.mul(dy, scale)],
        dispose: () => tf.dispose([scale, shift]),
      };
    }
    case 'GlobalAveragePooling2D':
      return {
        ...base,
        forward: ([x]) => ({ out: tf.mean(x!, [1, 2], cfg<boolean>(spec, 'keepdims', false)) }),
        backward: (dy, [x]) => [spatialMeanGrad(dy.dataSync(), x!.shape[1]!, x!.shape[2]!)],
      };
    case 'Add':
      return { ...base, forward: (xs) => ({ out: tf.addN(xs) }), backward: (dy, xs) => xs.map(() => dy) };
    case 'ZeroPadding2D': {
      const p = cfg<number | number[] | number[][]>(spec, 'padding', 1);
      const [[t, b], [l, r]] = (typeof p === 'number' ? [[p, p], [p, p]] : Array.isArray(p[0]) ? p : [[p[0], p[0]], [p[1], p[1]]]) as [[number, number], [number, number]];
      return {
        ...base,
        forward: ([x]) => ({ out: tf.pad(x!, [[0, 0], [t!, b!], [l!, r!], [0, 0]]) }),
        backward: (dy, [x]) => [tf.slice(dy, [0, t!, l!, 0], [-1, x!.shape[1]!, x!.shape[2]!, -1])],
      };
    }
    case 'Dense': {
      const a = readActivation(spec);
      const kernel = need('kernel');
      const bias = cfg<boolean>(spec, 'use_bias', true) ? need('bias') : undefined;
      return {
        ...base,
        forward: ([x]) => {
          const pre = tf.tidy(() => (bias ? tf.add(tf.matMul(x as Tensor2D, kernel as Tensor2D), bias) : tf.matMul(x as Tensor2D, kernel as Tensor2D)));
          return a === 'linear' ? { out: pre } : { out: activate(pre, a), pre };
        },
        // pre is undefined for a linear activation, or when dy is already w.r.t. the pre-activation (fused softmax logits).
        backward: (dy, _x, _o, pre, mode) => [tf.tidy(() => tf.matMul((pre ? activationGrad(dy, pre, a, mode, spec.name) : dy) as Tensor2D, kernel as Tensor2D, false, true))],
      };
    }
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      const depthwise = spec.className === 'DepthwiseConv2D';
      const kernel = need(depthwise ? 'depthwise_kernel' : 'kernel') as Tensor4D;
      const [kh, kw] = kernel.shape;
      const [sh, sw] = cfg<number[]>(spec, 'strides', [1, 1]) as [number, number];
      const dil = cfg<number[]>(spec, 'dilation_rate', [1, 1]);
      if (kh !== kw || sh !== sw || dil.some((d) => d !== 1)) throw new GradcamError('UNSUPPORTED', `layer ${spec.name}: only square kernels, equal strides and no dilation are supported`);
      if (depthwise && kernel.shape[3] !== 1) throw new GradcamError('UNSUPPORTED', `layer ${spec.name}: depth_multiplier ${kernel.shape[3]} is not supported`);
      const bias = cfg<boolean>(spec, 'use_bias', true) ? (weight('bias') ?? need('depthwise_bias')) : undefined;
      const a = readActivation(spec);
      const geom = { kernel: kh!, stride: sh, pad: 0 };
      const back = depthwise ? tf.reverse(kernel, [0, 1]) as Tensor4D : backwardFilter(kernel, geom);
      const pads = (x: Tensor): [[number, number], [number, number]] => [padAmounts(spec, x.shape[1]!, kh!, sh), padAmounts(spec, x.shape[2]!, kw!, sw)];
      return {
        ...base,
        ...(bias ? { bias: { values: bias.dataSync() as Float32Array, activation: a } } : {}),
        forward: ([x]) => {
          const [ph, pw] = pads(x!);
          const pad: Pads = [[0, 0], ph, pw, [0, 0]];
          const pre = tf.tidy(() => {
            const y = depthwise ? tf.depthwiseConv2d(x as Tensor4D, kernel, sh, pad) : tf.conv2d(x as Tensor4D, kernel, sh, pad);
            return bias ? tf.add(y, bias) : y;
          });
          return a === 'linear' ? { out: pre } : { out: activate(pre, a), pre };
        },
        backward: (dy, [x], _o, pre, mode) =>
          [tf.tidy(() => {
            const g = (pre ? activationGrad(dy, pre, a, mode, spec.name) : dy) as Tensor4D;
            const [ph, pw] = pads(x!);
            const inH = x!.shape[1]! + ph[0] + ph[1];
            const inW = x!.shape[2]! + pw[0] + pw[1];
            const full = depthwise ? depthwiseInputGrad(g, back, kh!, sh, inH, inW) : convInputGrad(g, back, geom, inH, inW);
            return tf.slice(full, [0, ph[0], pw[0], 0], [-1, x!.shape[1]!, x!.shape[2]!, -1]);
          })],
        dispose: () => back.dispose(),
      };
    }
    default:
      throw new GradcamError('UNSUPPORTED', `layer ${spec.name}: layer type ${spec.className} is not supported`);
  }
}

class KerasPass implements ForwardPass {
  constructor(
    readonly input: Tensor4D,
    readonly outputs: Map<string, Tensor>,
    readonly pres: Map<string, Tensor>,
    readonly logits: Tensor2D,
  ) {}
  activation(layer: string): Tensor4D {
    return this.outputs.get(layer) as Tensor4D;
  }
  dispose(): void {
    const mine = [...this.outputs.values(), ...this.pres.values(), this.logits].filter((t) => t !== this.input);
    tf.dispose(mine);
  }
}

/**
 * A TF.js layers model (Keras topology) run op by op, so that the engine keeps every activation it
 * needs and computes input-only gradients itself: no weight gradients, and none of the backprop
 * kernels the wasm backend lacks (depthwise and filter gradients).
 */
export class KerasCnn implements ExplainableModel {
  readonly layers: readonly string[];
  readonly defaultLayers: readonly string[];
  readonly numClasses: number;
  readonly minInputSize = 32;
  readonly labels: readonly string[] | undefined;
  private readonly ops: Op[];
  private readonly weights: Tensor[];
  /** The layer whose output is the logits (the input of a final softmax, or the output). */
  private readonly logitsLayer: string;
  private readonly logitsFromPre: boolean;
  /** Set when the head only accepts the declared input size. */
  readonly requiredInputSize: readonly [number, number] | undefined;

  constructor(artifacts: KerasArtifacts) {
    this.labels = artifacts.labels;
    const tensors = new Map<string, Tensor>();
    for (const [name, w] of artifacts.weights) tensors.set(name, tf.tensor(w.data, [...w.shape]));
    this.weights = [...tensors.values()];
    try {
      this.ops = artifacts.layers.map((spec) => makeOp(spec, (suffix) => tensors.get(`${spec.name}/${suffix}`)));
    } catch (err) {
      tf.dispose(this.weights);
      throw err;
    }
    // Walk back from the output over reshapes/dropout to the softmax: its input holds the logits.
    const byName = new Map(this.ops.map((o) => [o.spec.name, o]));
    let node = this.ops.at(-1)!;
    while (PASS_THROUGH.has(node.spec.className) && node.spec.inbound.length === 1) node = byName.get(node.spec.inbound[0]!)!;
    const softmaxLayer = node.spec.className === 'Activation' && readActivation(node.spec) === 'softmax';
    const fusedSoftmax = !softmaxLayer && ['Dense', 'Conv2D'].includes(node.spec.className) && readActivation(node.spec) === 'softmax';
    this.logitsLayer = softmaxLayer ? node.spec.inbound[0]! : node.spec.name;
    this.logitsFromPre = fusedSoftmax;
    this.layers = this.ops.filter((o) => ['Conv2D', 'DepthwiseConv2D', 'Activation', 'ReLU', 'BatchNormalization', 'Add', 'ZeroPadding2D'].includes(o.spec.className)).map((o) => o.spec.name);
    const declared = artifacts.layers.map((l) => l.config.batch_input_shape as (number | null)[] | undefined).find((s) => Array.isArray(s));
    const [h, w] = [declared?.[1], declared?.[2]];
    // Flatten ties the head to one spatial size; otherwise (global pooling) any size works.
    if (artifacts.layers.some((l) => l.className === 'Flatten')) {
      if (!h || !w) throw new GradcamError('UNSUPPORTED', 'a model with a Flatten layer must declare its input size (batch_input_shape)');
      this.requiredInputSize = [h, w];
    }
    const probe = this.probe([h ?? 224, w ?? 224]);
    this.numClasses = probe.numClasses;
    this.defaultLayers = [probe.defaultLayer];
    if (this.labels && this.labels.length !== this.numClasses) this.labels = undefined;
  }

  /**
   * One forward pass on a blank input of the declared size gives the number of classes (the logits'
   * last dimension) and the default layer: the last one with a 4-D output larger than 1x1
   * (tf-explain/torch-cam's choice).
   */
  private probe(size: [number, number]): { numClasses: number; defaultLayer: string } {
    const x = tf.zeros([1, ...size, 3]) as Tensor4D;
    const pass = this.forward(x);
    try {
      const defaultLayer = [...this.layers].reverse().find((l) => {
        const t = pass.outputs.get(l)!;
        return t.rank === 4 && (t.shape[1]! > 1 || t.shape[2]! > 1);
      });
      if (!defaultLayer) throw new GradcamError('UNSUPPORTED', 'the model has no convolutional layer with a spatial output');
      return { numClasses: pass.logits.shape[1], defaultLayer };
    } finally {
      pass.dispose();
      x.dispose();
    }
  }

  forward(input: Tensor4D): KerasPass {
    const outputs = new Map<string, Tensor>();
    const pres = new Map<string, Tensor>();
    let logits!: Tensor2D;
    tf.tidy(() => {
      for (const op of this.ops) {
        const inputs = op.spec.inbound.length === 0 ? [input] : op.spec.inbound.map((n) => outputs.get(n)!);
        const { out, pre } = op.forward(inputs);
        outputs.set(op.spec.name, tf.keep(out));
        if (pre) pres.set(op.spec.name, tf.keep(pre));
      }
      const raw = this.logitsFromPre ? pres.get(this.logitsLayer)! : outputs.get(this.logitsLayer)!;
      logits = tf.keep(tf.reshape(raw, [input.shape[0], -1]) as Tensor2D);
    });
    return new KerasPass(input, outputs, pres, logits);
  }

  gradients(pass: ForwardPass, req: GradientRequest): Gradients {
    const p = pass as KerasPass;
    for (const l of req.layers) if (!this.layers.includes(l)) throw new LayerNotFoundError(l, this.layers);
    const index = new Map(this.ops.map((o, i) => [o.spec.name, i]));
    const top = index.get(this.logitsLayer)!;
    const lowest = req.toInput ? 0 : Math.min(...req.layers.map((l) => index.get(l)!));
    const mode: GradMode = req.guided ? 'guided' : 'plain';
    let result!: Gradients;
    // Every tensor of the result is kept explicitly (a tidy cannot return the bias vectors).
    tf.tidy(() => {
      const grads = new Map<string, Tensor>();
      const logitsOut = this.logitsFromPre ? p.pres.get(this.logitsLayer)! : p.outputs.get(this.logitsLayer)!;
      grads.set(this.logitsLayer, tf.reshape(tf.tensor1d(req.seed), logitsOut.shape));
      const layers: Record<string, Tensor4D> = {};
      const biases: BiasGradient[] | undefined = req.biasGradients ? [] : undefined;
      let input: Tensor4D | undefined;
      // Frees a gradient as soon as nothing refers to it (an Add passes one tensor to both inputs), so a
      // pass holds a few gradients at a time instead of all of them until its end.
      const release = (t: Tensor, alsoUsed: readonly Tensor[]): void => {
        if (t === input || alsoUsed.includes(t) || Object.values(layers).includes(t as Tensor4D) || [...grads.values()].includes(t)) return;
        if (biases?.some((b) => b.grad === t)) return;
        t.dispose();
      };
      for (let i = top; i >= lowest; i--) {
        const op = this.ops[i]!;
        const dy = grads.get(op.spec.name);
        if (!dy) continue;
        if (req.layers.includes(op.spec.name)) layers[op.spec.name] = tf.keep(dy as Tensor4D);
        // The logits layer with a fused softmax: its gradient starts at the pre-activation.
        const pre = this.logitsFromPre && i === top ? undefined : p.pres.get(op.spec.name);
        if (biases && op.bias && dy.rank === 4) {
          const grad = pre ? activationGrad(dy, pre, op.bias.activation, 'plain', op.spec.name) : dy;
          biases.push({ bias: op.bias.values, grad: tf.keep(grad as Tensor4D) });
        }
        const inputs = op.spec.inbound.length === 0 ? [p.input] : op.spec.inbound.map((n) => p.outputs.get(n)!);
        const dxs = op.backward(dy, inputs, p.outputs.get(op.spec.name)!, pre, mode);
        grads.delete(op.spec.name);
        if (op.spec.inbound.length === 0) {
          if (op.spec.className !== 'InputLayer' || req.toInput) input = tf.keep(dxs[0] as Tensor4D);
          release(dy, dxs);
          continue;
        }
        op.spec.inbound.forEach((n, k) => {
          const prev = grads.get(n);
          grads.set(n, prev ? tf.add(prev, dxs[k]!) : dxs[k]!);
          if (prev) release(prev, dxs);
        });
        release(dy, dxs);
      }
      if (req.toInput && !input) throw new InvalidInputError('the model input is not reachable from the target');
      result = { layers, input, ...(biases ? { biases } : {}) };
    });
    return result;
  }

  logitsFrom(layer: string, activations: Tensor4D): Tensor2D {
    const index = new Map(this.ops.map((o, i) => [o.spec.name, i]));
    const start = index.get(layer);
    if (start === undefined || !this.layers.includes(layer)) throw new LayerNotFoundError(layer, this.layers);
    const top = index.get(this.logitsLayer)!;
    if (start > top) throw new GradcamError('UNSUPPORTED', `layer ${layer} lies above the logits (${this.logitsLayer})`);
    return tf.tidy(() => {
      const outputs = new Map<string, Tensor>([[layer, activations]]);
      for (let i = start + 1; i <= top; i++) {
        const op = this.ops[i]!;
        const inputs = op.spec.inbound.map((n) => outputs.get(n));
        if (inputs.length === 0 || inputs.some((t) => !t)) {
          throw new GradcamError('UNSUPPORTED', `layer ${op.spec.name} reads a tensor from below ${layer}: rerunning the network from ${layer} alone is not possible`);
        }
        const { out, pre } = op.forward(inputs as Tensor[]);
        outputs.set(op.spec.name, i === top && this.logitsFromPre ? pre! : out);
      }
      return tf.reshape(outputs.get(this.logitsLayer)!, [activations.shape[0], -1]) as Tensor2D;
    });
  }

  dispose(): void {
    for (const op of this.ops) op.dispose();
    tf.dispose(this.weights);
  }
}
