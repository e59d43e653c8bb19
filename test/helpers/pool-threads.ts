import type { Worker } from 'node:worker_threads';

/** A pool thread as tests see it: its Worker, and kill(), which terminates it outside zlib sections as if it had crashed. */
export interface PoolThreadHandle {
  readonly worker: Worker;
  kill(): Promise<number>;
}

/** The pool's threads (undefined while one starts), through a hook that is not part of the public types. */
export const threadsOf = (pool: object): (PoolThreadHandle | undefined)[] =>
  (pool as Record<symbol, () => (PoolThreadHandle | undefined)[]>)[Symbol.for('gradcam-wasm/pool-threads')]!();
