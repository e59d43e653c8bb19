import type { Worker } from 'node:worker_threads';
import { InvalidInputError, WorkerExitedError } from '../errors.js';
import { reviveError } from './errors.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { createGate, terminateOutsideSections } from './termination-gate.js';

type WorkerClass = typeof Worker;

interface Call {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * One worker thread with its explainer, as the pool sees it: started (its explainer created), then
 * one call at a time. A thread that exits or fails by itself rejects its call with
 * WorkerExitedError and tells the pool (onDeath) once; one the pool stops tells nobody.
 */
export class PoolThread {
  private call: Call | undefined;
  private dead = false;
  /** Set by the pool: called once when the thread dies by itself. */
  onDeath: (() => void) | undefined;

  private constructor(
    readonly worker: Worker,
    private readonly gate: Int32Array,
  ) {
    worker.on('message', (m: FromWorker) => {
      const call = this.call;
      this.call = undefined;
      if (m.type === 'error') call?.reject(reviveError(m.error));
      else call?.resolve(m.type === 'result' ? m.value : undefined);
    });
    worker.on('error', (err) => this.die(new WorkerExitedError(`a worker thread failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => this.die(new WorkerExitedError(`a worker thread exited (code ${code}) during the call`)));
  }

  /** Starts a thread and creates its explainer; rejects with the explainer's own error when that fails. */
  static async start(Worker: WorkerClass, url: URL, init: ToWorker): Promise<PoolThread> {
    const gate = createGate();
    const thread = new PoolThread(new Worker(url, { workerData: { gate } }), gate);
    try {
      await thread.run(init);
      return thread;
    } catch (err) {
      await thread.stop();
      throw err;
    }
  }

  get busy(): boolean {
    return this.call !== undefined;
  }

  /**
   * Sends one call (the `transfer` buffers move to the thread). Throws InvalidInputError at once
   * (leaving the thread idle) when the message cannot be cloned to the thread.
   */
  run(message: ToWorker, transfer: readonly ArrayBuffer[] = []): Promise<unknown> {
    if (this.dead) return Promise.reject(new WorkerExitedError('the worker thread has exited'));
    try {
      this.worker.postMessage(message, transfer as ArrayBuffer[]);
    } catch (err) {
      throw new InvalidInputError(`a call's input and options must be structured-cloneable to reach a worker thread: ${(err as Error).message}`, { cause: err });
    }
    return new Promise((resolve, reject) => (this.call = { resolve, reject }));
  }

  /** Terminates the thread; a call still running is dropped (the pool has already settled it). */
  stop(): Promise<unknown> {
    this.dead = true;
    this.call?.reject(new WorkerExitedError('the worker thread was stopped'));
    this.call = undefined;
    return this.kill();
  }

  /** Terminates the worker outside any zlib section (see termination-gate); by itself, the thread dies as if it had crashed. */
  kill(): Promise<number> {
    return terminateOutsideSections(this.worker, this.gate);
  }

  private die(err: WorkerExitedError): void {
    if (this.dead) return;
    this.dead = true;
    this.call?.reject(err);
    this.call = undefined;
    void this.kill();
    this.onDeath?.();
  }
}
