// The server's work in the pool's worker threads (ExplainerPoolOptions.tasks = SERVE_TASKS): decoding the
// upload, explaining it and encoding the reply's pictures, so that the server's own thread does little
// more than HTTP.
import { getHeapStatistics } from 'node:v8';
import { threadId } from 'node:worker_threads';
import { tf } from '../tf.js';
import type { Explainer, ExplainOptions } from '../explainer.js';
import { decodeUpload } from './png.js';
import { resizeForModel, type ModelSize } from '../cli/model-args.js';
import { loadKernels } from '../runtime/index.js';
import type { CreateTasks, TaskResult } from '../pool/protocol.js';
import type { WorkerMemory } from './metrics.js';
import type { ExplainParams } from './params.js';
import { encodePictures } from './pictures.js';
import { replyBody, summaryOf, type ExplanationSummary } from './reply.js';

/** One upload to explain: its encoded bytes (transferred to the worker), limits, and what to explain and draw. */
export interface UploadJob {
  readonly bytes: Uint8Array;
  readonly maxPixels: number;
  readonly size: ModelSize;
  readonly options: ExplainOptions;
  readonly params: ExplainParams;
  /** Only for the figure, whose title names the target. */
  readonly labels?: readonly string[];
}

/**
 * What comes back to the server's thread: the explanation's summary and the encoded body of the answer
 * (replyBody), not the explanation's arrays, which stay and die here.
 */
export interface UploadResult {
  readonly summary: ExplanationSummary;
  readonly body: Uint8Array;
  /** The worker's thread id and its memory once the request's own memory is freed (for /metrics). */
  readonly worker: number;
  readonly memory: WorkerMemory;
}

export const createTasks: CreateTasks = async (explainer: Explainer, { uninterruptible }) => {
  const kernels = await loadKernels();
  return {
    async explainUpload(job: UploadJob): Promise<TaskResult> {
      const image = await uninterruptible(() => decodeUpload(job.bytes, job.maxPixels, kernels));
      const modelImage = resizeForModel(image, job.size);
      const explanation = await explainer.explain(modelImage, job.options);
      const pictures = await uninterruptible(() => encodePictures(kernels, explanation, image, modelImage, job.labels, job.params));
      const body = replyBody(explanation, pictures, job.params, kernels);
      const summary = summaryOf(explanation);
      const { numTensors, numBytes } = tf.memory();
      const memory: WorkerMemory = { tensors: numTensors, tensorBytes: numBytes, heapUsedBytes: getHeapStatistics().used_heap_size };
      const value: UploadResult = { summary, body, worker: threadId, memory };
      return { value, transfer: [...new Set([body.buffer as ArrayBuffer, summary.logits.buffer as ArrayBuffer])] };
    },
  };
};
