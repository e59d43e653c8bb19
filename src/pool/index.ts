import type { CreateExplainerOptions, ExplainOptions, Explanation } from '../explainer.js';
import { AbortError, DisposedError, InvalidInputError, TimeoutError, WorkerExitedError } from '../errors.js';
import type { ModelInput } from '../image/preprocess.js';
import type { ToWorker } from './protocol.js';
import { PoolThread } from './thread.js';
import { withWorkerHeapFloor } from '../runtime/heap-floor.js';

export interface ExplainerPoolOptions extends CreateExplainerOptions {
  /** Worker threads, each with its own explainer; default 2. */
  readonly size?: number;
  /**
   * A module (its URL, e.g. file:) that each worker imports once its explainer is ready; its export
   * `createTasks(explainer)` gives the tasks that `pool.run` calls by name (see CreateTasks).
   */
  readonly tasks?: string | URL;
  /**
   * Initial size (MB) of each worker's V8 old generation, below which V8 never sets its collection
   * limit: default 64, 0 for V8's default. Small heaps that move megabytes of buffers per call
   * otherwise run a full collection every few calls. Node has no per-worker setting for it, so the
   * pool sets V8's process-wide --initial-old-space-size while its workers start (new isolates read
   * it when they are created) and then puts the process's own value back.
   */
  readonly heapFloorMb?: number;
}

/** Per call: an AbortSignal, and a time limit for the compute (time waiting in the queue does not count). */
export interface PoolCallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** A task call: the buffers of its payload to move to the worker instead of copying them (they are detached here). */
export interface TaskCallOptions extends PoolCallOptions {
  readonly transfer?: readonly ArrayBuffer[];
}

export interface PoolStats {
  readonly size: number;
  /** Calls running on a worker. */
  readonly busy: number;
  /** Calls waiting for a free worker. */
  readonly queued: number;
  /** Workers replaced so far (timed out, aborted, or died). */
  readonly restarts: number;
}

export interface ExplainerPool {
  readonly size: number;
  /**
   * Runs on a free worker (calls wait in arrival order while all are busy). A call that times out or
   * is aborted while running terminates its worker, which is replaced; one that dies rejects with
   * WorkerExitedError. Errors keep their class and fields.
   */
  explain(input: ModelInput, options?: ExplainOptions, call?: PoolCallOptions): Promise<Explanation>;
  /** Logits only (one forward pass), as Explainer.predict. */
  predict(input: ModelInput, call?: PoolCallOptions): Promise<Float32Array>;
  /** Runs a task of the pool's `tasks` module on a free worker, queued, timed and cancelled as explain. */
  run(task: string, payload: unknown, call?: TaskCallOptions): Promise<unknown>;
  stats(): PoolStats;
  /** Rejects everything running or queued with DisposedError, stops the workers, then resolves. */
  dispose(): Promise<void>;
}

/**
 * Node worker_threads, each with its own explainer (1 convolution thread unless `threads` says
 * otherwise), for throughput over many images where intra-op threads stop scaling. Options must be
 * structured-cloneable: paths, URLs or bytes, no functions. Bytes (weights as a Uint8Array or
 * ArrayBuffer) are copied once into shared memory that every worker reads.
 */
export async function createExplainerPool(options: ExplainerPoolOptions): Promise<ExplainerPool> {
  if (options === null || typeof options !== 'object') throw new InvalidInputError('createExplainerPool needs an options object');
  const { size = 2, tasks, heapFloorMb = 64, ...explainerOptions } = options;
  if (!Number.isInteger(size) || size < 1 || size > 64) throw new InvalidInputError(`pool size must be an integer from 1 to 64, got ${size}`);
  if (!Number.isInteger(heapFloorMb) || heapFloorMb < 0 || heapFloorMb > 4096) throw new InvalidInputError(`heapFloorMb must be an integer from 0 to 4096, got ${heapFloorMb}`);
  const { Worker } = await import('node:worker_threads');
  if (tasks !== undefined && !URL.canParse(String(tasks))) throw new InvalidInputError(`tasks must be a module's URL (e.g. file:), got '${String(tasks)}'`);
  const init: ToWorker = { type: 'init', options: shareBytes({ threads: 1, ...explainerOptions }), tasks: tasks === undefined ? undefined : String(tasks) };
  const url = new URL('./worker.js', import.meta.url);
  const start = () => withWorkerHeapFloor(heapFloorMb, () => PoolThread.start(Worker, url, init));
  const started = await Promise.allSettled(Array.from({ length: size }, start));
  const threads = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    await Promise.all(threads.map((t) => t.stop()));
    throw failure.reason;
  }
  return new Pool(threads, start);
}

/** Top-level byte options in one SharedArrayBuffer copy, which postMessage shares instead of copying per worker. */
export function shareBytes<T extends object>(options: T): T {
  const share = (v: unknown) => {
    const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : v instanceof Uint8Array ? v : undefined;
    if (!bytes || bytes.buffer instanceof SharedArrayBuffer) return v;
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
    shared.set(bytes);
    return shared;
  };
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [k, share(v)])) as T;
}

interface Task {
  readonly message: ToWorker;
  readonly transfer: readonly ArrayBuffer[] | undefined;
  readonly timeoutMs: number | undefined;
  /** The slot running it, once it runs. */
  slot?: number;
  timer?: ReturnType<typeof setTimeout>;
  /** Settles the caller's promise once; later outcomes (a result after a timeout) are dropped. */
  settle(err: Error | undefined, value?: unknown): void;
}

const TEST_HOOK = Symbol.for('gradcam-wasm/pool-threads');

