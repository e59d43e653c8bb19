import { tf, type Tensor4D } from './tf.js';
import { DisposedError, GradcamError, InvalidInputError, LayerNotFoundError } from './errors.js';
import { ResNet34 } from './models/resnet34.js';
import { KerasCnn } from './models/keras/model.js';
import { artifactsFromLayersModel, isLayersModelLike, loadKerasArtifacts, type LayersModelLike } from './models/keras/loader.js';
import type { ExplainableModel } from './models/types.js';
import { CAM_METHODS, type CamMethodName } from './methods/index.js';
import { explainTensor, type Explanation, type PipelineOptions } from './explain/pipeline.js';
import { checkTarget, type Target } from './targets/index.js';
import { checkWorkOptions, Work, type WorkOptions } from './work.js';
import type { Kernels } from './kernels/types.js';
import { nchwToNhwc, normalizePixels, type ModelInput, type Preprocessing } from './image/preprocess.js';
import { initBackend, loadKernels, type RuntimeInfo, type RuntimeOptions } from './runtime/index.js';
import { openLocalFile, readBytes, type BytesSource } from './runtime/io.js';

export type { Explanation, LayerCam } from './explain/pipeline.js';

export interface CreateExplainerOptions extends RuntimeOptions {
  /**
   * 'resnet34' (torchvision layout, the default; needs `weights`), or the path/URL of a TF.js layers
   * model's model.json (Keras CNNs such as MobileNet; weights come from its shards).
   */
  readonly model?: 'resnet34' | string | URL | LayersModelLike;
  /** For resnet34: safetensors weights with torchvision/timm key names, as a path, a URL or the bytes. */
  readonly weights?: BytesSource;
  /** How RGB pixels are normalised: 'imagenet' (mean/std, default) or 'tf' (x/127.5 - 1). Tensor inputs are used as given. */
  readonly preprocess?: Preprocessing;
  /** Class names for an in-memory layers model (file models read them from metadata.json). */
  readonly labels?: readonly string[];
  /** Largest accepted input (H*W); default 1536*1536. Activations grow with it (about 600 bytes per pixel). */
  readonly maxInputPixels?: number;
}

export interface ExplainOptions extends WorkOptions {
  /** Target layers; default: the last one. Ignored by FullGrad, which uses every bias. */
  readonly layers?: readonly string[];
  /** What is explained: a class index (its logit), { class, score: 'softmax' }, or { score: fn }; default: the top-1 logit. */
  readonly target?: Target;
  /** Also compute guided backpropagation and Guided Grad-CAM; default false. */
  readonly guided?: boolean;
  /** CAM method; default 'gradcam'. */
  readonly method?: CamMethodName;
  /** Replace the sum over channels by its first principal component (methods with channel weights or terms); default false. */
  readonly eigenSmooth?: boolean;
  /** Mean of the maps over horizontal flip x input scale 0.9, 1, 1.1 (six passes); default false. */
  readonly augSmooth?: boolean;
}

/**
 * Several targets explained from ONE forward pass: explain() then resolves to one Explanation per
 * target, in order (each still needs its own gradient pass).
 */
export type ExplainManyOptions = Omit<ExplainOptions, 'target'> & { readonly targets: readonly Target[] };

export interface Explainer {
  readonly layers: readonly string[];
  /** The layers explain() uses by default. */
  readonly defaultLayers: readonly string[];
  readonly numClasses: number;
  /** Class names, when the model has them (ImageNet names for resnet34, metadata.json labels otherwise). */
  readonly labels: readonly string[] | undefined;
  readonly runtime: RuntimeInfo;
  /** One target (default: the top-1 class): one Explanation. */
  explain(input: ModelInput, options?: ExplainOptions): Promise<Explanation>;
  /** `targets: [...]`: one Explanation per target, in order, from one forward pass. */
  explain(input: ModelInput, options: ExplainManyOptions): Promise<Explanation[]>;
  /** Logits only (one forward pass). */
  predict(input: ModelInput): Promise<Float32Array>;
  dispose(): void;
}

const DEFAULT_MAX_PIXELS = 1536 * 1536;

