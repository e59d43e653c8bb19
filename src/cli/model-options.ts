import type { CliIO } from './main.js';
import { UsageError } from './errors.js';
import { createProgress } from './progress.js';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../image/decode.js';
import { resizeRgbPillowBilinear } from '../image/resize.js';
import type { Pixels, Preprocessing } from '../image/preprocess.js';
import { defaultResnet34WeightsFile } from '../weights/hub.js';

/** The options that choose and run a model, shared by `explain` and `serve` (parseArgs specs). */
export const MODEL_OPTIONS = {
  weights: { type: 'string' },
  model: { type: 'string' },
  preprocess: { type: 'string' },
  size: { type: 'string', default: '224' },
  offline: { type: 'boolean', default: false },
  'max-pixels': { type: 'string' },
  threads: { type: 'string' },
} as const;

/** How an image is resized for the model: 224x224, as it is, or to a shorter side of N. */
export type ModelSize = number | 'native' | 'square224';

export interface ModelArgs {
  readonly weights: string | undefined;
  readonly model: string | undefined;
  readonly preprocess: Preprocessing;
  readonly size: ModelSize;
  readonly offline: boolean;
  readonly maxPixels: number;
  readonly threads: number | undefined;
}

export const integer = (flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be an integer${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` >= ${min}`}, got '${value}'`);
  }
  return Number(value);
};

type ModelValues = { weights?: string; model?: string; preprocess?: string; size: string; offline: boolean; 'max-pixels'?: string; threads?: string };

export function parseModelArgs(v: ModelValues): ModelArgs {
  if (v.weights && v.model) throw new UsageError('--weights is for ResNet34; a --model brings its own weights');
  const preprocess = (v.preprocess ?? (v.model ? 'tf' : 'imagenet')) as Preprocessing;
  if (preprocess !== 'imagenet' && preprocess !== 'tf') throw new UsageError(`--preprocess must be imagenet or tf, got '${preprocess}'`);
  const size: ModelSize = v.size === '224' ? 'square224' : v.size === 'native' ? 'native' : integer('size', v.size, 32);
  return {
    weights: v.weights,
    model: v.model,
    preprocess,
    size,
    offline: v.offline,
    maxPixels: v['max-pixels'] === undefined ? DEFAULT_MAX_IMAGE_PIXELS : integer('max-pixels', v['max-pixels'], 1),
    threads: v.threads === undefined ? undefined : integer('threads', v.threads, 1, 8),
  };
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

export function resizeForModel(px: Pixels, size: ModelSize): Pixels {
  if (size === 'native') return px;
  if (size === 'square224') return resizeRgbPillowBilinear(px, 224, 224);
  const scale = size / Math.min(px.width, px.height);
  return resizeRgbPillowBilinear(px, Math.max(1, Math.round(px.width * scale)), Math.max(1, Math.round(px.height * scale)));
}
