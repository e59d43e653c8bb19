import { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D } from '../tf.js';
import { LayerNotFoundError, WeightsError } from '../errors.js';
import { parseSafetensors, type SafetensorsFile } from '../weights/safetensors.js';
import type { ByteSource } from '../runtime/io.js';
import { backwardFilter, convInputGrad, explicitPad, type ConvGeometry } from '../backward/conv.js';
import { gemmConv, gemmConvInputGrad, xnnpackConv } from '../backward/gemm-conv.js';
import { reluGrad, type GradMode } from '../backward/relu.js';
import { winogradConv, winogradFilter, winogradUsable } from '../backward/winograd.js';
import { maxPoolGrad } from '../backward/maxpool.js';
import { spatialMeanGrad } from '../backward/mean.js';
import { IMAGENET_CLASSES } from './imagenet-classes.js';
import type { BiasGradient, ExplainableModel, ForwardPass, GradientRequest, Gradients } from './types.js';

const STAGES = [
  { name: 'layer1', blocks: 3, channels: 64 },
  { name: 'layer2', blocks: 4, channels: 128 },
  { name: 'layer3', blocks: 6, channels: 256 },
  { name: 'layer4', blocks: 3, channels: 512 },
] as const;
export const RESNET34_LAYERS: readonly string[] = STAGES.map((s) => s.name);
const NUM_CLASSES = 1000;
const BN_EPS = 1e-5;
const BN_PARAMS = ['weight', 'bias', 'running_mean', 'running_var'] as const;
const STEM: ConvGeometry = { kernel: 7, stride: 2, pad: 3 };
const POOL = { size: 3, stride: 2, pad: 1 };
/** 3x3 stride-1 filters up to this size (layer1..layer3) run as Winograd convolutions. */
const WINOGRAD_MAX_FILTER = 1 << 20;
/** Other filters at least this big (layer3/layer4's 3x3) run as im2col + matMul: their weights dwarf their activations. */
const GEMM_MIN_FILTER = 1 << 18;

/** Every tensor a torchvision/timm ResNet34 state dict holds (num_batches_tracked aside), with its shape. */
export function resnet34Keys(): Map<string, number[]> {
  const keys = new Map<string, number[]>();
  const conv = (prefix: string, out: number, inp: number, k: number) => keys.set(`${prefix}.weight`, [out, inp, k, k]);
  const bn = (prefix: string, c: number) => BN_PARAMS.forEach((p) => keys.set(`${prefix}.${p}`, [c]));
  conv('conv1', 64, 3, 7);
  bn('bn1', 64);
  let inCh = 64;
  STAGES.forEach((stage, si) => {
    for (let b = 0; b < stage.blocks; b++) {
      const p = `${stage.name}.${b}`;
      conv(`${p}.conv1`, stage.channels, b === 0 ? inCh : stage.channels, 3);
      bn(`${p}.bn1`, stage.channels);
      conv(`${p}.conv2`, stage.channels, stage.channels, 3);
      bn(`${p}.bn2`, stage.channels);
      if (b === 0 && si > 0) {
        conv(`${p}.downsample.0`, stage.channels, inCh, 1);
        bn(`${p}.downsample.1`, stage.channels);
      }
    }
    inCh = stage.channels;
  });
  keys.set('fc.weight', [NUM_CLASSES, 512]);
  keys.set('fc.bias', [NUM_CLASSES]);
  return keys;
}

/** Checks a parsed file against the ResNet34 layout, so that loading never fails half-way. */
export function checkResnet34Layout(file: SafetensorsFile): void {
  const expected = resnet34Keys();
  for (const [key, shape] of expected) {
    const info = file.tensors.get(key);
    if (!info) throw new WeightsError('missing tensor (not a torchvision/timm ResNet34 state dict?)', key);
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new WeightsError(`dtype ${info.dtype} is not supported (expected F32, F16 or BF16)`, key);
    }
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new WeightsError(`shape [${info.shape.join(', ')}] does not match the expected [${shape.join(', ')}]`, key);
    }
  }
  for (const key of file.tensors.keys()) {
    if (!expected.has(key) && !key.endsWith('num_batches_tracked')) throw new WeightsError('unexpected tensor (not a ResNet34?)', key);
  }
}

