import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REFERENCE } from './assets.js';

/** The CNN zoo (reference/zoo): four torchvision models exported to ONNX, with pytorch-grad-cam references. */
export const ZOO = join(REFERENCE, 'zoo');
export const hasZoo = existsSync(join(ZOO, 'manifest.json'));
export const zooMissingReason = `the CNN zoo is not at ${ZOO} (set GRADCAM_TEST_ASSETS)`;
if (process.env.GRADCAM_REQUIRE_ASSETS === '1' && !hasZoo) throw new Error(`GRADCAM_REQUIRE_ASSETS=1 but ${zooMissingReason}`);

export const ZOO_ARCHS = ['resnet18', 'mobilenet_v2', 'densenet121', 'efficientnet_b0'] as const;
export type ZooArch = (typeof ZOO_ARCHS)[number];

export interface ZooEntry {
  readonly file: string;
  readonly opset: number;
  readonly ops: Readonly<Record<string, number>>;
  readonly layers: Readonly<Record<string, { readonly onnx_value: string; readonly raw_shape: readonly number[] }>>;
  readonly top1: Readonly<Record<string, number>>;
}

export const zooManifest = (): { readonly models: Readonly<Record<ZooArch, ZooEntry>> } => JSON.parse(readFileSync(join(ZOO, 'manifest.json'), 'utf8'));
export const zooModelPath = (arch: ZooArch): string => join(ZOO, 'models', `${arch}.onnx`);
export const zooModelBytes = (arch: ZooArch): Uint8Array => new Uint8Array(readFileSync(zooModelPath(arch)));
