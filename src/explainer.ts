import { tf, type Tensor4D } from './tf.js';
import { DisposedError, GradcamError, InvalidInputError, LayerNotFoundError, TargetOutOfRangeError } from './errors.js';
import { KerasCnn } from './models/keras/model.js';
import { artifactsFromLayersModel, isLayersModelLike, loadKerasArtifacts, type LayersModelLike } from './models/keras/loader.js';
import type { ExplainableModel, Gradients } from './models/types.js';
import { CAM_METHODS, type CamMethodName } from './methods/index.js';
import { rawCam } from './methods/types.js';
import type { Kernels } from './kernels/types.js';
import { nchwToNhwc, normalizePixels, type ModelInput, type Preprocessing } from './image/preprocess.js';
import { loadKernels, startBackend, type RuntimeInfo, type RuntimeOptions } from './runtime/index.js';
import type { EngineContext } from './ops/types.js';
import { OPS } from './ops/registry.js';
import { GraphModel } from './graph/model.js';
import { loadOnnx } from './importers/onnx/load.js';
import { onnxGraph } from './importers/onnx/graph.js';
import { resnetModel } from './models/resnet34.js';
import { chooseLabels, labelsBeside } from './models/labels.js';
import { parseSafetensors } from './weights/safetensors.js';
import { openLocalFile, readBytes, type BytesSource } from './runtime/io.js';

export interface CreateExplainerOptions extends RuntimeOptions {
  /**
   * 'resnet34' (the default; needs `weights`: a torchvision ResNet 18/34/50/101/152, the depth read from
   * the keys); an ONNX model (a '.onnx' path or URL,
   * or its bytes; external-data files are read from beside it); or the path/URL of a TF.js layers
   * model's model.json (Keras CNNs such as MobileNet; weights come from its shards).
   */
  readonly model?: 'resnet34' | string | URL | Uint8Array | LayersModelLike;
  /** For resnet34: safetensors weights with torchvision/timm key names, as a path, a URL or the bytes. */
  readonly weights?: BytesSource;
  /** How RGB pixels are normalised: 'imagenet' (mean/std, default; what PyTorch models expect) or 'tf' (x/127.5 - 1). Tensor inputs are used as given. */
  readonly preprocess?: Preprocessing;
  /** Class names: for an ONNX model or an in-memory layers model (default: ImageNet's for 1000 classes; file layers models read metadata.json). */
  readonly labels?: readonly string[];
  /** Largest accepted input (H*W); default 1536*1536. Activations grow with it (about 600 bytes per pixel). */
  readonly maxInputPixels?: number;
}

export interface ExplainOptions {
  /** Target layers; default: the last one. */
  readonly layers?: readonly string[];
  /** Class index whose logit is explained; default: the top-1 class. */
  readonly target?: number;
  /** Also compute guided backpropagation and Guided Grad-CAM; default false. */
  readonly guided?: boolean;
  /** CAM method; default 'gradcam'. */
  readonly method?: CamMethodName;
}

export interface LayerCam {
  /** Normalised map at input resolution, in [0, 1], row-major H*W (pytorch-grad-cam's output for this layer alone). */
  readonly map: Float32Array;
  /** Unscaled max(0, sum_c w_c A_c) at the layer's resolution, h*w. */
  readonly raw: Float32Array;
  readonly rawWidth: number;
  readonly rawHeight: number;
}

export interface Explanation {
  readonly target: number;
  readonly logits: Float32Array;
  /** Input size; every full-resolution map is width*height (x3 for HWC colour arrays). */
  readonly width: number;
  readonly height: number;
  readonly cams: Readonly<Record<string, LayerCam>>;
  /** All requested layers aggregated as pytorch-grad-cam does with several target layers (mean, then min-max). */
  readonly combined: Float32Array;
  /** d(logit)/d(normalised input), HWC float32 (with guided: true). */
  readonly guided?: Float32Array;
  /** guided x each layer's map, HWC float32 (with guided: true). */
  readonly guidedGradCam?: Readonly<Record<string, Float32Array>>;
}

export interface Explainer {
  readonly layers: readonly string[];
  /** The layers explain() uses by default. */
  readonly defaultLayers: readonly string[];
  readonly numClasses: number;
  /** Class names, when the model has them (ImageNet names for resnet34, metadata.json labels otherwise). */
  readonly labels: readonly string[] | undefined;
  readonly runtime: RuntimeInfo;
  explain(input: ModelInput, options?: ExplainOptions): Promise<Explanation>;
  /** Logits only (one forward pass). */
  predict(input: ModelInput): Promise<Float32Array>;
  dispose(): void;
}

