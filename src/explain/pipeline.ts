import { tf, type Tensor, type Tensor4D } from '../tf.js';
import type { ExplainableModel, ForwardPass, GradientRequest, Gradients } from '../models/types.js';
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
  /**
   * Per image of the batch, its targets (the same number for every image: several for one image, one per
   * image for a batch). Classes still undefined are that image's top-1 class (of the unaugmented input).
   */
  readonly targets: readonly (readonly ResolvedTarget[])[];
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
 * Explains a batch of normalised inputs [N, H, W, 3]: one forward pass of the batch (six with augSmooth),
 * then per round (the r-th target of every image) one gradient pass of the batch, each image seeded with its
 * own target, and the maps of each image. With augSmooth each map is the mean of the six de-augmented
 * normalised maps (not normalised again); raw maps and guided gradients come from the unaugmented input.
 * Returns, image by image, one Explanation per target of that image.
 */
export async function explainTensor(model: ExplainableModel, kernels: Kernels, x: Tensor4D, o: PipelineOptions, work: Work): Promise<Explanation[]> {
  const [n, height, width] = x.shape;
  const rounds = o.targets[0]!.length;
  const augmentations = o.augSmooth ? AUGMENTATIONS : AUGMENTATIONS.slice(0, 1);
  let logits!: Float32Array[];
  let targets!: ResolvedTarget[][]; // [image][round]
  const maps: PassMaps[][][] = []; // [augmentation][image][round]
  for (const [a, { flip, factor }] of augmentations.entries()) {
    const xa = a === 0 ? x : tf.tidy(() => tf.mul(flip ? tf.reverse(x, 2) : x, factor) as Tensor4D);
    const pass = model.forward(xa);
    try {
      if (a === 0) {
        const all = (await pass.logits.data()) as Float32Array;
        const k = all.length / n;
        logits = Array.from({ length: n }, (_, i) => all.slice(i * k, (i + 1) * k));
        targets = o.targets.map((ts, i) => ts.map((t) => (t.class === undefined && t.score !== 'custom' ? { ...t, class: argmax(logits[i]!) } : t)));
        work.total = augmentations.length * rounds * n * units(pass, o);
      }
      const perImage: PassMaps[][] = targets.map(() => []);
      for (let r = 0; r < rounds; r++) {
        const ms = await passMaps(model, kernels, pass, targets.map((ts) => ts[r]!), o, work, a === 0 && o.guided);
        ms.forEach((m, i) => perImage[i]!.push(flip ? flipMaps(m, width, height) : m));
      }
      maps.push(perImage);
    } finally {
      pass.dispose();
      if (xa !== x) xa.dispose();
    }
    work.check();
  }
  return targets.flatMap((ts, i) =>
    ts.map((t, r) => {
      const identity = maps[0]![i]![r]!;
      const cams: Record<string, LayerCam> = {};
      for (const [layer, cam] of Object.entries(identity.cams)) cams[layer] = { ...cam, map: mean(maps.map((m) => m[i]![r]!.cams[layer]!.map)) };
      const combined = maps.length === 1 ? identity.combined : mean(maps.map((m) => m[i]![r]!.combined));
      const e = { target: t.class, score: t.score, logits: logits[i]!, width, height, cams, combined };
      if (!identity.guided) return e;
      const gb = identity.guided;
      return { ...e, guided: gb, guidedGradCam: Object.fromEntries(Object.entries(cams).map(([l, c]) => [l, kernels.guidedProduct(gb, c.map)])) };
    }),
  );
}

/** Units of progress per image, target and pass: a rerun method's channels, one per layer otherwise. */
function units(pass: ForwardPass, o: PipelineOptions): number {
  if (o.method.wholeModel) return 1;
  return o.layers.reduce((n, l) => n + (o.method.reruns ? pass.activation(l).shape[3] : 1), 0);
}

/** Image i's part of a batch tensor's data (the batch is the first axis). */
const item = (data: Float32Array, n: number, i: number): Float32Array => {
  const size = data.length / n;
  return n === 1 ? data : data.subarray(i * size, (i + 1) * size);
};

/** Image i of a batch tensor, as a batch of one (the tensor itself when N = 1); the caller disposes a slice. */
const slice = <T extends Tensor>(t: T, i: number): T => (t.shape[0] === 1 ? t : (tf.slice(t, i, 1) as T));

