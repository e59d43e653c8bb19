import type { Explanation } from '../explainer.js';
import { softmax, topK, type Prediction } from '../predictions.js';
import type { ExplainParams } from './params.js';
import type { EncodedPictures } from './pictures.js';

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

/** The explained class with its label and probability (the server explains classes, never a custom score). */
export function targetPrediction(e: Explanation, labels: readonly string[] | undefined): Prediction {
  const index = e.target!;
  return topK(e.logits, 5, labels).find((p) => p.index === index) ?? { index, label: labels?.[index], logit: e.logits[index]!, probability: softmax(e.logits)[index]! };
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const f32 = (values: Float32Array) => base64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
const prediction = (p: Prediction) => ({ index: p.index, label: p.label ?? null, probability: p.probability });
const each = <T>(record: Readonly<Record<string, T>>, f: (v: T) => string) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));

/**
 * The answer to POST /explain in the format asked for, from the explanation and the pictures a worker
 * encoded for it (see encodePictures); `ms` is the time since the request arrived.
 */
export function explanationReply(e: Explanation, pictures: EncodedPictures, labels: readonly string[] | undefined, ms: number, params: ExplainParams): Reply {
  if (params.format === 'png') return { status: 200, type: 'image/png', body: pictures.png! };
  return json(200, {
    top5: topK(e.logits, 5, labels).map(prediction),
    target: prediction(targetPrediction(e, labels)),
    ms: Math.round(ms),
    width: e.width,
    height: e.height,
    maps: params.maps === 'f32' ? each(e.cams, (cam) => f32(cam.map)) : each(pictures.maps!, base64),
    ...(e.guidedGradCam && { guided: params.maps === 'f32' ? each(e.guidedGradCam, f32) : each(pictures.guided!, base64) }),
    ...(pictures.overlay && { overlay: base64(pictures.overlay) }),
  });
}
