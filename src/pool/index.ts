import type { CreateExplainerOptions, ExplainOptions, Explanation } from '../explainer.js';
import { GradcamError, InvalidInputError, type ErrorCode } from '../errors.js';
import type { ModelInput } from '../image/preprocess.js';
import type { FromWorker, ToWorker } from './protocol.js';

export interface ExplainerPoolOptions extends CreateExplainerOptions {
  /** Worker threads, each with its own explainer; default 2. */
  readonly size?: number;
}

export interface ExplainerPool {
  readonly size: number;
  /** Runs on the least busy worker; calls made together run in parallel across workers. */
  explain(input: ModelInput, options?: ExplainOptions): Promise<Explanation>;
  dispose(): Promise<void>;
}

interface Pending {
  resolve(e: Explanation): void;
  reject(e: Error): void;
}

const toError = (m: Extract<FromWorker, { type: 'error' }>): Error =>
  m.code ? new GradcamError(m.code as ErrorCode, m.message) : new Error(m.message);

/**
 * Node worker_threads, each with its own explainer (1 convolution thread unless `threads` says
 * otherwise), for throughput over many images where intra-op threads stop scaling. Options must be
 * structured-cloneable: paths, URLs or bytes, no functions.
 */
export async function createExplainerPool(options: ExplainerPoolOptions): Promise<ExplainerPool> {
  const { size = 2, ...explainerOptions } = options;
  if (!Number.isInteger(size) || size < 1 || size > 64) throw new InvalidInputError(`pool size must be an integer from 1 to 64, got ${size}`);
  const { Worker } = await import('node:worker_threads');
  const init: ToWorker = { type: 'init', options: { threads: 1, ...explainerOptions } };
  const start = () =>
    new Promise<{ worker: InstanceType<typeof Worker>; pending: Map<number, Pending> }>((resolve, reject) => {
      const worker = new Worker(new URL('./worker.js', import.meta.url));
      const pending = new Map<number, Pending>();
      worker.once('error', reject);
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') return resolve({ worker, pending });
        if (m.id === null) return reject(toError(m as Extract<FromWorker, { type: 'error' }>));
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.type === 'result') p?.resolve(m.explanation);
        else p?.reject(toError(m));
      });
      worker.postMessage(init);
    });
  const started = await Promise.allSettled(Array.from({ length: size }, start));
  const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    await Promise.all(workers.map((w) => w.worker.terminate()));
    throw failure.reason;
  }
  let next = 0;
  let disposed = false;
  return {
    size,
    explain(input, opts = {}) {
      if (disposed) return Promise.reject(new GradcamError('DISPOSED', 'this explainer pool was disposed'));
      const w = workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = next++;
      return new Promise<Explanation>((resolve, reject) => {
        w.pending.set(id, { resolve, reject });
        w.worker.postMessage({ type: 'explain', id, input, options: opts } satisfies ToWorker);
      });
    },
    async dispose() {
      disposed = true;
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