/** The maps of one target per image on one forward pass of the batch: one gradient pass for all images. */
async function passMaps(model: ExplainableModel, kernels: Kernels, pass: ForwardPass, targets: readonly ResolvedTarget[], o: PipelineOptions, work: Work, guided: boolean): Promise<PassMaps[]> {
  const [n, height, width] = pass.input.shape;
  const owned: Tensor[] = [];
  /** Image i of a pass tensor (disposed at the end when it is a slice). */
  const part = <T extends Tensor>(t: T, i: number): T => {
    const s = slice(t, i);
    if (s !== t) owned.push(s);
    return s;
  };
  try {
    // Each image's d(score)/d(logits), side by side; also validates a custom score function before any long work.
    const classes = pass.logits.shape[1];
    const seed = new Float32Array(n * classes);
    targets.forEach((t, i) => {
      seed.set(seedFor(t, part(pass.logits, i)), i * classes);
    });
    /** Gradient passes over this forward pass, run together where the model can (the same results). */
    const gradients = (...requests: Omit<GradientRequest, 'seed'>[]): Gradients[] => {
      if (requests.length === 0) return [];
      const reqs = requests.map((r) => ({ seed, ...r }));
      const gs = model.gradientPasses ? model.gradientPasses(pass, reqs) : reqs.map((r) => model.gradients(pass, r));
      for (const g of gs) owned.push(...gradientTensors(g));
      return gs;
    };
    const guidedRequest = { layers: [], guided: true, toInput: true };
    let guidedPass: Gradients | undefined;
    const cams: Record<string, LayerCam>[] = targets.map(() => ({}));
    const resized: Float32Array[][] = targets.map(() => []);
    if (o.method.wholeModel) {
      const g = gradients({ layers: [], guided: false, toInput: true, biasGradients: true })[0]!;
      const biases = await Promise.all(g.biases!.map(async ({ bias, grad }) => ({ bias, grad: (await grad.data()) as Float32Array, height: grad.shape[1], width: grad.shape[2] })));
      const [input, inputGradient] = [(await pass.input.data()) as Float32Array, (await g.input!.data()) as Float32Array];
      for (let i = 0; i < n; i++) {
        const arrays = { input: item(input, n, i), inputGradient: item(inputGradient, n, i), width, height, biases: biases.map((b) => ({ ...b, grad: item(b.grad, n, i) })) };
        const map = o.method.wholeModel(arrays, kernels);
        cams[i]![o.method.name] = { map, raw: map, rawWidth: width, rawHeight: height };
        resized[i]!.push(map);
        await work.advance(1);
      }
    } else {
      // The layers' gradients and the guided ones in one call: the model may run both passes as one.
      const both = gradients(...(o.method.needsGradients ? [{ layers: o.layers, guided: false, toInput: false }] : []), ...(guided ? [guidedRequest] : []));
      const g = o.method.needsGradients ? both[0] : undefined;
      if (guided) guidedPass = both.at(-1);
      for (const layer of o.layers) {
        const activation = pass.activation(layer);
        const [, h, w, c] = activation.shape;
        const acts = (await activation.data()) as Float32Array;
        const grads = g ? ((await g.layers[layer]!.data()) as Float32Array) : undefined;
        for (let i = 0; i < n; i++) {
          const arrays = { activations: item(acts, n, i), gradients: grads ? item(grads, n, i) : new Float32Array(0), positions: h * w, channels: c };
          const t = targets[i]!;
          const rerun: RerunContext = {
            model,
            layer,
            input: part(pass.input, i),
            activation: part(activation, i),
            logits: part(pass.logits, i),
            scores: (l) => scoresFor(t, l),
            advance: (k) => work.advance(k),
          };
          const raw = await rawCam(o.method, arrays, kernels, rerun, o.eigenSmooth);
          if (!o.method.reruns) await work.advance(1);
          const up = kernels.resizeBilinear(kernels.minMaxNormalize(raw), h, w, height, width, 1);
          resized[i]!.push(up);
          cams[i]![layer] = { map: aggregate(kernels, [up]), raw, rawWidth: w, rawHeight: h };
        }
      }
    }
    if (guided) guidedPass ??= gradients(guidedRequest)[0]!;
    const gb = guidedPass ? ((await guidedPass.input!.data()) as Float32Array) : undefined;
    return targets.map((_, i) => {
      const combined = resized[i]!.length === 1 ? Object.values(cams[i]!)[0]!.map : aggregate(kernels, resized[i]!);
      // A copy: an Explanation's arrays own their buffers (transferable, not views of the batch's).
      return gb ? { cams: cams[i]!, combined, guided: n === 1 ? gb : item(gb, n, i).slice() } : { cams: cams[i]!, combined };
    });
  } finally {
    tf.dispose(owned);
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
