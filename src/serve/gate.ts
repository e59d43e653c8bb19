import { AbortError } from '../errors.js';
import { HttpError } from './errors.js';

/**
 * The bounded queue in front of the pool: at most `concurrency` tasks run (one per worker, so a
 * task's compute time starts when it starts), at most `capacity` wait in arrival order, and the
 * next one is refused with 503 and a Retry-After estimated from recent task times.
 */
export interface Gate {
  /** Runs the task now or after those ahead of it; refuses at once when the queue is full. */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  readonly running: number;
  readonly waiting: number;
  /** Every worker busy and the queue full: the next request would be refused. */
  readonly full: boolean;
  /** The 503 for a request that finds the queue full, with a Retry-After from recent task times. */
  refusal(): HttpError;
  /** Resolves once nothing runs or waits. */
  idle(): Promise<void>;
}

interface Waiter {
  start(): void;
  cancel(err: Error): void;
}

export function createGate(concurrency: number, capacity: number): Gate {
  let running = 0;
  const queue: Waiter[] = [];
  let idleWaiters: (() => void)[] = [];
  let meanMs = 1000; // running mean of task times (first estimate: one second)
  let done = 0;

  const next = () => {
    if (running < concurrency) queue.shift()?.start();
    if (running === 0 && queue.length === 0) {
      for (const resolve of idleWaiters) resolve();
      idleWaiters = [];
    }
  };

  const gate: Gate = {
    get running() {
      return running;
    },
    get waiting() {
      return queue.length;
    },
    get full() {
      return running >= concurrency && queue.length >= capacity;
    },
    refusal() {
      const retryAfter = Math.max(1, Math.ceil((meanMs * (running + queue.length)) / concurrency / 1000));
      return new HttpError(503, 'QUEUE_FULL', `all ${concurrency} workers are busy and ${capacity} requests wait; try again later`, { 'Retry-After': String(retryAfter) });
    },
    run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted) return Promise.reject(new AbortError('the client went away'));
      if (gate.full) return Promise.reject(gate.refusal());
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => waiter.cancel(new AbortError('the client went away'));
        const waiter: Waiter = {
          start() {
            signal?.removeEventListener('abort', onAbort);
            running++;
            const t = performance.now();
            // The place is given back before the caller hears of the result, so it sees the gate as it is.
            const finished = () => {
              running--;
              done++;
              meanMs += (performance.now() - t - meanMs) / Math.min(done, 20);
              next();
            };
            new Promise<T>((r) => r(task())).then(
              (v) => (finished(), resolve(v)),
              (e) => (finished(), reject(e)),
            );
          },
          cancel(err) {
            const at = queue.indexOf(waiter);
            if (at < 0) return;
            queue.splice(at, 1);
            reject(err);
            next();
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(waiter);
        next();
      });
    },
    idle() {
      if (running === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
  return gate;
}
