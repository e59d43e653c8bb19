import type { CreateExplainerOptions, Explainer, ExplainOptions, Explanation } from '../explainer.js';
import type { ModelInput } from '../image/preprocess.js';
import type { SerializedError } from './errors.js';

/** Messages between an ExplainerPool and its workers (structured-cloneable). */
export type ToWorker =
  | { readonly type: 'init'; readonly options: CreateExplainerOptions; readonly tasks?: string }
  | { readonly type: 'explain'; readonly input: ModelInput; readonly options: ExplainOptions }
  | { readonly type: 'predict'; readonly input: ModelInput }
  | { readonly type: 'task'; readonly name: string; readonly payload: unknown };

/** A worker runs one call at a time, so a reply needs no id. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly value: unknown }
  | { readonly type: 'error'; readonly error: SerializedError };

/**
 * A module of tasks that run in each worker beside explain and predict (ExplainerPoolOptions.tasks):
 * its export `createTasks` is called once per worker with the worker's explainer and context.
 */
export type CreateTasks = (explainer: Explainer, context: TaskContext) => Promise<Readonly<Record<string, PoolTask>>> | Readonly<Record<string, PoolTask>>;

export interface TaskContext {
  /**
   * Runs work that uses node:zlib (the server's PNG reader, and jimp's pngjs, read and write PNGs with
   * it) so that the pool never terminates the worker in the middle of it (a timeout or abort still
   * answers the caller at once; only the thread's termination waits for the section to end): Node 20
   * aborts the whole process when a worker is terminated inside zlib.
   */
  readonly uninterruptible: <T>(fn: () => Promise<T> | T) => Promise<T>;
}

/** A task: its result, and the buffers to transfer with it (instead of copying them). */
export type PoolTask = (payload: never) => Promise<TaskResult> | TaskResult;
export interface TaskResult {
  readonly value: unknown;
  readonly transfer?: readonly ArrayBuffer[];
}

/** The buffers of an explanation's arrays, transferred instead of copied. */
export function transferables(e: Explanation | Float32Array): ArrayBuffer[] {
  if (e instanceof Float32Array) return [e.buffer as ArrayBuffer];
  const arrays: ArrayBufferView[] = [e.logits, e.combined, ...Object.values(e.cams).flatMap((c) => [c.map, c.raw])];
  if (e.guided) arrays.push(e.guided, ...Object.values(e.guidedGradCam ?? {}));
  return [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))];
}
