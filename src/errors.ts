import { didYouMean } from './suggest.js';

/**
 * Every error this library throws is a GradcamError with a stable `code`, so callers can branch on
 * the kind of failure without parsing messages.
 */
export type ErrorCode =
  | 'INVALID_INPUT'
  | 'LAYER_NOT_FOUND'
  | 'TARGET_OUT_OF_RANGE'
  | 'WEIGHTS_ERROR'
  | 'IMAGE_DECODE_ERROR'
  | 'FILE_NOT_FOUND'
  | 'WASM_INIT_ERROR'
  | 'DISPOSED'
  | 'DOWNLOAD_ERROR'
  | 'OFFLINE'
  | 'UNSUPPORTED'
  | 'ABORTED'
  | 'TIMEOUT'
  | 'WORKER_EXITED'
  | 'OUT_OF_MEMORY';

export class GradcamError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
  // Names are spelled out: bundlers minify class names.
  override name = 'GradcamError';
}

/** Wrong shape, dtype, size or values (NaN/Inf) of an input. */
export class InvalidInputError extends GradcamError {
  override name = 'InvalidInputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_INPUT', message, options);
  }
}

export class LayerNotFoundError extends GradcamError {
  override name = 'LayerNotFoundError';
  readonly layer: string;
  readonly available: readonly string[];
  constructor(layer: string, available: readonly string[]) {
    // A short model's layers are listed; a long one's only the close matches (`available` has them all).
    const hint = available.length <= 12 ? `; available layers: ${available.join(', ')}` : `${didYouMean(layer, available)} (the model has ${available.length} layers; explainer.layers lists them)`;
    super('LAYER_NOT_FOUND', `unknown layer '${layer}'${hint}`);
    this.layer = layer;
    this.available = available;
  }
}

export class TargetOutOfRangeError extends GradcamError {
  override name = 'TargetOutOfRangeError';
  constructor(target: unknown, numClasses: number) {
    super('TARGET_OUT_OF_RANGE', `target class ${String(target)} is not an integer in [0, ${numClasses - 1}]`);
  }
}

/** A weights file that is not usable: bad format, missing/unexpected keys, wrong shapes or dtypes, non-finite values. */
export class WeightsError extends GradcamError {
  override name = 'WeightsError';
  readonly key: string | undefined;
  constructor(message: string, key?: string) {
    super('WEIGHTS_ERROR', key === undefined ? message : `${key}: ${message}`);
    this.key = key;
  }
}

export class ImageDecodeError extends GradcamError {
  override name = 'ImageDecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('IMAGE_DECODE_ERROR', message, options);
  }
}

export class FileNotFoundError extends GradcamError {
  override name = 'FileNotFoundError';
  readonly path: string;
  constructor(path: string) {
    super('FILE_NOT_FOUND', `file not found: ${path}`);
    this.path = path;
  }
}

export class WasmInitError extends GradcamError {
  override name = 'WasmInitError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('WASM_INIT_ERROR', message, options);
  }
}

export class DisposedError extends GradcamError {
  override name = 'DisposedError';
  constructor(what: string) {
    super('DISPOSED', `${what} was disposed and cannot be used any more`);
  }
}

/** A download that failed (network, HTTP status, truncated body); nothing was cached. */
export class DownloadError extends GradcamError {
  override name = 'DownloadError';
  readonly url: string;
  constructor(url: string, message: string, options?: { cause?: unknown }) {
    super('DOWNLOAD_ERROR', `download of ${url} failed: ${message}`, options);
    this.url = url;
  }
}

/** Offline mode (or no network) and nothing cached. */
export class OfflineError extends GradcamError {
  override name = 'OfflineError';
  constructor(message: string) {
    super('OFFLINE', message);
  }
}

/** An operation stopped by its AbortSignal; nothing it allocated is left behind. */
export class AbortError extends GradcamError {
  override name = 'AbortError';
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}

/** An operation that ran past its time limit and was stopped. */
export class TimeoutError extends GradcamError {
  override name = 'TimeoutError';
  readonly timeoutMs: number;
  constructor(timeoutMs: number, message = `the operation took longer than ${timeoutMs} ms and was stopped`) {
    super('TIMEOUT', message);
    this.timeoutMs = timeoutMs;
  }
}

/** A worker thread that exited or failed while it held calls; those calls get this error. */
export class WorkerExitedError extends GradcamError {
  override name = 'WorkerExitedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('WORKER_EXITED', message, options);
  }
}

/** A call whose memory would not fit the wasm heap; `maxPixels` is the largest input (H*W) that fits. */
export class OutOfMemoryError extends GradcamError {
  override name = 'OutOfMemoryError';
  readonly maxPixels: number;
  constructor(message: string, maxPixels: number) {
    super('OUT_OF_MEMORY', message);
    this.maxPixels = maxPixels;
  }
}
