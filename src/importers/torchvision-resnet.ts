import { WeightsError } from '../errors.js';
import type { GraphSpec } from '../graph/graph.js';
import type { Attribute, HostTensor, OpNode } from '../ops/types.js';
import type { SafetensorsFile } from '../weights/safetensors.js';

/**
 * torchvision's ResNets (18/34: BasicBlock; 50/101/152: Bottleneck) from a safetensors state dict with
 * torchvision/timm key names, as the engine's graph: BatchNorm folded into each conv, every ReLU guided.
 * The depth comes from the keys (blocks per stage, conv3 for Bottleneck).
 */
const DEPTHS: Record<string, { blocks: readonly number[]; bottleneck: boolean }> = {
  '18': { blocks: [2, 2, 2, 2], bottleneck: false },
  '34': { blocks: [3, 4, 6, 3], bottleneck: false },
  '50': { blocks: [3, 4, 6, 3], bottleneck: true },
  '101': { blocks: [3, 4, 23, 3], bottleneck: true },
  '152': { blocks: [3, 8, 36, 3], bottleneck: true },
};
export const RESNET_LAYERS = ['layer1', 'layer2', 'layer3', 'layer4'] as const;
const WIDTHS = [64, 128, 256, 512];
const BN_EPS = 1e-5;
const BN_PARAMS = ['weight', 'bias', 'running_mean', 'running_var'] as const;

export type ResnetDepth = 18 | 34 | 50 | 101 | 152;

/** The depth a state dict's keys denote (blocks per stage, Bottleneck or not); WeightsError when none. */
export function resnetDepth(keys: Iterable<string>): ResnetDepth {
  const blocks = [0, 0, 0, 0];
  let bottleneck = false;
  for (const key of keys) {
    const m = /^layer([1-4])\.(\d+)\.conv(\d)\.weight$/.exec(key);
    if (!m) continue;
    blocks[Number(m[1]) - 1] = Math.max(blocks[Number(m[1]) - 1]!, Number(m[2]) + 1);
    if (m[3] === '3') bottleneck = true;
  }
  const depth = Object.entries(DEPTHS).find(([, d]) => d.bottleneck === bottleneck && d.blocks.every((b, i) => b === blocks[i]));
  if (!depth) throw new WeightsError(`not a torchvision ResNet state dict (blocks per stage ${blocks.join('/')}${bottleneck ? ', Bottleneck' : ''}; ResNet 18/34/50/101/152 expected)`);
  return Number(depth[0]) as ResnetDepth;
}

/** Every tensor a torchvision/timm ResNet of this depth holds (num_batches_tracked aside), with its shape. */
export function resnetKeys(depth: ResnetDepth, numClasses = 1000): Map<string, number[]> {
  const { blocks, bottleneck } = DEPTHS[depth]!;
  const keys = new Map<string, number[]>();
  const conv = (prefix: string, out: number, inp: number, k: number) => keys.set(`${prefix}.weight`, [out, inp, k, k]);
  const bn = (prefix: string, c: number) => BN_PARAMS.forEach((p) => keys.set(`${prefix}.${p}`, [c]));
  conv('conv1', 64, 3, 7);
  bn('bn1', 64);
  let inCh = 64;
  blocks.forEach((n, si) => {
    const width = WIDTHS[si]!;
    const outCh = bottleneck ? width * 4 : width;
    for (let b = 0; b < n; b++) {
      const p = `layer${si + 1}.${b}`;
      const convs: [number, number, number][] = bottleneck
        ? [[width, b === 0 ? inCh : outCh, 1], [width, width, 3], [outCh, width, 1]]
        : [[width, b === 0 ? inCh : outCh, 3], [width, width, 3]];
      convs.forEach(([o, i, k], c) => {
        conv(`${p}.conv${c + 1}`, o, i, k);
        bn(`${p}.bn${c + 1}`, o);
      });
      if (b === 0 && (si > 0 || inCh !== outCh)) {
        conv(`${p}.downsample.0`, outCh, inCh, 1);
        bn(`${p}.downsample.1`, outCh);
      }
    }
    inCh = outCh;
  });
  keys.set('fc.weight', [numClasses, inCh]);
  keys.set('fc.bias', [numClasses]);
  return keys;
}

/** Checks a parsed file against the layout of the ResNet its keys denote, so that loading never fails half-way. */
export function checkResnetLayout(file: SafetensorsFile, depth: ResnetDepth = resnetDepth(file.tensors.keys())): void {
  const numClasses = file.tensors.get('fc.weight')?.shape[0] ?? 1000;
  const expected = resnetKeys(depth, numClasses);
  for (const [key, shape] of expected) {
    const info = file.tensors.get(key);
    if (!info) throw new WeightsError(`missing tensor (not a torchvision/timm ResNet${depth} state dict?)`, key);
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new WeightsError(`dtype ${info.dtype} is not supported (expected F32, F16 or BF16)`, key);
    }
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new WeightsError(`shape [${info.shape.join(', ')}] does not match the expected [${shape.join(', ')}]`, key);
    }
  }
  for (const key of file.tensors.keys()) {
    if (!expected.has(key) && !key.endsWith('num_batches_tracked')) throw new WeightsError(`unexpected tensor (not a ResNet${depth}?)`, key);
  }
  // A variance below 0 has no square root: refuse the file here, not half-way through building the graph.
  for (const key of expected.keys()) {
    if (!key.endsWith('.running_var')) continue;
    const variance = file.float32(key);
    const negative = variance.findIndex((v) => v < 0);
    if (negative >= 0) throw new WeightsError(`negative variance ${variance[negative]} at index ${negative}`, key);
  }
}

