import type { Explanation } from '../explainer.js';
import { softmax, topK, type Prediction } from '../predictions.js';
import type { ExplainParams } from './params.js';
import type { EncodedPictures } from './pictures.js';
import { jsonBytes, type JsonPart } from './json-bytes.js';
import type { Kernels } from '../kernels/types.js';

/** A response: status, media type and body (chunks are sent in order, as one body). */
export interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: string | Uint8Array | readonly Uint8Array[];
  readonly headers?: Readonly<Record<string, string>>;
  /** Buffers of the body that belong to this reply alone (a worker's answer): freed once written. */
  readonly owned?: readonly ArrayBuffer[];
}

export const json = (status: number, value: unknown, headers?: Record<string, string>): Reply => ({
  status,
  type: 'application/json; charset=utf-8',
  body: JSON.stringify(value),
  headers,
});

/**
 * The explained class with its label and probability (the server explains classes, never a custom
 * score), taken from `top5` when it is there (each of the two costs a softmax over every class).
 */
export function targetPrediction(e: Pick<Explanation, 'logits' | 'target'>, labels: readonly string[] | undefined, top5 = topK(e.logits, 5, labels)): Prediction {
  const index = e.target!;
  return top5.find((p) => p.index === index) ?? { index, label: labels?.[index], logit: e.logits[index]!, probability: softmax(e.logits)[index]! };
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

/** What the server's thread needs of an explanation to begin its JSON answer (the rest comes encoded). */
export interface ExplanationSummary {
  readonly logits: Float32Array;
  readonly target: number;
  readonly width: number;
  readonly height: number;
}

export const summaryOf = (e: Explanation): ExplanationSummary => ({ logits: e.logits, target: e.target!, width: e.width, height: e.height });

/**
 * The body of POST /explain's answer, made where the explanation is (a worker): the PNG for
 * format=png, else the JSON answer's maps, guided maps and overlay as UTF-8 bytes, from the comma
 * after the head's fields to the closing brace (see explanationReply).
 */
export function replyBody(e: Explanation, pictures: EncodedPictures, params: ExplainParams, kernels: Kernels): Uint8Array {
  if (params.format === 'png') return pictures.png!;
  const f32 = params.maps === 'f32';
  return jsonBytes([
    ...record('maps', f32 ? each(e.cams, (cam) => bytesOf(cam.map)) : pictures.maps!),
    ...(e.guidedGradCam ? record('guided', f32 ? each(e.guidedGradCam, bytesOf) : pictures.guided!) : []),
    ...(pictures.overlay ? [',"overlay":', pictures.overlay] : []),
    '}',
  ], kernels);
}

/**
 * The answer to POST /explain: the PNG, or the JSON object's head (top-5, target with the server's
 * labels, `ms` since the request arrived, size) followed by the worker's replyBody.
 */
export function explanationReply(s: ExplanationSummary, body: Uint8Array, labels: readonly string[] | undefined, ms: number, params: ExplainParams): Reply {
  const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? [body.buffer as ArrayBuffer] : [];
  if (params.format === 'png') return { status: 200, type: 'image/png', body, owned };
  const top5 = topK(s.logits, 5, labels);
  const head = JSON.stringify({
    top5: top5.map(prediction),
    target: prediction(targetPrediction(s, labels, top5)),
    ms: Math.round(ms),
    width: s.width,
    height: s.height,
  });
  return { status: 200, type: 'application/json; charset=utf-8', body: [Buffer.from(head.slice(0, -1)), body], owned };
}
