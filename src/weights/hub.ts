import { InvalidInputError } from '../errors.js';
import { parseSafetensors } from './safetensors.js';
import { checkResnet34Layout } from '../importers/torchvision-resnet.js';
import { cachedDownload, type DownloadEvent } from './download.js';

/**
 * torchvision's ImageNet ResNet34 weights as timm publishes them in safetensors (BSD-3-Clause), pinned:
 * the hub serves `revision` (a commit of the model repo, never a branch such as main, which can
 * move), and the file must have `sha256`. Both were taken from another public project that pins the
 * same file (with its size, 87,278,522 bytes); this machine cannot reach the hub to check them. To
 * move to a new revision: download `<repo>/resolve/<commit>/model.safetensors`, check it loads, and
 * set both constants (the cache file name carries the revision, so the old copy is not reused).
 */
export const DEFAULT_RESNET34 = {
  repo: 'timm/resnet34.tv_in1k',
  file: 'model.safetensors',
  revision: '1b7b21cca82ff974d341713f777bf740c2db38c4',
  sha256: '0bb82595a564991a9d424708b33f5d843f5aaed7f6c0886ff10849ff97022235',
} as const;
const DEFAULT_HUB = 'https://huggingface.co';

export interface HubOptions {
  /** Base URL of the hub or a mirror; default GRADCAM_HUB_URL, else the Hugging Face hub. */
  readonly hubUrl?: string;
  /** Default GRADCAM_CACHE, else $XDG_CACHE_HOME/gradcam-wasm, else ~/.cache/gradcam-wasm. */
  readonly cacheDir?: string;
  readonly offline?: boolean;
  readonly onProgress?: (event: DownloadEvent) => void;
  readonly fetch?: typeof fetch;
  /**
   * Hex SHA-256 the weights file must have; default GRADCAM_WEIGHTS_SHA256, else the pinned one. The
   * hash of the first download is recorded in the cache and every later load checks it.
   */
  readonly sha256?: string;
}

export async function defaultCacheDir(): Promise<string> {
  const env = process.env;
  if (env.GRADCAM_CACHE) return env.GRADCAM_CACHE;
  const { homedir } = await import('node:os');
  const { join } = await import('node:path');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gradcam-wasm');
}

export const resnet34WeightsUrl = (hubUrl?: string): string =>
  `${(hubUrl ?? process.env.GRADCAM_HUB_URL ?? DEFAULT_HUB).replace(/\/+$/, '')}/${DEFAULT_RESNET34.repo}/resolve/${DEFAULT_RESNET34.revision}/${DEFAULT_RESNET34.file}`;

function expectedSha256(option: string | undefined): string {
  const sha = option ?? process.env.GRADCAM_WEIGHTS_SHA256 ?? DEFAULT_RESNET34.sha256;
  if (!/^[0-9a-f]{64}$/i.test(sha)) throw new InvalidInputError(`the weights SHA-256 '${sha}' (sha256 option or GRADCAM_WEIGHTS_SHA256) is not 64 hex digits`);
  return sha.toLowerCase();
}

/**
 * Path of the default ResNet34 weights in the cache, downloaded once (checked) when absent. Pass it
 * to createExplainer as `weights`: a local file is read tensor by tensor.
 */
export async function defaultResnet34WeightsFile(o: HubOptions = {}): Promise<string> {
  return cachedDownload({
    url: resnet34WeightsUrl(o.hubUrl),
    fileName: `${DEFAULT_RESNET34.repo.replace('/', '--')}--${DEFAULT_RESNET34.revision.slice(0, 12)}.safetensors`,
    sha256: expectedSha256(o.sha256),
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