/** Checks the ResNet34 layout (the default model's weights). */
export function checkResnet34Layout(file: SafetensorsFile): void {
  checkResnetLayout(file, 34);
}

/**
 * Conv `prefix` with BatchNorm `bnPrefix` folded in: W' = W * s, b' = beta - mean * s, s = gamma / sqrt(var + eps)
 * (float64, rounded once). The weights are read from the file when the graph builds this conv, so a local
 * file is never in memory whole next to the model.
 */
function foldedConv(file: SafetensorsFile, prefix: string, bnPrefix: string): [HostTensor, HostTensor] {
  const dims = file.tensors.get(`${prefix}.weight`)!.shape;
  const out = dims[0]!;
  const scales = (): Float64Array => {
    const [gamma, , , variance] = BN_PARAMS.map((p) => file.float32(`${bnPrefix}.${p}`));
    return Float64Array.from(gamma!, (g, o) => g / Math.sqrt(variance![o]! + BN_EPS));
  };
  const weight: HostTensor = {
    dims,
    int: false,
    get data() {
      // A loop, not Float32Array.from(w, f): V8 would box every value of the mapped copy on the JS heap.
      // Transient: the conv op copies it (transposed) as soon as it reads it, and reads it once.
      const w = file.float32(`${prefix}.weight`, true);
      const s = scales();
      const per = w.length / out;
      for (let o = 0; o < out; o++) for (let i = o * per; i < (o + 1) * per; i++) w[i] = w[i]! * s[o]!;
      return w;
    },
  };
  const bias: HostTensor = {
    dims: [out],
    int: false,
    get data() {
      const [, beta, mean] = BN_PARAMS.map((p) => file.float32(`${bnPrefix}.${p}`));
      const s = scales();
      return Float32Array.from(beta!, (b, o) => b - mean![o]! * s[o]!);
    },
  };
  return [weight, bias];
}

/** The ResNet of a checked state dict as a graph; layers layer1..layer4 (the stages' outputs). */
export function resnetGraph(file: SafetensorsFile, source: string): GraphSpec {
  const depth = resnetDepth(file.tensors.keys());
  checkResnetLayout(file, depth);
  const { blocks, bottleneck } = DEPTHS[depth]!;
  const nodes: OpNode[] = [];
  const constants = new Map<string, HostTensor>();
  const node = (name: string, opType: string, inputs: string[], attrs: Record<string, Attribute> = {}): string => {
    const out = `${name}_output_0`;
    nodes.push({ name, opType, inputs, outputs: [out], attributes: new Map(Object.entries(attrs)), guided: opType === 'Relu' });
    return out;
  };
  const conv = (x: string, scope: string, prefix: string, bnPrefix: string, stride: number): string => {
    const k = file.tensors.get(`${prefix}.weight`)!.shape[2]!;
    const [w, b] = foldedConv(file, prefix, bnPrefix);
    constants.set(`${prefix}.weight`, w);
    constants.set(`${prefix}.bias`, b);
    const p = (k - 1) / 2;
    return node(`${scope}/Conv`, 'Conv', [x, `${prefix}.weight`, `${prefix}.bias`], { kernel_shape: [k, k], strides: [stride, stride], pads: [p, p, p, p] });
  };
  let x = node('/relu/Relu', 'Relu', [conv('input', '/conv1', 'conv1', 'bn1', 2)]);
  x = node('/maxpool/MaxPool', 'MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  const layers: { name: string; value: string }[] = [];
  blocks.forEach((n, si) => {
    for (let b = 0; b < n; b++) {
      const p = `layer${si + 1}.${b}`;
      const scope = `/layer${si + 1}/${p}`;
      const stride = b === 0 && si > 0 ? 2 : 1;
      const input = x;
      const convs = bottleneck ? 3 : 2;
      let y = input;
      for (let c = 1; c <= convs; c++) {
        // torchvision v1.5: the stride sits on the 3x3 conv (conv2 in a Bottleneck, conv1 in a BasicBlock).
        const s = (bottleneck ? c === 2 : c === 1) ? stride : 1;
        y = conv(y, `${scope}/conv${c}`, `${p}.conv${c}`, `${p}.bn${c}`, s);
        if (c < convs) y = node(`${scope}/relu${c > 1 ? `_${c - 1}` : ''}/Relu`, 'Relu', [y]);
      }
      const identity = file.tensors.has(`${p}.downsample.0.weight`) ? conv(input, `${scope}/downsample/downsample.0`, `${p}.downsample.0`, `${p}.downsample.1`, stride) : input;
      x = node(`${scope}/relu_${convs - 1}/Relu`, 'Relu', [node(`${scope}/Add`, 'Add', [y, identity])]);
    }
    layers.push({ name: `layer${si + 1}`, value: x });
  });
  const [classes, features] = file.tensors.get('fc.weight')!.shape as [number, number];
  constants.set('fc.weight', { dims: [classes, features], int: false, get data() { return file.float32('fc.weight'); } });
  constants.set('fc.bias', { dims: [classes], int: false, get data() { return file.float32('fc.bias'); } });
  const pooled = node('/flatten/Flatten', 'Flatten', [node('/avgpool/GlobalAveragePool', 'GlobalAveragePool', [x])], { axis: 1 });
  nodes.push({ name: '/fc/Gemm', opType: 'Gemm', inputs: [pooled, 'fc.weight', 'fc.bias'], outputs: ['logits'], attributes: new Map([['transB', 1]]) });
  return { source, nodes, constants, input: 'input', output: 'logits', layers };
}