/** A convolution (BatchNorm folded in) with its forward and input-gradient computations, however they run. */
interface ConvUnit {
  forward(x: Tensor4D, relu: boolean): Tensor4D;
  /** d(loss)/d(input) from d(loss)/d(output); inH/inW are the forward input's size. */
  inputGrad(dy: Tensor4D, inH: number, inW: number): Tensor4D;
  /** The folded bias beta - mean * gamma / sqrt(var + eps): FullGrad's bias of the BatchNorm. */
  readonly bias: Float32Array;
  readonly tensors: readonly Tensor[];
}

interface Block {
  readonly conv1: ConvUnit;
  readonly conv2: ConvUnit;
  readonly down?: ConvUnit;
}

/** Loads conv `prefix` with BatchNorm `bnPrefix` folded in: W' = W * s, b' = beta - mean * s, s = gamma / sqrt(var + eps). */
function loadConvBN(file: SafetensorsFile, prefix: string, bnPrefix: string, geom: ConvGeometry): ConvUnit {
  const w = file.float32(`${prefix}.weight`);
  const [gamma, beta, mean, variance] = BN_PARAMS.map((p) => file.float32(`${bnPrefix}.${p}`)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const [out, inp, k] = file.tensors.get(`${prefix}.weight`)!.shape as [number, number, number];
  const folded = new Float32Array(w.length);
  const bias = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    const scale = gamma[o]! / Math.sqrt(variance[o]! + BN_EPS);
    bias[o] = beta[o]! - mean[o]! * scale;
    // OIHW -> HWIO while folding.
    for (let i = 0; i < inp; i++) {
      for (let y = 0; y < k; y++) {
        for (let x = 0; x < k; x++) folded[((y * k + x) * inp + i) * out + o] = w[((o * inp + i) * k + y) * k + x]! * scale;
      }
    }
  }
  return { ...convUnit(folded, tf.tensor1d(bias), geom, inp, out), bias };
}

/**
 * How a convolution runs, forward and backward. Measured at 224x224 (paired A/B, bench peak RSS):
 * - 3x3 stride-1 filters of layer1..layer3 as Winograd F(2x2, 3x3): 2.25x fewer multiplications
 *   (seed figure 0.8x), and each output sums 9x fewer products in its running float32 sum, which
 *   brings our forward's rounding error to PyTorch's (against float64): no ReLU flips on the references.
 * - layer4's 3x3 (and layer3's strided one) as im2col + matMul, whose operator packs its filter once
 *   (XNNPACK's conv packs twice), with the input gradient from the same filter (gemmConvInputGrad):
 *   no backward filter. That memory pays for layer3's Winograd planes (peak RSS ~540 MB, was ~560).
 * - the rest (stem, other strided convs, 1x1) on XNNPACK's conv, the input gradient as a forward
 *   conv of dy with a flipped filter (convInputGrad).
 */
function convUnit(folded: Float32Array, bias: Tensor1D, geom: ConvGeometry, inp: number, out: number): Omit<ConvUnit, 'bias'> {
  const k = geom.kernel;
  const act = (relu: boolean) => (relu ? 'relu' : 'linear');
  if (k === 3 && geom.stride === 1 && geom.pad === 1 && folded.length < WINOGRAD_MAX_FILTER && winogradUsable(inp, out)) {
    const planes = winogradFilter(folded, inp, out);
    const backPlanes = winogradFilter(folded, inp, out, true);
    return {
      forward: (x, relu) => winogradConv(x, planes, bias, act(relu)),
      inputGrad: (dy) => winogradConv(dy, backPlanes),
      tensors: [bias, ...planes, ...backPlanes],
    };
  }
  const filter = tf.tensor4d(folded, [k, k, inp, out]);
  const pads = explicitPad(geom.pad);
  if (k > 1 && folded.length >= GEMM_MIN_FILTER) {
    return {
      forward: (x, relu) => gemmConv(x, filter, geom.stride, pads, bias, act(relu)),
      inputGrad: (dy, inH, inW) => gemmConvInputGrad(dy, filter, geom.stride, pads, inH, inW),
      tensors: [bias, filter],
    };
  }
  const back = backwardFilter(filter, geom);
  return {
    forward: (x, relu) => xnnpackConv(x, filter, geom.stride, pads, bias, act(relu)),
    inputGrad: (dy, inH, inW) => convInputGrad(dy, back, geom, inH, inW),
    tensors: [bias, filter, back],
  };
}

