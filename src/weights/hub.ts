import { parseSafetensors } from './safetensors.js';
import { checkResnet34Layout } from '../importers/torchvision-resnet.js';
import { cachedDownload, type DownloadEvent } from './download.js';

/** torchvision's ImageNet ResNet34 weights as timm publishes them in safetensors (BSD-3-Clause). */
export const DEFAULT_RESNET34 = { repo: 'timm/resnet34.tv_in1k', file: 'model.safetensors' } as const;
const DEFAULT_HUB = 'https://huggingface.co';

export interface HubOptions {
  /** Base URL of the hub or a mirror; default GRADCAM_HUB_URL, else the Hugging Face hub. */
  readonly hubUrl?: string;
  /** Default GRADCAM_CACHE, else $XDG_CACHE_HOME/gradcam-wasm, else ~/.cache/gradcam-wasm. */
  readonly cacheDir?: string;
  readonly offline?: boolean;
  readonly onProgress?: (event: DownloadEvent) => void;
  readonly fetch?: typeof fetch;
}

export async function defaultCacheDir(): Promise<string> {
  const env = process.env;
  if (env.GRADCAM_CACHE) return env.GRADCAM_CACHE;
  const { homedir } = await import('node:os');
  const { join } = await import('node:path');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gradcam-wasm');
}

export const resnet34WeightsUrl = (hubUrl?: string): string =>
  `${(hubUrl ?? process.env.GRADCAM_HUB_URL ?? DEFAULT_HUB).replace(/\/+$/, '')}/${DEFAULT_RESNET34.repo}/resolve/main/${DEFAULT_RESNET34.file}`;

/**
 * Path of the default ResNet34 weights in the cache, downloaded once (checked) when absent. Pass it
 * to createExplainer as `weights`: a local file is read tensor by tensor.
 */
export async function defaultResnet34WeightsFile(o: HubOptions = {}): Promise<string> {
  return cachedDownload({
    url: resnet34WeightsUrl(o.hubUrl),
    fileName: `${DEFAULT_RESNET34.repo.replace('/', '--')}.safetensors`,
    cacheDir: o.cacheDir ?? (await defaultCacheDir()),
    offline: o.offline,
    onProgress: o.onProgress,
    fetch: o.fetch,
    validate: (file) => checkResnet34Layout(parseSafetensors(file)),
  });
}

/** The default ResNet34 weights as bytes (see defaultResnet34WeightsFile, which needs less memory). */
export async function defaultResnet34Weights(o: HubOptions = {}): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  return new Uint8Array(await readFile(await defaultResnet34WeightsFile(o)));
}
