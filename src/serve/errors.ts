import { GradcamError, type ErrorCode } from '../errors.js';

/** Codes of failures that belong to HTTP itself; the engine's own failures keep their ErrorCode. */
export type HttpErrorCode =
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'IMAGE_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BAD_REQUEST'
  | 'BODY_TIMEOUT'
  | 'QUEUE_FULL'
  | 'INTERNAL';

/** A failure with its HTTP status, answered as `{ error: { code, message } }`. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode | ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

// The engine's typed errors: what the client can fix is 4xx, a stopped or lost computation 5xx.
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  LAYER_NOT_FOUND: 400,
  TARGET_OUT_OF_RANGE: 400,
  IMAGE_DECODE_ERROR: 400,
  UNSUPPORTED: 400,
  OUT_OF_MEMORY: 413,
  TIMEOUT: 504,
  DISPOSED: 503,
  WORKER_EXITED: 500,
};

/** Any thrown value as an HttpError; an engine error keeps its code (the pool rebuilds its class across the thread). */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof GradcamError) return new HttpError(STATUS[err.code] ?? 500, err.code, err.message);
  return new HttpError(500, 'INTERNAL', (err as Error)?.message ?? String(err));
}
