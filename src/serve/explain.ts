import type { IncomingMessage } from 'node:http';
import type { ExplainerPool } from '../pool/index.js';
import type { Kernels } from '../kernels/types.js';
import { decodeImage } from '../image/decode.js';
import { readImageHeader } from '../image/header.js';
import { resizeForModel, type ModelSize } from '../cli/model-args.js';
import type { BodyLimits } from './body.js';
import { matchClass } from '../labels/match.js';
import { HttpError } from './errors.js';
import type { Gate } from './gate.js';
import { parseExplainParams } from './params.js';
import { explanationReply, type Reply } from './reply.js';
import { readExplainRequest } from './request.js';

/** What the server knows about its model (the workers hold the model itself). */
export interface ModelInfo {
  readonly labels: readonly string[] | undefined;
  readonly numClasses: number;
}

export interface ExplainContext {
  readonly pool: ExplainerPool;
  readonly gate: Gate;
  readonly kernels: Kernels;
  readonly model: ModelInfo;
  readonly body: BodyLimits;
  /** Largest image (width x height) accepted, checked from its header before decoding. */
  readonly maxPixels: number;
  /** Compute time allowed per request; time in the queue does not count. */
  readonly timeoutMs: number;
  readonly size: ModelSize;
}

/**
 * POST /explain: read and check the request, decode and resize the image, wait for a worker in the
 * bounded queue, explain, answer. `signal` aborts when the client goes away (a queued request then
 * leaves the queue; one being computed finishes, so its worker is not restarted for nothing).
 */
export async function explain(ctx: ExplainContext, req: IncomingMessage, query: URLSearchParams, signal: AbortSignal): Promise<Reply> {
  const start = performance.now();
  // Refuse before reading the body: under overload nothing is spent on a request that cannot wait.
  if (ctx.gate.full) throw ctx.gate.refusal();
  const { image: bytes, params: raw } = await readExplainRequest(req, query, ctx.body);
  const params = parseExplainParams(raw);
  const target = params.target === undefined ? undefined : matchClass(params.target, ctx.model.labels, ctx.model.numClasses);
  const header = readImageHeader(bytes);
  if (header.width * header.height > ctx.maxPixels) {
    throw new HttpError(413, 'IMAGE_TOO_LARGE', `the image is ${header.width}x${header.height} = ${header.width * header.height} pixels, above the limit of ${ctx.maxPixels}`);
  }
  const image = await decodeImage(bytes, ctx.maxPixels);
  const modelImage = resizeForModel(image, ctx.size);
  const options = { layers: params.layers, target, guided: params.guided, method: params.method };
  const explanation = await ctx.gate.run(() => ctx.pool.explain(modelImage, options, { timeoutMs: ctx.timeoutMs }), signal);
  return explanationReply(ctx.kernels, { explanation, labels: ctx.model.labels, image, modelImage, ms: performance.now() - start }, params);
}