export async function createExplainer(options: CreateExplainerOptions): Promise<Explainer> {
  if (options === null || typeof options !== 'object') throw new InvalidInputError('createExplainer needs an options object');
  const { model = 'resnet34', preprocess = 'imagenet' } = options;
  if (preprocess !== 'imagenet' && preprocess !== 'tf') throw new InvalidInputError(`unknown preprocess '${String(preprocess)}'; use 'imagenet' or 'tf'`);
  const inMemory = isLayersModelLike(model);
  const isLayersModel = inMemory || model instanceof URL || (typeof model === 'string' && model.endsWith('.json'));
  if (!isLayersModel && model !== 'resnet34') {
    throw new GradcamError('UNSUPPORTED', `unknown model '${String(model)}'; use 'resnet34' or the path/URL of a TF.js model.json`);
  }
  if (!isLayersModel && options.weights === undefined) throw new InvalidInputError('resnet34 needs weights (a safetensors path, URL or bytes)');
  const [info, kernels] = await Promise.all([initBackend(options), loadKernels(options)]);
  const explainable = inMemory
    ? new KerasCnn(await artifactsFromLayersModel(model, options.labels))
    : isLayersModel
    ? new KerasCnn(await loadKerasArtifacts(model as string | URL))
    : await loadResnet34(options.weights!);
  return new Engine(explainable, kernels, info, preprocess, options.maxInputPixels ?? DEFAULT_MAX_PIXELS);
}

/** A local weights file is read tensor by tensor, so the whole file is never in memory next to the model. */
async function loadResnet34(weights: BytesSource): Promise<ResNet34> {
  const file = await openLocalFile(weights, 'weights');
  if (!file) return ResNet34.fromSafetensors(await readBytes(weights, 'weights'));
  try {
    return ResNet34.fromSafetensors(file);
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

  explain(input: ModelInput, options?: ExplainOptions): Promise<Explanation>;
  explain(input: ModelInput, options: ExplainManyOptions): Promise<Explanation[]>;
  async explain(input: ModelInput, options: ExplainOptions | ExplainManyOptions = {}): Promise<Explanation | Explanation[]> {
    this.checkAlive();
    if (options === null || typeof options !== 'object') throw new InvalidInputError('explain options must be an object');
    const pipeline = this.pipelineOptions(options);
    checkWorkOptions(options);
    const work = new Work(options);
    work.check();
    const x = this.toTensor(input);
    try {
      const explanations = await explainTensor(this.model, this.kernels, x, pipeline, work);
      return 'targets' in options && options.targets !== undefined ? explanations : explanations[0]!;
    } finally {
      x.dispose();
    }
  }

  private pipelineOptions(options: ExplainOptions & { readonly targets?: readonly Target[] }): PipelineOptions {
    const methodName = options.method ?? 'gradcam';
    const method = Object.hasOwn(CAM_METHODS, methodName) ? CAM_METHODS[methodName] : undefined;
    if (!method) throw new InvalidInputError(`unknown method '${String(methodName)}'; available: ${Object.keys(CAM_METHODS).join(', ')}`);
    if (options.target !== undefined && options.targets !== undefined) throw new InvalidInputError('give either target or targets, not both');
    if (options.targets !== undefined && (!Array.isArray(options.targets) || options.targets.length === 0)) {
      throw new InvalidInputError('targets must be a non-empty array');
    }
    const targets = (options.targets ?? [options.target]).map((t) => checkTarget(t, this.model.numClasses));
    for (const flag of ['guided', 'eigenSmooth', 'augSmooth'] as const) {
      if (options[flag] !== undefined && typeof options[flag] !== 'boolean') throw new InvalidInputError(`${flag} must be true or false`);
    }
    return {
      layers: method.wholeModel ? [] : this.checkLayers(options.layers),
      method,
      targets,
      guided: options.guided ?? false,
      eigenSmooth: options.eigenSmooth ?? false,
      augSmooth: options.augSmooth ?? false,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }

  private checkAlive(): void {
    if (this.disposed) throw new DisposedError('this explainer');
  }

  private checkLayers(requested: readonly string[] | undefined): string[] {
    if (requested === undefined) return [...this.model.defaultLayers];
    if (!Array.isArray(requested) || requested.length === 0) throw new InvalidInputError('layers must be a non-empty array of layer names');
    for (const l of requested) if (!this.model.layers.includes(l)) throw new LayerNotFoundError(String(l), this.model.layers);
    return [...new Set(requested)];
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
