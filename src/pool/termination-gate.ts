import type { Worker } from 'node:worker_threads';

// Node 20 aborts the whole process when a worker thread is terminated while it is inside node:zlib
// (between a zlib handle's creation and its init: "Assertion failed: init_done_ && close before init",
// then a fatal HandleScope error in Worker::Run). The server's PNG reader and jimp (through pngjs) use
// zlib for every PNG they read or write. So a worker marks such work as a section, and the pool
// terminates a thread only outside one.
//
// One Int32 shared by the pool and the worker: FREE, IN_SECTION (the worker is in a section) or
// STOPPING (the pool has claimed the thread to terminate it; the worker enters no more sections).

const FREE = 0;
const IN_SECTION = 1;
const STOPPING = 2;

/** The shared word, created by the pool per thread and given to the worker in its workerData. */
export const createGate = (): Int32Array => new Int32Array(new SharedArrayBuffer(4));

/** Thrown in a worker that tries to enter a section after the pool has claimed it (its caller is gone). */
export class WorkerStoppingError extends Error {
  override readonly name = 'WorkerStoppingError';
}

/**
 * The worker's side: the function it returns runs fn as a section (nested or concurrent sections
 * count as one). A pool that wants to terminate this thread waits until no section is running.
 */
export function sections(gate: Int32Array): <T>(fn: () => Promise<T> | T) => Promise<T> {
  let depth = 0;
  return async (fn) => {
    if (depth === 0 && Atomics.compareExchange(gate, 0, FREE, IN_SECTION) !== FREE) {
      throw new WorkerStoppingError('the worker thread is being stopped');
    }
    depth++;
    try {
      return await fn();
    } finally {
      if (--depth === 0) Atomics.store(gate, 0, FREE);
    }
  };
}

/**
 * The pool's side: claims the thread (the worker enters no new section), waits for a running section
 * to end (polling every `pollMs`, at most `maxWaitMs`, after which it terminates anyway), then terminates.
 */
export async function terminateOutsideSections(worker: Worker, gate: Int32Array, maxWaitMs = 30_000, pollMs = 2): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  while (Atomics.compareExchange(gate, 0, FREE, STOPPING) === IN_SECTION && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  Atomics.store(gate, 0, STOPPING);
  return worker.terminate();
}