const DEFAULT_MAX_PIXELS = 1536 * 1536;

export async function createExplainer(options: CreateExplainerOptions): Promise<Explainer> {
  if (options === null || typeof options !== 'object') throw new InvalidInputError('createExplainer needs an options object');
  const { model = 'resnet34', preprocess = 'imagenet' } = options;
  if (preprocess !== 'imagenet' && preprocess !== 'tf') throw new InvalidInputError(`unknown preprocess '${String(preprocess)}'; use 'imagenet' or 'tf'`);
  const isOnnx = model instanceof Uint8Array || ((typeof model === 'string' || model instanceof URL) && /\.onnx$/i.test(model instanceof URL ? model.pathname : model));
  const inMemory = !isOnnx && isLayersModelLike(model);
  const isLayersModel = !isOnnx && (inMemory || model instanceof URL || (typeof model === 'string' && model.endsWith('.json')));
  if (!isOnnx && !isLayersModel && model !== 'resnet34') {
    throw new GradcamError('UNSUPPORTED', `unknown model '${String(model)}'; use 'resnet34', an ONNX model ('.onnx' path or URL, or bytes) or the path/URL of a TF.js model.json`);
  }
  if (!isOnnx && !isLayersModel && options.weights === undefined) throw new InvalidInputError('resnet34 needs weights (a safetensors path, URL or bytes)');
  const [backend, kernels] = await Promise.all([startBackend(options), loadKernels(options)]);
  const info = backend.info;
  const explainable = isOnnx
    ? await loadOnnxModel(model as BytesSource, { heap: backend.heap, ops: OPS }, options.labels)
    : inMemory
    ? new KerasCnn(await artifactsFromLayersModel(model, options.labels), { heap: backend.heap, ops: OPS })
    : isLayersModel
    ? new KerasCnn(await loadKerasArtifacts(model as string | URL), { heap: backend.heap, ops: OPS })
    : await loadResnet(options.weights!, { heap: backend.heap, ops: OPS });
  return new Engine(explainable, kernels, info, preprocess, options.maxInputPixels ?? DEFAULT_MAX_PIXELS);
}

