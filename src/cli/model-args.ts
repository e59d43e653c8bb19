import { extname } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';
import { didYouMean } from '../suggest.js';
import type { CliIO } from './main.js';
import { createProgress } from './progress.js';
import { createExplainer, type Explainer } from '../explainer.js';
import { decodeNpy } from '../io/npy.js';
import { readBytes } from '../runtime/io.js';
import { decodeImage, DEFAULT_MAX_IMAGE_PIXELS } from '../image/decode.js';
import { resizeRgbPillowBilinear } from '../image/resize.js';
import type { ModelInput, Pixels, Preprocessing } from '../image/preprocess.js';
import { GradcamError, InvalidInputError } from '../errors.js';
import { matchClass } from '../labels/match.js';
import { defaultResnet34WeightsFile } from '../weights/hub.js';
import { readLabels } from '../models/labels.js';

/** The options every command that runs the model takes: which model, how inputs become its input, which class. */
export const MODEL_OPTIONS = {
  weights: { type: 'string' },
  model: { type: 'string' },
  labels: { type: 'string' },
  preprocess: { type: 'string' },
  target: { type: 'string' },
  size: { type: 'string', default: '224' },
  offline: { type: 'boolean', default: false },
  'max-pixels': { type: 'string' },
  threads: { type: 'string' },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const MODEL_USAGE = `      --weights FILE|URL  ResNet34 safetensors (torchvision/timm names); default: torchvision's ImageNet
                          weights (timm/resnet34.tv_in1k), downloaded once into the cache
      --model FILE|URL    an ONNX model (.onnx, e.g. exported from PyTorch) or a TF.js layers model.json
                          instead of ResNet34
      --labels FILE       an ONNX model's class names, a JSON array of strings (default: <model
                          name>.labels.json beside the model, else ImageNet's names for 1000 classes)
      --preprocess P      imagenet (mean/std; ResNet34 and .onnx default) or tf (x/127.5 - 1; model.json default)
      --target CLASS      class to explain: an index or a class name, matched case-insensitively to
                          any comma-separated synonym of a label ('tabby', 'tiger cat'); default: top-1
      --size S            model input: 224 (default, 224x224), native, or N (shorter side N)
      --offline           never download; use the cache or --weights
      --max-pixels N      refuse larger images before decoding (default ${DEFAULT_MAX_IMAGE_PIXELS})
      --threads N         convolution threads, 1..8 (default: all cores)
      --verbose           stack traces on errors`;

/** How an image is resized for the model: 224x224, as it is, or to a shorter side of N. */
export type ModelSize = number | 'native' | 'square224';

export interface ModelArgs {
  readonly weights: string | undefined;
  readonly model: string | undefined;
  readonly labels: string | undefined;
  readonly preprocess: Preprocessing;
  /** An index or a class name; resolved against the model's labels once it is loaded (matchTarget). */
  readonly target: string | undefined;
  readonly size: ModelSize;
  readonly offline: boolean;
  readonly maxPixels: number;
  readonly threads: number | undefined;
}

/** parseArgs with positionals, strict, its errors as usage errors. */
export function parseCommandLine<const T extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(unknownOptionHint((err as Error).message, Object.keys(options)));
  }
}

/** parseArgs's "Unknown option '--layer'" with the close option names. */
function unknownOptionHint(message: string, options: readonly string[]): string {
  const flag = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
  if (!flag) return message;
  const names = options.map((o) => `--${o}`);
  return `unknown option '${flag}'${didYouMean(flag.replace(/=.*/, ''), names, (s) => s)}`;
}

