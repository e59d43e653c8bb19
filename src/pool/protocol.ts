import type { CreateExplainerOptions, ExplainOptions, Explanation } from '../explainer.js';
import type { ModelInput } from '../image/preprocess.js';
import type { SerializedError } from './errors.js';

/** Messages between an ExplainerPool and its workers (structured-cloneable). */
export type ToWorker =
  | { readonly type: 'init'; readonly options: CreateExplainerOptions }
  | { readonly type: 'explain'; readonly input: ModelInput; readonly options: ExplainOptions }
  | { readonly type: 'predict'; readonly input: ModelInput };

/** A worker runs one call at a time, so a reply needs no id. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly value: Explanation | Float32Array }
  | { readonly type: 'error'; readonly error: SerializedError };

/** The buffers of an explanation's arrays, transferred instead of copied. */
export function transferables(e: Explanation | Float32Array): ArrayBuffer[] {
  if (e instanceof Float32Array) return [e.buffer as ArrayBuffer];
  const arrays: ArrayBufferView[] = [e.logits, e.combined, ...Object.values(e.cams).flatMap((c) => [c.map, c.raw])];
  if (e.guided) arrays.push(e.guided, ...Object.values(e.guidedGradCam ?? {}));
  return [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))];
}
