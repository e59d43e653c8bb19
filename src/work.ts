import { AbortError, InvalidInputError } from './errors.js';

/** Progress of long explanations (AblationCAM, ScoreCAM, augSmooth): units done of the total known so far. */
export interface ProgressEvent {
  readonly done: number;
  readonly total: number;
}

export interface WorkOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
}

/** Checks the options of a long call: an AbortSignal and a progress callback, both optional. */
export function checkWorkOptions({ signal, onProgress }: WorkOptions): void {
  if (signal !== undefined && (signal === null || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')) {
    throw new InvalidInputError('signal must be an AbortSignal');
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new InvalidInputError('onProgress must be a function');
}

/**
 * Counts units of a long call, reports them, and stops it once its signal aborts. Between units it yields
 * to the event loop (when there is a signal or a callback), so that an abort or a repaint can happen.
 */
export class Work {
  private done = 0;
  total = 0;
  constructor(private readonly options: WorkOptions) {}

  /** Throws AbortError if the signal has aborted. */
  check(): void {
    const { signal } = this.options;
    if (signal?.aborted) throw new AbortError('the explanation was aborted', { cause: signal.reason });
  }

  async advance(count: number): Promise<void> {
    this.done += count;
    const { signal, onProgress } = this.options;
    onProgress?.({ done: this.done, total: Math.max(this.total, this.done) });
    if (signal || onProgress) await new Promise((resolve) => setTimeout(resolve, 0));
    this.check();
  }
}
