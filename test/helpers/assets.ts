import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeNpy, type NpyArray } from '../../src/io/npy.js';

/** Shared test assets (../shared by default); CI sets it and requires it to exist. */
export const ASSETS = resolve(process.env.GRADCAM_TEST_ASSETS ?? join(import.meta.dirname, '../../../shared'));
export const REFERENCE = join(ASSETS, 'reference');
export const hasReference = existsSync(join(REFERENCE, 'resnet34-seed1.safetensors'));
export const hasMobilenet = existsSync(join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json'));
/** For test titles: where the assets are, or why the test is skipped (a title names it either way). */
export const missingReason = hasReference && hasMobilenet ? `shared test assets at ${ASSETS}` : `test assets not found at ${ASSETS} (set GRADCAM_TEST_ASSETS)`;
// CI must never skip these tests silently.
if (process.env.GRADCAM_REQUIRE_ASSETS === '1' && !(hasReference && hasMobilenet)) throw new Error(`GRADCAM_REQUIRE_ASSETS=1 but ${missingReason}`);

export const readRef = (rel: string): NpyArray => decodeNpy(new Uint8Array(readFileSync(join(REFERENCE, rel))));
export const referenceWeights = (): Uint8Array => new Uint8Array(readFileSync(join(REFERENCE, 'resnet34-seed1.safetensors')));
