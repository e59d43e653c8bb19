import { tf, type Tensor4D } from '../tf.js';
import type { ExplainableModel, ForwardPass, Gradients } from '../models/types.js';
import { gradientTensors } from '../models/types.js';
import type { CamMethod, RerunContext } from '../methods/types.js';
import { rawCam } from '../methods/raw.js';
import type { Kernels } from '../kernels/types.js';
import { scoresFor, seedFor, type ResolvedTarget, type ScoreKind } from '../targets/index.js';
import type { Work } from '../work.js';

export interface LayerCam {
  /** Normalised map at input resolution, in [0, 1], row-major H*W (pytorch-grad-cam's output for this layer alone). */
  readonly map: Float32Array;
  /** Unscaled max(0, sum_c w_c A_c) at the layer's resolution, h*w (FullGrad: its map at input resolution). */
  readonly raw: Float32Array;
  readonly rawWidth: number;
  readonly rawHeight: number;
}

export interface Explanation {
  /** The explained class; undefined for a custom score function. */
  readonly target: number | undefined;
  /** What was differentiated: the class's logit, its softmax probability, or a custom score. */
  readonly score: ScoreKind;
  readonly logits: Float32Array;
  /** Input size; every full-resolution map is width*height (x3 for HWC colour arrays). */
  readonly width: number;
  readonly height: number;
  /** One entry per target layer ('fullgrad' for FullGrad, which has none). */
  readonly cams: Readonly<Record<string, LayerCam>>;
  /** All requested layers aggregated as pytorch-grad-cam does with several target layers (mean, then min-max). */
  readonly combined: Float32Array;
  /** d(score)/d(normalised input), HWC float32 (with guided: true). */
  readonly guided?: Float32Array;
  /** guided x each layer's map, HWC float32 (with guided: true). */
  readonly guidedGradCam?: Readonly<Record<string, Float32Array>>;
}

export interface PipelineOptions {
  readonly layers: readonly string[];
  readonly method: CamMethod;
  /** Classes still undefined are the top-1 class of the (unaugmented) input. */
  readonly targets: readonly ResolvedTarget[];
  readonly guided: boolean;
  readonly eigenSmooth: boolean;
  readonly augSmooth: boolean;
}

/** pytorch-grad-cam's aug_smooth: horizontal flip (off, on) x input multiplied by 0.9, 1, 1.1; the identity first. */
const AUGMENTATIONS = [
  { flip: false, factor: 1 },
  { flip: false, factor: 0.9 },
  { flip: false, factor: 1.1 },
  { flip: true, factor: 0.9 },
  { flip: true, factor: 1 },
  { flip: true, factor: 1.1 },
] as const;

interface PassMaps {
  readonly cams: Record<string, LayerCam>;
  readonly combined: Float32Array;
  readonly guided?: Float32Array;
}

/**
 * Explains a normalised input [1, H, W, 3] for every target: one forward pass (six with augSmooth), then per
 * target its gradient pass and maps. With augSmooth each map is the mean of the six de-augmented normalised
 * maps (not normalised again); raw maps and guided gradients come from the unaugmented input.
 */
export async function explainTensor(model: ExplainableModel, kernels: Kernels, x: Tensor4D, o: PipelineOptions, work: Work): Promise<Explanation[]> {
  const [, height, width] = x.shape;
  const augmentations = o.augSmooth ? AUGMENTATIONS : AUGMENTATIONS.slice(0, 1);
  let logits!: Float32Array;
  let targets!: ResolvedTarget[];
  const maps: PassMaps[][] = []; // [augmentation][target]
  for (const [a, { flip, factor }] of augmentations.entries()) {
    const xa = a === 0 ? x : tf.tidy(() => tf.mul(flip ? tf.reverse(x, 2) : x, factor) as Tensor4D);
    const pass = model.forward(xa);
    try {
      if (a === 0) {
        logits = (await pass.logits.data()) as Float32Array;
        targets = o.targets.map((t) => (t.class === undefined && t.score !== 'custom' ? { ...t, class: argmax(logits) } : t));
        work.total = augmentations.length * targets.length * units(pass, o);
      }
      const perTarget: PassMaps[] = [];
      for (const t of targets) {
        const m = await passMaps(model, kernels, pass, t, o, work, a === 0 && o.guided);
        perTarget.push(flip ? flipMaps(m, width, height) : m);
      }
      maps.push(perTarget);
    } finally {
      pass.dispose();
      if (xa !== x) xa.dispose();
    }
    work.check();
  }
  return targets.map((t, i) => {
    const identity = maps[0]![i]!;
    const cams: Record<string, LayerCam> = {};
    for (const [layer, cam] of Object.entries(identity.cams)) cams[layer] = { ...cam, map: mean(maps.map((m) => m[i]!.cams[layer]!.map)) };
    const combined = maps.length === 1 ? identity.combined : mean(maps.map((m) => m[i]!.combined));
    const e = { target: t.class, score: t.score, logits, width, height, cams, combined };
    if (!identity.guided) return e;
    const gb = identity.guided;
    return { ...e, guided: gb, guidedGradCam: Object.fromEntries(Object.entries(cams).map(([l, c]) => [l, kernels.guidedProduct(gb, c.map)])) };
  });
}