/** An ONNX model; labels: the given ones, else a `<model>.labels.json` beside it, else ImageNet's for 1000 classes. */
async function loadOnnxModel(source: BytesSource, ctx: EngineContext, given: readonly string[] | undefined): Promise<GraphModel> {
  const { spec, requiredInputSize } = onnxGraph(await loadOnnx(source));
  const beside = given === undefined && (typeof source === 'string' || source instanceof URL) ? await labelsBeside(source) : undefined;
  const model = GraphModel.create(spec, ctx, { labels: given ?? beside, requiredInputSize });
  try {
    chooseLabels(given, beside, model.numClasses); // a count that does not match is an error
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** A local weights file is read tensor by tensor, so the whole file is never in memory next to the model. */
async function loadResnet(weights: BytesSource, ctx: EngineContext): Promise<GraphModel> {
  const file = await openLocalFile(weights, 'weights');
  const name = typeof weights === 'string' ? weights : weights instanceof URL ? weights.href : 'weights';
  const build = (source: Uint8Array | NonNullable<typeof file>) => resnetModel(parseSafetensors(source), name, ctx);
  if (!file) return build(await readBytes(weights, 'weights'));
  try {
    return build(file);
  } finally {
    file.close();
  }
}

class Engine implements Explainer {
  private disposed = false;
  constructor(
    private readonly model: ExplainableModel,
    private readonly kernels: Kernels,
    readonly runtime: RuntimeInfo,
    private readonly preprocess: Preprocessing,
    private readonly maxPixels: number,
  ) {}

  get layers(): readonly string[] {
    return this.model.layers;
  }
  get numClasses(): number {
    return this.model.numClasses;
  }
  get labels(): readonly string[] | undefined {
    return this.model.labels;
  }
  get defaultLayers(): readonly string[] {
    return this.model.defaultLayers;
  }

  async predict(input: ModelInput): Promise<Float32Array> {
    this.checkAlive();
    const x = this.toTensor(input);
    const pass = this.model.forward(x);
    try {
      return (await pass.logits.data()) as Float32Array;
    } finally {
      pass.dispose();
      x.dispose();
    }
  }

  async explain(input: ModelInput, options: ExplainOptions = {}): Promise<Explanation> {
    this.checkAlive();
    const layers = this.checkLayers(options.layers);
    const methodName = options.method ?? 'gradcam';
    const method = CAM_METHODS[methodName];
    if (!method) throw new InvalidInputError(`unknown method '${methodName}'; available: ${Object.keys(CAM_METHODS).join(', ')}`);
    if (options.target !== undefined) this.checkTarget(options.target);
    const guided = options.guided ?? false;

    const x = this.toTensor(input);
    const [, height, width] = x.shape;
    const pass = this.model.forward(x, layers);
    const owned: Gradients[] = [];
    try {
      const logits = (await pass.logits.data()) as Float32Array;
      const target = options.target ?? argmax(logits);
      const seed = oneHot(target, this.model.numClasses);
      const grads = method.needsGradients ? this.model.gradients(pass, { seed, layers, guided: false, toInput: false }) : undefined;
      if (grads) owned.push(grads);

      const cams: Record<string, LayerCam> = {};
      const resized: Float32Array[] = [];
      for (const layer of layers) {
        const act = pass.activation(layer);
        const [, h, w, c] = act.shape;
        const raw = rawCam(method, {
          activations: (await act.data()) as Float32Array,
          gradients: grads ? ((await grads.layers[layer]!.data()) as Float32Array) : new Float32Array(0),
          positions: h * w,
          channels: c,
        }, this.kernels);
        const up = this.kernels.resizeBilinear(this.kernels.minMaxNormalize(raw), h, w, height, width, 1);
        resized.push(up);
        cams[layer] = { map: this.aggregate([up]), raw, rawWidth: w, rawHeight: h };
      }
      const combined = layers.length === 1 ? cams[layers[0]!]!.map : this.aggregate(resized);

      if (!guided) return { target, logits, width, height, cams, combined };
      const g = this.model.gradients(pass, { seed, layers: [], guided: true, toInput: true });
      owned.push(g);
      const gb = (await g.input!.data()) as Float32Array;
      const guidedGradCam = Object.fromEntries(layers.map((l) => [l, this.kernels.guidedProduct(gb, cams[l]!.map)]));
      return { target, logits, width, height, cams, combined, guided: gb, guidedGradCam };
    } finally {
      pass.dispose();
      x.dispose();
      for (const g of owned) tf.dispose([...Object.values(g.layers), ...(g.input ? [g.input] : [])]);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }

  /** pytorch-grad-cam's aggregation: mean of max(map, 0) over layers, then min-max again. */
  private aggregate(maps: Float32Array[]): Float32Array {
    return this.kernels.minMaxNormalize(this.kernels.meanRelu(maps));
  }

  private checkAlive(): void {
    if (this.disposed) throw new DisposedError('this explainer');
  }

  private checkLayers(requested: readonly string[] | undefined): string[] {
    if (requested === undefined) return [...this.model.defaultLayers];
    if (!Array.isArray(requested) || requested.length === 0) throw new InvalidInputError('layers must be a non-empty array of layer names');
    const known = (l: string) => (this.model.hasLayer ? this.model.hasLayer(l) : this.model.layers.includes(l));
    for (const l of requested) if (typeof l !== 'string' || !known(l)) throw new LayerNotFoundError(String(l), this.model.layers);
    return [...new Set(requested)];
  }

  private checkTarget(target: number): void {
    if (!Number.isInteger(target) || target < 0 || target >= this.model.numClasses) throw new TargetOutOfRangeError(target, this.model.numClasses);
  }

  private toTensor(input: ModelInput): Tensor4D {
    if (input === null || typeof input !== 'object') throw new InvalidInputError('input must be pixels {data, width, height} or a tensor {tensor, shape}');
    let data: Float32Array;
    let height: number;
    let width: number;
    if ('tensor' in input) {
      ({ data, height, width } = nchwToNhwc(input));
    } else if ('data' in input) {
      ({ height, width } = input);
      data = normalizePixels(input, this.preprocess);
    } else {
      throw new InvalidInputError('input must be pixels {data, width, height} or a tensor {tensor, shape}');
    }
    const required = this.model.requiredInputSize;
    if (required && (height !== required[0] || width !== required[1])) {
      throw new InvalidInputError(`input ${width}x${height} does not fit this model, which takes exactly ${required[1]}x${required[0]}`);
    }
    const min = this.model.minInputSize;
    if (height < min || width < min) throw new InvalidInputError(`input ${width}x${height} is too small; both sides must be at least ${min}`);
    if (height * width > this.maxPixels) {
      throw new InvalidInputError(`input ${width}x${height} has more than maxInputPixels (${this.maxPixels}) pixels; resize it or raise the limit`);
    }
    return tf.tensor4d(data, [1, height, width, 3]);
  }
}

function oneHot(index: number, n: number): Float32Array {
  const v = new Float32Array(n);
  v[index] = 1;
  return v;
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
