import type { CreateExplainerOptions, ExplainOptions, Explanation } from '../explainer.js';
import type { ModelInput } from '../image/preprocess.js';

/** Messages between an ExplainerPool and its workers (structured-cloneable). */
export type ToWorker =
  | { readonly type: 'init'; readonly options: CreateExplainerOptions }
  | { readonly type: 'explain'; readonly id: number; readonly input: ModelInput; readonly options: ExplainOptions };

export type FromWorker =
  | { readonly type: 'ready'; readonly threads: number }
  | { readonly type: 'result'; readonly id: number; readonly explanation: Explanation }
  | { readonly type: 'error'; readonly id: number | null; readonly code?: string; readonly message: string };

/** The buffers of an explanation's arrays, transferred instead of copied. */
export function transferables(e: Explanation): ArrayBuffer[] {
  const arrays: ArrayBufferView[] = [e.logits, e.combined, ...Object.values(e.cams).flatMap((c) => [c.map, c.raw])];
  if (e.guided) arrays.push(e.guided, ...Object.values(e.guidedGradCam ?? {}));
  return [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))];
}
