import type { Explanation } from '../explainer.js';
import type { Kernels } from '../kernels/types.js';
import { explanationFigure, explanationPictures } from '../image/pictures.js';
import type { Pixels } from '../image/preprocess.js';
import { renderGuided, renderHeatmap, renderOverlay } from '../image/render.js';
import type { ExplainParams } from './params.js';
import { encodeServedPng } from './png.js';
import { targetPrediction } from './reply.js';

/** The PNGs a reply needs: `png` for format=png; for format=json the maps (unless maps=f32) and the overlay if asked for. */
export interface EncodedPictures {
  readonly png?: Uint8Array;
  readonly maps?: Readonly<Record<string, Uint8Array>>;
  readonly guided?: Readonly<Record<string, Uint8Array>>;
  readonly overlay?: Uint8Array;
}

const encodeEach = async <T>(record: Readonly<Record<string, T>>, f: (v: T) => Pixels) =>
  Object.fromEntries(await Promise.all(Object.entries(record).map(async ([k, v]) => [k, await encodeServedPng(f(v))] as const)));

/**
 * Draws and encodes the pictures of one explanation that `params` ask for: the overlay on the decoded
 * upload `image`, or the figure (on `modelImage`, titled with the target's label from `labels`).
 */
export async function encodePictures(
  kernels: Kernels,
  e: Explanation,
  image: Pixels,
  modelImage: Pixels,
  labels: readonly string[] | undefined,
  params: ExplainParams,
): Promise<EncodedPictures> {
  const overlay = () => encodeServedPng(renderOverlay(kernels, image, e.combined, e.width, e.height));
  if (params.format === 'png') {
    if (!params.figure) return { png: await overlay() };
    return { png: await explanationFigure(kernels, e, explanationPictures(kernels, e, undefined), modelImage, targetPrediction(e, labels)) };
  }
  if (params.maps === 'f32') return params.overlay ? { overlay: await overlay() } : {};
  const [maps, guided, over] = await Promise.all([
    encodeEach(e.cams, (cam) => renderHeatmap(kernels, cam.map, e.width, e.height)),
    e.guidedGradCam && encodeEach(e.guidedGradCam, (g) => renderGuided(g, e.width, e.height)),
    params.overlay ? overlay() : undefined,
  ]);
  return { maps, ...(guided && { guided }), ...(over && { overlay: over }) };
}
