import { tf, type Tensor4D } from './tf.js';
import { DisposedError, GradcamError, InvalidInputError, LayerNotFoundError, OutOfMemoryError } from './errors.js';
import { KerasCnn } from './models/keras/model.js';
import { artifactsFromLayersModel, isLayersModelLike, loadKerasArtifacts, type LayersModelLike } from './models/keras/loader.js';
import type { CallMemoryRequest, ExplainableModel } from './models/types.js';
import { CAM_METHODS, type CamMethodName } from './methods/index.js';
import { explainTensor, type Explanation, type PipelineOptions } from './explain/pipeline.js';
import { checkTarget, type Target } from './targets/index.js';
import { checkWorkOptions, Work, type WorkOptions } from './work.js';
import type { Kernels } from './kernels/types.js';
import { nchwToNhwc, normalizePixels, type ModelInput, type Preprocessing } from './image/preprocess.js';
import { loadKernels, startBackend, type RuntimeInfo, type RuntimeOptions } from './runtime/index.js';
import type { EngineContext } from './ops/types.js';
import { OPS } from './ops/registry.js';
import { GraphModel } from './graph/model.js';
import { loadOnnx } from './importers/onnx/load.js';
import { onnxGraph } from './importers/onnx/graph.js';
import { resnetModel } from './models/resnet34.js';
import { labelsBeside } from './models/labels.js';
import { parseSafetensors } from './weights/safetensors.js';
import { openLocalFile, readBytes, type BytesSource } from './runtime/io.js';
import { CallQueue } from './engine/call-queue.js';
import { measureCallMemory, MemoryBudget, type CallMemory } from './engine/memory-budget.js';

export type { Explanation, LayerCam } from './explain/pipeline.js';

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
  /**
   * Largest accepted input (H*W). Default: the largest whose call fits tfjs-wasm's 4 GB heap, computed
   * from the model's graph at load (2.3 million pixels for MobileNet, 3.5 million for ResNet34); a
   * larger value is still capped by the heap.
   */
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

/**
 * explainBatch's options: explain's, plus `targets`, one per input (default: each input's top-1). A single
 * `target` applies to every input.
 */
export type ExplainBatchOptions = ExplainOptions & { readonly targets?: readonly Target[] };

export interface Explainer {
  readonly layers: readonly string[];
  /** The layers explain() uses by default. */
  readonly defaultLayers: readonly string[];
  /** Whether explain() takes this layer name: one of `layers`, or (ONNX models) a raw value name. */
  hasLayer(name: string): boolean;
  readonly numClasses: number;
  /** Class names, when the model has them (ImageNet names for resnet34, metadata.json labels otherwise). */
  readonly labels: readonly string[] | undefined;
  readonly runtime: RuntimeInfo;
  /**
   * The largest input (H*W) a call accepts: maxInputPixels, or what fits the wasm heap beside this
   * model when it was loaded. Larger calls, and calls that do not fit what is free at the time, are
   * refused before any compute with OutOfMemoryError (whose maxPixels says what fits then).
   */
  readonly maxInputPixels: number;
  /**
   * One target (default: the top-1 class): one Explanation. Calls run one at a time, in order
   * (concurrent calls queue); results equal those of sequential calls.
   */
  explain(input: ModelInput, options?: ExplainOptions): Promise<Explanation>;
  /** `targets: [...]`: one Explanation per target, in order, from one forward pass. */
  explain(input: ModelInput, options: ExplainManyOptions): Promise<Explanation[]>;
  /**
   * A batch of inputs of one size, one target each: one forward pass and one gradient pass (two with
   * guided) for the whole batch; one Explanation per input, in order, equal to one-by-one explain() calls.
   * Methods that rerun the network (ablationcam, scorecam) rerun it per input. The memory budget admits
   * the batch as N x height x width pixels.
   */
  explainBatch(inputs: readonly ModelInput[], options?: ExplainBatchOptions): Promise<Explanation[]>;
  /** Logits only (one forward pass). */
  predict(input: ModelInput): Promise<Float32Array>;
  /**
   * Queued calls reject with DisposedError; the running one finishes, and the model's memory is freed
   * after it.
   */
  dispose(): void;
}

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
  const heldBefore = tf.memory().numBytes;
  const explainable = isOnnx
    ? await loadOnnxModel(model as BytesSource, { heap: backend.heap, ops: OPS }, options.labels)
    : inMemory
    ? new KerasCnn(await artifactsFromLayersModel(model, options.labels), { heap: backend.heap, ops: OPS })
    : isLayersModel
    ? new KerasCnn(await loadKerasArtifacts(model as string | URL), { heap: backend.heap, ops: OPS })
    : await loadResnet(options.weights!, { heap: backend.heap, ops: OPS });
  const weightBytes = tf.memory().numBytes - heldBefore;
  return new QueuedEngine(explainable, kernels, info, preprocess, weightBytes, options.maxInputPixels).init();
}

