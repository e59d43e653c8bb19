import type { Explanation } from '../explainer.js';
import { softmax, topK, type Prediction } from '../predictions.js';
import type { ExplainParams } from './params.js';
import type { EncodedPictures } from './pictures.js';
import { jsonBytes, type JsonPart } from './json-bytes.js';

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

const bytesOf = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
const prediction = (p: Prediction) => ({ index: p.index, label: p.label ?? null, probability: p.probability });

/** `,"name":{"key":<base64>,...}` as JSON parts. */
const record = (name: string, values: Readonly<Record<string, Uint8Array>>): JsonPart[] => [
  `,${JSON.stringify(name)}:{`,
  ...Object.entries(values).flatMap(([key, bytes], i) => [`${i > 0 ? ',' : ''}${JSON.stringify(key)}:`, bytes]),
  '}',
];
const each = <T, U>(values: Readonly<Record<string, T>>, f: (v: T) => U) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, f(v)]));

/**
 * The answer to POST /explain in the format asked for, from the explanation and the pictures a worker
 * encoded for it (see encodePictures); `ms` is the time since the request arrived.
 */
export function explanationReply(e: Explanation, pictures: EncodedPictures, labels: readonly string[] | undefined, ms: number, params: ExplainParams): Reply {
  if (params.format === 'png') return { status: 200, type: 'image/png', body: pictures.png! };
  const f32 = params.maps === 'f32';
  const head = JSON.stringify({
    top5: topK(e.logits, 5, labels).map(prediction),
    target: prediction(targetPrediction(e, labels)),
    ms: Math.round(ms),
    width: e.width,
    height: e.height,
  });
  const body = jsonBytes([
    head.slice(0, -1),
    ...record('maps', f32 ? each(e.cams, (cam) => bytesOf(cam.map)) : pictures.maps!),
    ...(e.guidedGradCam ? record('guided', f32 ? each(e.guidedGradCam, bytesOf) : pictures.guided!) : []),
    ...(pictures.overlay ? [',"overlay":', pictures.overlay] : []),
    '}',
  ]);
  return { status: 200, type: 'application/json; charset=utf-8', body };
}
