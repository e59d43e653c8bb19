import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

export interface BodyLimits {
  /** Largest accepted body; a larger one is refused with 413 as soon as that is known. */
  readonly maxBytes: number;
  /** Time allowed for the whole body to arrive; a slower client gets 408. */
  readonly timeoutMs: number;
}

/** Thrown when the client closed the connection: nobody is left to answer. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

/** The request body, bounded in size and time. */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (declared > limits.maxBytes) return Promise.reject(tooLarge(limits.maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      if (err) {
        req.resume(); // whatever else arrives is dropped; the answer closes the connection
        reject(err);
      } else {
        resolve(new Uint8Array(Buffer.concat(chunks, size)));
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) finish(tooLarge(limits.maxBytes));
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(new ClientGoneError(err.message));
    const onAborted = () => finish(new ClientGoneError('the client closed the connection'));
    const timer = setTimeout(() => finish(new HttpError(408, 'BODY_TIMEOUT', `the request body did not arrive within ${limits.timeoutMs / 1000} s`)), limits.timeoutMs);
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

const tooLarge = (max: number) => new HttpError(413, 'PAYLOAD_TOO_LARGE', `the request body is larger than the limit of ${max} bytes`);