/** What the backward passes need from the forward pass: post-ReLU outputs (their > 0 masks) and sizes. */
interface BlockState {
  readonly input: Tensor4D;
  readonly mid: Tensor4D;
  readonly out: Tensor4D;
}

class ResNetPass implements ForwardPass {
  constructor(
    readonly input: Tensor4D,
    readonly stem: Tensor4D,
    readonly blocks: BlockState[][],
    readonly logits: Tensor2D,
  ) {}
  activation(layer: string): Tensor4D {
    const stage = RESNET34_LAYERS.indexOf(layer);
    return this.blocks[stage]!.at(-1)!.out;
  }
  dispose(): void {
    tf.dispose([this.stem, this.logits, ...this.blocks.flat().flatMap((b) => [b.input, b.mid, b.out])]);
  }
}

/** torchvision's ResNet34 (inference mode) built from tfjs ops, NHWC, with gradient-only backward passes. */
export class ResNet34 implements ExplainableModel {
  readonly layers = RESNET34_LAYERS;
  readonly defaultLayers = ['layer4'];
  readonly numClasses = NUM_CLASSES;
  readonly labels = IMAGENET_CLASSES;
  readonly minInputSize = 32;
  private readonly stem: ConvUnit;
  private readonly stages: Block[][];
  private readonly fcWeight: Tensor2D; // [512, 1000]
  private readonly fcBias: Tensor1D;
  private readonly fcRows: Float32Array; // fc.weight as [1000, 512], for the top gradient

  static fromSafetensors(source: Uint8Array | ByteSource): ResNet34 {
    const file = parseSafetensors(source);
    checkResnet34Layout(file);
    return new ResNet34(file);
  }

  private constructor(file: SafetensorsFile) {
    this.stem = loadConvBN(file, 'conv1', 'bn1', STEM);
    this.stages = STAGES.map((stage, si) =>
      Array.from({ length: stage.blocks }, (_, b) => {
        const p = `${stage.name}.${b}`;
        const stride = b === 0 && si > 0 ? 2 : 1;
        return {
          conv1: loadConvBN(file, `${p}.conv1`, `${p}.bn1`, { kernel: 3, stride, pad: 1 }),
          conv2: loadConvBN(file, `${p}.conv2`, `${p}.bn2`, { kernel: 3, stride: 1, pad: 1 }),
          down: stride === 2 ? loadConvBN(file, `${p}.downsample.0`, `${p}.downsample.1`, { kernel: 1, stride: 2, pad: 0 }) : undefined,
        };
      }),
    );
    this.fcRows = file.float32('fc.weight');
    this.fcWeight = tf.tidy(() => tf.transpose(tf.tensor2d(this.fcRows, [NUM_CLASSES, 512])));
    this.fcBias = tf.tensor1d(file.float32('fc.bias'));
  }

  forward(input: Tensor4D): ResNetPass {
    let pass!: ResNetPass;
    tf.tidy(() => {
      const stem = this.stem.forward(input, true);
      let x = tf.maxPool(stem, POOL.size, POOL.stride, POOL.pad) as Tensor4D;
      const blocks = this.stages.map((stage) =>
        stage.map((block) => {
          const input = x;
          // One tidy per block: its intermediates go now, not at the end of the pass (GBs for large inputs).
          const { mid, out } = tf.tidy(() => {
            const mid = block.conv1.forward(input, true);
            const identity = block.down ? block.down.forward(input, false) : input;
            return { mid, out: tf.relu(tf.add(block.conv2.forward(mid, false), identity)) as Tensor4D };
          });
          x = out;
          return { input, mid, out };
        }),
      );
      const logits = this.head(x);
      pass = new ResNetPass(input, stem, blocks, logits);
      [stem, logits, ...blocks.flat().flatMap((b) => [b.input, b.mid, b.out])].forEach((t) => tf.keep(t));
    });
    return pass;
  }

