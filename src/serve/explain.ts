import type { IncomingMessage } from 'node:http';
import type { ExplainerPool } from '../pool/index.js';
import { readImageHeader } from '../image/header.js';
import type { ModelSize } from '../cli/model-args.js';
import type { BodyLimits } from './body.js';
import { matchClass } from '../labels/match.js';
import { HttpError } from './errors.js';
import type { WorkerMemory } from './metrics.js';
import type { Gate } from './gate.js';
import { parseExplainParams } from './params.js';
import { explanationReply, type Reply } from './reply.js';
import { readExplainRequest } from './request.js';
import type { UploadJob, UploadResult } from './tasks.js';

/** What the server knows about its model (the workers hold the model itself). */
export interface ModelInfo {
  readonly labels: readonly string[] | undefined;
  readonly numClasses: number;
}

export interface ExplainContext {
  readonly pool: ExplainerPool;
  readonly gate: Gate;
  readonly model: ModelInfo;
  readonly body: BodyLimits;
  /** Largest image (width x height) accepted, checked from its header before decoding. */
  readonly maxPixels: number;
  /** Compute time allowed per request; time in the queue does not count. */
  readonly timeoutMs: number;
  readonly size: ModelSize;
  /** Each worker's memory as it reported after its last request, by thread id (replaced workers drop out). */
  readonly workerMemory: Map<number, WorkerMemory>;
}

/**
 * POST /explain: read and check the request (the image's size from its header), wait for a worker in
 * the bounded queue, and hand the encoded image to it: the worker decodes, explains and encodes the
 * pictures and the answer's body (see tasks.ts), so this thread only moves bytes. `signal` aborts when
 * the client goes away (a queued request then leaves the queue; one being computed finishes, so its
 * worker is not restarted for nothing).
 */
export async function explain(ctx: ExplainContext, req: IncomingMessage, query: URLSearchParams, signal: AbortSignal): Promise<Reply> {
  const start = performance.now();
  // Refuse before reading the body: under overload nothing is spent on a request that cannot wait.
  if (ctx.gate.full) throw ctx.gate.refusal();
  const { image, params: raw } = await readExplainRequest(req, query, ctx.body);
  const params = parseExplainParams(raw);
  const target = params.target === undefined ? undefined : matchClass(params.target, ctx.model.labels, ctx.model.numClasses);
  const header = readImageHeader(image);
  if (header.width * header.height > ctx.maxPixels) {
    throw new HttpError(413, 'IMAGE_TOO_LARGE', `the image is ${header.width}x${header.height} = ${header.width * header.height} pixels, above the limit of ${ctx.maxPixels}`);
  }
  // The bytes move to the worker: a view into a larger (pooled) buffer is copied out first.
  const bytes = image.byteOffset === 0 && image.byteLength === image.buffer.byteLength ? image : image.slice();
  const job: UploadJob = {
    bytes,
    maxPixels: ctx.maxPixels,
    size: ctx.size,
    options: { layers: params.layers, target, guided: params.guided, method: params.method },
    params,
    labels: params.figure ? ctx.model.labels : undefined,
  };
  const call = { timeoutMs: ctx.timeoutMs, transfer: [bytes.buffer as ArrayBuffer] };
  const { summary, body, worker, memory } = (await ctx.gate.run(() => ctx.pool.run('explainUpload', job, call), signal)) as UploadResult;
  ctx.workerMemory.delete(worker); // re-inserted last, so the oldest entries are those of replaced workers
  ctx.workerMemory.set(worker, memory);
  for (const id of ctx.workerMemory.keys()) if (ctx.workerMemory.size > ctx.pool.size) ctx.workerMemory.delete(id);
  return explanationReply(summary, body, ctx.model.labels, performance.now() - start, params);
}