export const integer = (flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be an integer${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` >= ${min}`}, got '${value}'`);
  }
  return Number(value);
};

/** The values of MODEL_OPTIONS, checked. */
export function parseModelArgs(v: {
  weights?: string;
  model?: string;
  labels?: string;
  preprocess?: string;
  target?: string;
  size: string;
  offline: boolean;
  'max-pixels'?: string;
  threads?: string;
}): ModelArgs {
  if (v.target !== undefined && !v.target.trim()) throw new UsageError('--target is empty');
  if (v.weights && v.model) throw new UsageError('--weights is for ResNet34; a --model brings its own weights');
  if (v.labels !== undefined && !/\.onnx($|[?#])/i.test(v.model ?? '')) {
    throw new UsageError('--labels is for ONNX models (ResNet34 has ImageNet\'s names, a model.json the labels of its metadata.json)');
  }
  // TF.js layers models (Keras MobileNet) expect 'tf'; PyTorch's ONNX exports and ResNet34 expect 'imagenet'.
  const preprocess = (v.preprocess ?? (v.model !== undefined && /\.json($|[?#])/i.test(v.model) ? 'tf' : 'imagenet')) as Preprocessing;
  if (preprocess !== 'imagenet' && preprocess !== 'tf') throw new UsageError(`--preprocess must be imagenet or tf, got '${preprocess}'`);
  let size: ModelArgs['size'];
  if (v.size === '224') size = 'square224';
  else if (v.size === 'native') size = 'native';
  else size = integer('size', v.size, 32);
  return {
    weights: v.weights,
    model: v.model,
    labels: v.labels,
    preprocess,
    target: v.target,
    size,
    offline: v.offline,
    maxPixels: v['max-pixels'] === undefined ? DEFAULT_MAX_IMAGE_PIXELS : integer('max-pixels', v['max-pixels'], 1),
    threads: v.threads === undefined ? undefined : integer('threads', v.threads, 1, 8),
  };
}

/** The model input for a file (a .npy tensor as is, an image decoded and resized) and the original image, if any. */
export async function loadInput(path: string, args: ModelArgs): Promise<{ input: ModelInput; image?: Pixels; modelImage?: Pixels }> {
  const bytes = await readBytes(path, 'input');
  if (extname(path).toLowerCase() === '.npy') {
    const npy = decodeNpy(bytes);
    if (npy.dtype !== 'float32') throw new InvalidInputError(`.npy input must be float32, got ${npy.dtype}`);
    return { input: { tensor: npy.data as Float32Array, shape: npy.shape } };
  }
  const image = await decodeImage(bytes, args.maxPixels);
  const modelImage = resizeForModel(image, args.size);
  return { input: modelImage, image, modelImage };
}

export function resizeForModel(px: Pixels, size: ModelSize): Pixels {
  if (size === 'native') return px;
  if (size === 'square224') return resizeRgbPillowBilinear(px, 224, 224);
  const scale = size / Math.min(px.width, px.height);
  return resizeRgbPillowBilinear(px, Math.max(1, Math.round(px.width * scale)), Math.max(1, Math.round(px.height * scale)));
}

/** The ResNet34 weights to use: --weights, else torchvision's, downloaded once into the cache (with a progress bar). */
export async function resnet34Weights(args: ModelArgs, io: CliIO): Promise<string | undefined> {
  if (args.model || args.weights !== undefined) return args.weights;
  const bar = createProgress(io.stderr, io.isTTY ?? false, 'downloading ResNet34 weights', 'bytes');
  return defaultResnet34WeightsFile({
    offline: args.offline,
    onProgress: (ev) => {
      if (ev.type === 'progress') bar.update(ev.loaded, ev.total);
      if (ev.type === 'done') bar.finish(`cached ${ev.path}`);
    },
  });
}

/** The explainer the arguments ask for; the default ResNet34 weights are downloaded once, with a progress bar. */
export async function loadExplainer(args: ModelArgs, io: CliIO): Promise<Explainer> {
  const weights = await resnet34Weights(args, io);
  const labels = args.labels === undefined ? undefined : await readLabels(args.labels);
  return createExplainer({ model: args.model ?? 'resnet34', weights, preprocess: args.preprocess, threads: args.threads, labels });
}

/** --target as a class index: a number or a name of the model's labels; unknown or ambiguous names are usage errors. */
export function matchTarget(query: string, explainer: Explainer): number {
  try {
    return matchClass(query, explainer.labels, explainer.numClasses);
  } catch (err) {
    if (err instanceof GradcamError) throw new UsageError(`--target: ${err.message}`);
    throw err;
  }
}

/** A comma-separated list option (--layers, --methods); undefined when not given. */
export function parseList(value: string | undefined, flag: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${flag} is empty`);
  return items;
}