/** An ONNX model; its labels are the ones given, else `<model name>.labels.json` beside it (if any). */
async function loadOnnxModel(source: BytesSource, ctx: EngineContext, given: readonly string[] | undefined): Promise<GraphModel> {
  const { spec, requiredInputSize } = onnxGraph(await loadOnnx(source));
  const beside = given === undefined && (typeof source === 'string' || source instanceof URL) ? await labelsBeside(source) : undefined;
  return GraphModel.create(spec, ctx, { labels: given ?? beside, requiredInputSize });
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
    protected readonly model: ExplainableModel,
    private readonly kernels: Kernels,
    readonly runtime: RuntimeInfo,
    private readonly preprocess: Preprocessing,
    protected maxPixels: number,
  ) {}

  get maxInputPixels(): number {
    return this.maxPixels;
  }

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
  hasLayer(name: string): boolean {
    return this.model.hasLayer ? this.model.hasLayer(name) : this.model.layers.includes(name);
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
    const explanations = await this.run([input], pipeline, options);
    return 'targets' in options && options.targets !== undefined ? explanations : explanations[0]!;
  }

  async explainBatch(inputs: readonly ModelInput[], options: ExplainBatchOptions = {}): Promise<Explanation[]> {
    this.checkAlive();
    if (options === null || typeof options !== 'object') throw new InvalidInputError('explainBatch options must be an object');
    checkBatch(inputs, options);
    return this.run(inputs, this.pipelineOptions(options, inputs.length), options);
  }

  /** Explains inputs of one size as one batch. */
  private async run(inputs: readonly ModelInput[], pipeline: PipelineOptions, options: ExplainOptions): Promise<Explanation[]> {
    checkWorkOptions(options);
    const work = new Work(options);
    work.check();
    const x = this.toBatch(inputs);
    try {
      return await explainTensor(this.model, this.kernels, x, pipeline, work);
    } finally {
      x.dispose();
    }
  }

  /** One image's targets (`images` undefined: explain's target or targets), or one per image of a batch. */
  private pipelineOptions(options: ExplainBatchOptions, images?: number): PipelineOptions {
    const methodName = options.method ?? 'gradcam';
    const method = Object.hasOwn(CAM_METHODS, methodName) ? CAM_METHODS[methodName] : undefined;
    if (!method) throw new InvalidInputError(`unknown method '${String(methodName)}'; available: ${Object.keys(CAM_METHODS).join(', ')}`);
    if (options.target !== undefined && options.targets !== undefined) throw new InvalidInputError('give either target or targets, not both');
    if (options.targets !== undefined && (!Array.isArray(options.targets) || options.targets.length === 0)) {
      throw new InvalidInputError('targets must be a non-empty array');
    }
    const check = (t: Target | undefined) => checkTarget(t, this.model.numClasses);
    const targets =
      images === undefined
        ? [(options.targets ?? [options.target]).map(check)]
        : (options.targets ?? Array.from({ length: images }, () => options.target)).map((t) => [check(t)]);
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
    for (const l of requested) if (typeof l !== 'string' || !this.hasLayer(l)) throw new LayerNotFoundError(String(l), this.model.layers);
    return [...new Set(requested)];
  }

  /** Inputs of one size as one batch [N, H, W, 3]. */
  private toBatch(inputs: readonly ModelInput[]): Tensor4D {
    if (inputs.length === 1) return this.toTensor(inputs[0]!);
    const parts: Tensor4D[] = [];
    try {
      for (const input of inputs) parts.push(this.toTensor(input));
      const sizes = parts.map((t) => `${t.shape[2]}x${t.shape[1]}`);
      if (new Set(sizes).size > 1) throw new InvalidInputError(`the inputs of a batch must have one size, got ${[...new Set(sizes)].join(', ')} (inputs ${sizes.join(', ')})`);
      return tf.concat(parts, 0);
    } finally {
      tf.dispose(parts);
    }
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

/**
 * The explainer users get: Engine's calls one at a time (a queue), each admitted by a memory budget
 * before any compute. A call's memory is computed from the model's graph (graph/memory.ts; no compute): at
 * load for the default layers (which sets maxInputPixels), on first use for other layers or methods.
 */
class QueuedEngine extends Engine {
  private readonly calls = new CallQueue();
  private readonly budget: MemoryBudget;
  /** Memory per (method, layers), at most PROFILES entries. */
  private readonly profiles = new Map<string, CallMemory>();
  private closing = false;
  /** Whether maxInputPixels is the heap's limit (rather than the user's). */
  private heapLimited = false;

  private readonly probeSizes: readonly (readonly [number, number])[];

  constructor(
    model: ExplainableModel,
    kernels: Kernels,
    runtime: RuntimeInfo,
    preprocess: Preprocessing,
    weightBytes: number,
    private readonly userMax: number | undefined,
  ) {
    super(model, kernels, runtime, preprocess, userMax ?? Number.POSITIVE_INFINITY);
    this.budget = new MemoryBudget(weightBytes);
    const side = Math.max(64, model.minInputSize);
    this.probeSizes = model.requiredInputSize ? [model.requiredInputSize] : [[side, side], [2 * side, 2 * side]];
  }

  /** Computes the default call's memory and derives maxInputPixels from it; disposes the engine on failure. */
  async init(): Promise<this> {
    try {
      const [h, w] = this.probeSizes.at(-1)!;
      const fits = Math.min(this.budget.maxPixels(await this.profile({})), this.probeSizes.length === 1 ? h * w : Number.POSITIVE_INFINITY);
      this.heapLimited = fits < (this.userMax ?? Number.POSITIVE_INFINITY);
      this.maxPixels = Math.min(this.userMax ?? fits, fits);
      return this;
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  override explain(input: ModelInput, options?: ExplainOptions): Promise<Explanation>;
  override explain(input: ModelInput, options: ExplainManyOptions): Promise<Explanation[]>;
  override explain(input: ModelInput, options: ExplainOptions | ExplainManyOptions = {}): Promise<Explanation | Explanation[]> {
    return this.calls.run(async () => {
      await this.admit(input, options);
      return super.explain(input, options as ExplainOptions);
    });
  }

  override explainBatch(inputs: readonly ModelInput[], options: ExplainBatchOptions = {}): Promise<Explanation[]> {
    return this.calls.run(async () => {
      if (Array.isArray(inputs) && inputs.length > 0 && options !== null && typeof options === 'object') await this.admit(inputs[0], options, inputs.length);
      return super.explainBatch(inputs, options);
    });
  }

  override predict(input: ModelInput): Promise<Float32Array> {
    return this.calls.run(async () => {
      await this.admit(input, {});
      return super.predict(input);
    });
  }

  override dispose(): void {
    if (this.closing) return;
    this.closing = true;
    // Nothing running: the model is freed now, so tf.memory() right after dispose() no longer counts it.
    const idle = !this.calls.busy;
    const closed = this.calls.close(() => new DisposedError('this explainer'));
    if (idle) super.dispose();
    else void closed.then(() => super.dispose());
  }

  /**
   * Refuses, before any compute, a call over maxInputPixels or one that would not fit the heap now; a batch
   * of `count` inputs (of the first one's size; explainBatch checks that they agree) as count x its pixels.
   */
  private async admit(input: ModelInput, options: ExplainOptions | ExplainManyOptions, count = 1): Promise<void> {
    const size = declaredSize(input);
    if (!size || (options.layers !== undefined && !Array.isArray(options.layers))) return; // the call itself reports what is wrong
    const { width, height } = size;
    if (width * height > this.maxPixels && !this.heapLimited) return; // over the user's maxInputPixels: InvalidInputError from the call
    const call = await this.profile(options);
    if (width * height > this.maxPixels) {
      const fits = Math.min(this.maxPixels, this.budget.maxPixels(call));
      throw new OutOfMemoryError(
        `input ${width}x${height} has more than the ${this.maxPixels} pixels whose call fits tfjs-wasm's 4 GB heap beside this model ` +
          `(${fits} fit now); resize it`,
        fits,
      );
    }
    if (count === 1) return this.budget.check(call, width, height);
    try {
      this.budget.check(call, width, height * count);
    } catch (err) {
      if (!(err instanceof OutOfMemoryError)) throw err;
      const fit = Math.floor(this.budget.maxPixels(call) / (width * height));
      throw new OutOfMemoryError(`a batch of ${count} inputs of ${width}x${height} does not fit tfjs-wasm's heap now (${fit} of them would): split the batch`, err.maxPixels);
    }
  }

  /**
   * The memory profile of calls with these options' method and layers (guided on: the larger): computed
   * from the model's graph (no compute), or measured by probe calls for models that cannot compute it.
   */
  private async profile(options: ExplainOptions | ExplainManyOptions): Promise<CallMemory> {
    const layers = [...new Set(options.layers ?? this.defaultLayers)].sort();
    // Methods that rerun the network (AblationCAM, ScoreCAM) hold one pass at a time, plus small batches of
    // activations or masked inputs: they are counted as Grad-CAM.
    const method = options.method !== undefined && CAM_METHODS[options.method]?.reruns ? 'gradcam' : options.method;
    const key = `${method ?? 'gradcam'}:${layers.join('\u0000')}`;
    let found = this.profiles.get(key);
    if (!found) {
      found = this.model.callMemory ? this.model.callMemory(callRequest(layers, CAM_METHODS[method ?? 'gradcam'])) : await this.probe(layers, method);
      if (this.profiles.size >= PROFILES) this.profiles.delete(this.profiles.keys().next().value!);
      this.profiles.set(key, found);
    }
    return found;
  }

  /** Measures a call's memory by probe calls at two small sizes (tf.profile). */
  private async probe(layers: readonly string[], method: CamMethodName | undefined): Promise<CallMemory> {
    const limit = this.maxPixels; // probes may be larger than the user's maxInputPixels; calls run one at a time
    this.maxPixels = Number.POSITIVE_INFINITY;
    try {
      return await measureCallMemory((h, w) => super.explain(probeInput(h, w), { layers, method, guided: true }), this.probeSizes);
    } finally {
      this.maxPixels = limit;
    }
  }
}

/** The passes of a guided call of `method` on `layers` (explain/pipeline.ts's passMaps). */
function callRequest(layers: readonly string[], method: (typeof CAM_METHODS)[CamMethodName] | undefined): CallMemoryRequest {
  const cams = method?.wholeModel
    ? [{ layers: [], toInput: true, biasGradients: true }]
    : method?.needsGradients === false
    ? []
    : [{ layers, toInput: false }];
  return { layers, passes: [...cams, { layers: [], toInput: true }] };
}

const PROFILES = 64;

/** explainBatch's own argument errors (the inputs themselves are checked as explain's). */
function checkBatch(inputs: readonly ModelInput[], options: ExplainBatchOptions): void {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new InvalidInputError('explainBatch needs a non-empty array of inputs');
  const { targets } = options;
  if (Array.isArray(targets) && targets.length !== inputs.length) {
    throw new InvalidInputError(`explainBatch got ${targets.length} targets for ${inputs.length} inputs; give one target per input (or none: each input's top-1)`);
  }
}

/** The input size a call declares (validated later, by the call itself). */
function declaredSize(input: ModelInput): { width: number; height: number } | undefined {
  if (input === null || typeof input !== 'object') return undefined;
  const [height, width] = 'tensor' in input ? (input.shape ?? []).slice(-2) : [input.height, input.width];
  return Number.isSafeInteger(width) && Number.isSafeInteger(height) && width! > 0 && height! > 0 ? { width: width!, height: height! } : undefined;
}

/** A smooth, deterministic probe image (values in [-1, 1]). */
function probeInput(height: number, width: number): ModelInput {
  const tensor = new Float32Array(3 * height * width);
  for (let i = 0; i < tensor.length; i++) tensor[i] = Math.sin(i * 0.37);
  return { tensor, shape: [1, 3, height, width] };
}
