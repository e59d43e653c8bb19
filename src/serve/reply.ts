import type { Explanation } from '../explainer.js';
import type { Kernels } from '../kernels/types.js';
import { encodePng } from '../image/encode.js';
import { explanationFigure, explanationPictures } from '../image/pictures.js';
import type { Pixels } from '../image/preprocess.js';
import { renderGuided, renderHeatmap, renderOverlay } from '../image/render.js';
import { softmax, topK, type Prediction } from '../predictions.js';
import type { ExplainParams } from './params.js';

/** A response: status, media type and body. */
export interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: string | Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
}

export const json = (status: number, value: unknown, headers?: Record<string, string>): Reply => ({
  status,
  type: 'application/json; charset=utf-8',
  body: JSON.stringify(value),
  headers,
});

/** The pictures and numbers of one explanation. */
export interface ExplainedImage {
  readonly explanation: Explanation;
  readonly labels: readonly string[] | undefined;
  /** The decoded upload, at its own size, and what the model saw. */
  readonly image: Pixels;
  readonly modelImage: Pixels;
  /** Milliseconds since the request arrived. */
  readonly ms: number;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const prediction = (p: Prediction) => ({ index: p.index, label: p.label ?? null, probability: p.probability });

/** The answer to POST /explain in the format asked for. */
export async function explanationReply(kernels: Kernels, x: ExplainedImage, params: ExplainParams): Promise<Reply> {
  const e = x.explanation;
  const index = e.target!; // the server explains classes (never a custom score), so there is always one
  const top5 = topK(e.logits, 5, x.labels);
  const target = top5.find((p) => p.index === index) ?? { index, label: x.labels?.[index], logit: e.logits[index]!, probability: softmax(e.logits)[index]! };
  if (params.format === 'png') {
    const png = params.figure
      ? await explanationFigure(kernels, e, explanationPictures(kernels, e, undefined), x.modelImage, target)
      : await encodePng(renderOverlay(kernels, x.image, e.combined, e.width, e.height));
    return { status: 200, type: 'image/png', body: png };
  }
  const map = async (values: Float32Array, picture: () => Pixels) =>
    params.maps === 'f32' ? base64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)) : base64(await encodePng(picture()));
  const each = async <T>(record: Readonly<Record<string, T>>, f: (v: T) => Promise<string>) =>
    Object.fromEntries(await Promise.all(Object.entries(record).map(async ([k, v]) => [k, await f(v)] as const)));
  return json(200, {
    top5: top5.map(prediction),
    target: prediction(target),
    ms: Math.round(x.ms),
    width: e.width,
    height: e.height,
    maps: await each(e.cams, (cam) => map(cam.map, () => renderHeatmap(kernels, cam.map, e.width, e.height))),
    ...(e.guidedGradCam && { guided: await each(e.guidedGradCam, (g) => map(g, () => renderGuided(g, e.width, e.height))) }),
    ...(params.overlay && { overlay: base64(await encodePng(renderOverlay(kernels, x.image, e.combined, e.width, e.height))) }),
  });
}