class Pool implements ExplainerPool {
  private readonly queue: Task[] = [];
  private readonly running = new Set<Task>();
  /** A thread per slot; undefined while its replacement starts (or after it failed to start). */
  private readonly slots: (PoolThread | undefined)[];
  private readonly starting = new Set<Promise<unknown>>();
  private readonly stopping = new Set<Promise<unknown>>();
  private restarts = 0;
  private disposing: Promise<void> | undefined;

  constructor(
    threads: PoolThread[],
    private readonly startThread: () => Promise<PoolThread>,
  ) {
    this.slots = threads;
    threads.forEach((t, slot) => this.watch(t, slot));
    // Tests reach the threads through this (not part of the public types).
    Object.defineProperty(this, TEST_HOOK, { value: () => [...this.slots] });
  }

  get size(): number {
    return this.slots.length;
  }

  explain(input: ModelInput, options: ExplainOptions = {}, call: PoolCallOptions = {}): Promise<Explanation> {
    return this.submit({ type: 'explain', input, options }, call) as Promise<Explanation>;
  }

  predict(input: ModelInput, call: PoolCallOptions = {}): Promise<Float32Array> {
    return this.submit({ type: 'predict', input }, call) as Promise<Float32Array>;
  }

  run(task: string, payload: unknown, call: TaskCallOptions = {}): Promise<unknown> {
    return this.submit({ type: 'task', name: task, payload }, call);
  }

  stats(): PoolStats {
    return { size: this.size, busy: this.running.size, queued: this.queue.length, restarts: this.restarts };
  }

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      for (const task of [...this.queue.splice(0), ...this.running]) task.settle(new DisposedError('this explainer pool'));
      this.running.clear();
      const stops = this.slots.map((t) => t?.stop());
      this.slots.fill(undefined);
      await Promise.all([...stops, ...this.starting, ...this.stopping]);
    })();
    return this.disposing;
  }

  private submit(message: ToWorker, call: TaskCallOptions): Promise<unknown> {
    if (this.disposing) return Promise.reject(new DisposedError('this explainer pool'));
    const { signal, timeoutMs, transfer } = call ?? {};
    if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1)) {
      return Promise.reject(new InvalidInputError(`timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`));
    }
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      let done = false;
      const onAbort = () => this.cancel(task, abortError(signal!));
      const task: Task = {
        message,
        transfer,
        timeoutMs,
        settle: (err, value) => {
          if (done) return;
          done = true;
          clearTimeout(task.timer);
          signal?.removeEventListener('abort', onAbort);
          this.running.delete(task);
          if (err) reject(err);
          else resolve(value);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(task);
      this.refill();
      this.pump();
    });
  }

  /** Hands queued calls to idle threads, in arrival order. */
  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.findIndex((t) => t !== undefined && !t.busy);
      if (slot < 0) return;
      const thread = this.slots[slot]!;
      const task = this.queue.shift()!;
      let result: Promise<unknown>;
      try {
        result = thread.run(task.message, task.transfer);
      } catch (err) {
        task.settle(err as Error); // not cloneable: the thread stays idle
        continue;
      }
      task.slot = slot;
      this.running.add(task);
      if (task.timeoutMs !== undefined) task.timer = setTimeout(() => this.cancel(task, new TimeoutError(task.timeoutMs!)), task.timeoutMs);
      result.then(
        (value) => task.settle(undefined, value),
        (err: Error) => task.settle(err),
      ).finally(() => this.pump());
    }
  }

  /** Stops a call: a queued one leaves the queue; a running one takes its thread down, which is replaced. */
  private cancel(task: Task, err: Error): void {
    const queued = this.queue.indexOf(task);
    if (queued >= 0) this.queue.splice(queued, 1);
    const running = this.running.has(task);
    task.settle(err);
    if (running) this.replace(task.slot!);
  }

  private watch(thread: PoolThread, slot: number): void {
    thread.onDeath = () => {
      if (this.slots[slot] === thread) this.replace(slot);
    };
  }

  /** Stops the slot's thread (if any) and starts another in its place. */
  private replace(slot: number): void {
    const old = this.slots[slot];
    this.slots[slot] = undefined;
    this.restarts++;
    if (old) this.track(this.stopping, old.stop());
    this.startIn(slot);
  }

  /** Starts threads in empty slots that are not starting already (after a failed restart, a new call retries). */
  private refill(): void {
    if (this.starting.size === 0) this.slots.forEach((t, slot) => t === undefined && this.startIn(slot));
  }

  private startIn(slot: number): void {
    if (this.disposing) return;
    const started = this.startThread().then(
      (thread) => {
        if (this.disposing) return thread.stop();
        this.slots[slot] = thread;
        this.watch(thread, slot);
        this.pump();
      },
      (err: Error) => {
        // With no thread running or starting, the queue would wait for ever: reject it.
        if (this.slots.some((t) => t !== undefined) || this.starting.size > 1) return;
        for (const task of this.queue.splice(0)) task.settle(new WorkerExitedError(`no worker thread could be started: ${err.message}`, { cause: err }));
      },
    );
    this.track(this.starting, started);
  }

  private track(set: Set<Promise<unknown>>, p: Promise<unknown>): void {
    const tracked = p.catch(() => undefined).finally(() => set.delete(tracked));
    set.add(tracked);
  }
}

const abortError = (signal: AbortSignal) =>
  new AbortError(signal.reason instanceof Error && signal.reason.message ? `the call was aborted: ${signal.reason.message}` : 'the call was aborted', { cause: signal.reason });