/** Units of progress per target and pass: a rerun method's channels, one per layer otherwise. */
function units(pass: ForwardPass, o: PipelineOptions): number {
  if (o.method.wholeModel) return 1;
  return o.layers.reduce((n, l) => n + (o.method.reruns ? pass.activation(l).shape[3] : 1), 0);
}

/** The maps of one target on one forward pass. */
async function passMaps(model: ExplainableModel, kernels: Kernels, pass: ForwardPass, target: ResolvedTarget, o: PipelineOptions, work: Work, guided: boolean): Promise<PassMaps> {
  const [, height, width] = pass.input.shape;
  // Also validates a custom score function before any long work.
  const seed = seedFor(target, pass.logits);
  const owned: Gradients[] = [];
  const gradients = (request: Omit<Parameters<ExplainableModel['gradients']>[1], 'seed'>): Gradients => {
    const g = model.gradients(pass, { seed, ...request });
    owned.push(g);
    return g;
  };
  try {
    const cams: Record<string, LayerCam> = {};
    const resized: Float32Array[] = [];
    if (o.method.wholeModel) {
      const g = gradients({ layers: [], guided: false, toInput: true, biasGradients: true });
      const biases = await Promise.all(g.biases!.map(async ({ bias, grad }) => ({ bias, grad: (await grad.data()) as Float32Array, height: grad.shape[1], width: grad.shape[2] })));
      const input = (await pass.input.data()) as Float32Array;
      const map = o.method.wholeModel({ input, inputGradient: (await g.input!.data()) as Float32Array, width, height, biases }, kernels);
      cams[o.method.name] = { map, raw: map, rawWidth: width, rawHeight: height };
      resized.push(map);
      await work.advance(1);
    } else {
      const g = o.method.needsGradients ? gradients({ layers: o.layers, guided: false, toInput: false }) : undefined;
      for (const layer of o.layers) {
        const activation = pass.activation(layer);
        const [, h, w, c] = activation.shape;
        const arrays = {
          activations: (await activation.data()) as Float32Array,
          gradients: g ? ((await g.layers[layer]!.data()) as Float32Array) : new Float32Array(0),
          positions: h * w,
          channels: c,
        };
        const rerun: RerunContext = { model, layer, input: pass.input, activation, logits: pass.logits, scores: (l) => scoresFor(target, l), advance: (n) => work.advance(n) };
        const raw = await rawCam(o.method, arrays, kernels, rerun, o.eigenSmooth);
        if (!o.method.reruns) await work.advance(1);
        const up = kernels.resizeBilinear(kernels.minMaxNormalize(raw), h, w, height, width, 1);
        resized.push(up);
        cams[layer] = { map: aggregate(kernels, [up]), raw, rawWidth: w, rawHeight: h };
      }
    }
    const combined = resized.length === 1 ? Object.values(cams)[0]!.map : aggregate(kernels, resized);
    if (!guided) return { cams, combined };
    const gb = gradients({ layers: [], guided: true, toInput: true });
    return { cams, combined, guided: (await gb.input!.data()) as Float32Array };
  } finally {
    for (const g of owned) tf.dispose(gradientTensors(g));
  }
}

/** pytorch-grad-cam's aggregation: mean of max(map, 0) over layers, then min-max again. */
const aggregate = (kernels: Kernels, maps: Float32Array[]): Float32Array => kernels.minMaxNormalize(kernels.meanRelu(maps));

function flipMaps(m: PassMaps, width: number, height: number): PassMaps {
  const flip = (map: Float32Array) => {
    const out = new Float32Array(map.length);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = map[y * width + width - 1 - x]!;
    return out;
  };
  const cams = Object.fromEntries(Object.entries(m.cams).map(([l, c]) => [l, { ...c, map: flip(c.map) }]));
  return { cams, combined: flip(m.combined) };
}

/** Element-wise mean of maps, in float32 as NumPy's mean of a float32 stack. */
function mean(maps: readonly Float32Array[]): Float32Array {
  if (maps.length === 1) return maps[0]!;
  const out = new Float32Array(maps[0]!.length);
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (const m of maps) s += m[i]!;
    out[i] = s / maps.length;
  }
  return out;
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