  /** Global average pooling + fc: [N, h, w, 512] -> logits [N, 1000]. */
  private head(x: Tensor4D): Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(tf.mean(x, [1, 2]), this.fcWeight), this.fcBias) as Tensor2D);
  }

  logitsFrom(layer: string, activations: Tensor4D): Tensor2D {
    const stage = RESNET34_LAYERS.indexOf(layer);
    if (stage < 0) throw new LayerNotFoundError(layer, RESNET34_LAYERS);
    return tf.tidy(() => {
      let x = activations;
      for (const block of this.stages.slice(stage + 1).flat()) {
        const input = x;
        x = tf.tidy(() => {
          const mid = block.conv1.forward(input, true);
          const identity = block.down ? block.down.forward(input, false) : input;
          return tf.relu(tf.add(block.conv2.forward(mid, false), identity)) as Tensor4D;
        });
      }
      return this.head(x);
    });
  }

  gradients(pass: ForwardPass, req: GradientRequest): Gradients {
    const p = pass as ResNetPass;
    const mode: GradMode = req.guided ? 'guided' : 'plain';
    const stageIndices = req.layers.map((l) => RESNET34_LAYERS.indexOf(l));
    const toStem = req.toInput || req.biasGradients === true;
    const lowest = toStem ? 0 : Math.min(...stageIndices, STAGES.length);
    let result!: Gradients;
    // Every tensor of the result is kept explicitly (a tidy cannot return the bias vectors).
    tf.tidy(() => {
      const layers: Record<string, Tensor4D> = {};
      const biases: BiasGradient[] | undefined = req.biasGradients ? [] : undefined;
      const last = p.blocks.at(-1)!.at(-1)!.out;
      const [, h, w, c] = last.shape;
      // d score / d (global-average-pooled features) is seed . fc.weight; the mean spreads it evenly.
      let dy = spatialMeanGrad(this.pooledGrad(req.seed, c), h, w);
      for (let si = STAGES.length - 1; si >= lowest; si--) {
        if (stageIndices.includes(si)) layers[RESNET34_LAYERS[si]!] = tf.keep(dy);
        if (si === lowest && !toStem) break; // nothing below the lowest requested stage is needed
        const stage = this.stages[si]!;
        for (let b = stage.length - 1; b >= 0; b--) {
          const next = this.blockGrad(stage[b]!, p.blocks[si]![b]!, dy, mode, biases);
          if (!Object.values(layers).includes(dy)) dy.dispose(); // freed now, not at the end of the pass
          dy = next;
        }
      }
      let input: Tensor4D | undefined;
      if (toStem) {
        const dStem = reluGrad(maxPoolGrad(dy, p.stem, p.blocks[0]![0]!.input, POOL), p.stem, mode);
        biases?.push({ bias: this.stem.bias, grad: tf.keep(dStem) });
        const [, H, W] = p.input.shape;
        if (req.toInput) input = tf.keep(this.stem.inputGrad(dStem, H, W));
      }
      result = { layers, input, ...(biases ? { biases } : {}) };
    });
    return result;
  }

  /** seed . fc.weight ([numClasses] x [numClasses, c]), summed in float32 over the non-zero seed entries. */
  private pooledGrad(seed: Float32Array, c: number): Float32Array {
    const out = new Float32Array(c);
    seed.forEach((s, k) => {
      if (s === 0) return;
      const row = this.fcRows.subarray(k * c, (k + 1) * c);
      for (let i = 0; i < c; i++) out[i] = out[i]! + s * row[i]!;
    });
    return out;
  }

  /** d/d(block input) from d/d(block output); with `biases`, also the gradients at its three BN outputs. */
  private blockGrad(block: Block, state: BlockState, dOut: Tensor4D, mode: GradMode, biases?: BiasGradient[]): Tensor4D {
    return tf.tidy(() => {
      const [, inH, inW] = state.input.shape;
      const [, midH, midW] = state.mid.shape;
      const g = reluGrad(dOut, state.out, mode);
      const dMid = reluGrad(block.conv2.inputGrad(g, midH, midW), state.mid, mode);
      if (biases) {
        biases.push({ bias: block.conv2.bias, grad: tf.keep(g) }, { bias: block.conv1.bias, grad: tf.keep(dMid) });
        if (block.down) biases.push({ bias: block.down.bias, grad: g });
      }
      const dIn = block.conv1.inputGrad(dMid, inH, inW);
      const dIdentity = block.down ? block.down.inputGrad(g, inH, inW) : g;
      return tf.add(dIn, dIdentity);
    });
  }

  dispose(): void {
    const units = [this.stem, ...this.stages.flat().flatMap((b) => [b.conv1, b.conv2, ...(b.down ? [b.down] : [])])];
    tf.dispose([...units.flatMap((u) => u.tensors), this.fcWeight, this.fcBias]);
  }
}

