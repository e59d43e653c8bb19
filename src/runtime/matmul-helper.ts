// A second thread for our heap kernel's matrix products (threaded backend: Node, and cross-origin isolated
// pages and workers, where the thread is a Web Worker). XNNPACK's matMuls
// run on tfjs-wasm's threads; ours run on the calling thread, so a batch of independent products (the 16
// of a Winograd convolution) is shared with a helper thread that instantiates the same kernels on the same
// shared memory. The calling thread claims products from the front of the batch, the helper from its back,
// so the thread that is free first takes the next one (the helper wakes late, or a core is busy): a fixed
// half each left the calling thread waiting ~45 ms per ResNet34 seed figure. A Winograd convolution's input
// transform comes in two halves, each writing the left operands of 8 products: the first thread to claim
// one of those products makes that half first, so each thread mostly transforms what it then multiplies,
// and the transform runs on both. Each product runs whole on one thread: the bits do not depend on who ran
// it. The helper waits on a futex (Atomics.wait); the caller returns once all are written.
import { LONE_PRODUCT_PIECES, type HeapKernelExports, type MatMul, type WinogradHalf } from '../ops/kernels/heap.js';
import { runtime } from './env.js';

/**
 * The control block: [request, done, count, failed, ends, current, state], then INPUT_WORDS per input
 * transform (its state, then x, n, h, w, c, v, half), then PRODUCT_WORDS per product (a, b, c, m, k, n,
 * packAt: 0 unless B is stored transposed, 1 + the input transform it reads or 0). `ends` holds the next
 * product from the front (low 16 bits) and one past the next from the back (high 16 bits), claimed by
 * compare-and-swap; `current` the product the helper runs; `state` is POSTED until the helper takes a
 * request (RUNNING) or the caller, having run them all, withdraws it (IDLE). An input transform's state
 * is UNCLAIMED, MAKING (a thread runs it) or MADE.
 */
const CONTROL_WORDS = 7;
const MAX_PRODUCTS = 64;
const MAX_INPUTS = 2;
const INPUT_WORDS = 8;
const PRODUCT_WORDS = 8;
const INPUTS = CONTROL_WORDS;
const PRODUCTS = INPUTS + INPUT_WORDS * MAX_INPUTS;
const REQUEST = 0;
const DONE = 1;
const COUNT = 2;
const FAILED = 3;
const ENDS = 4;
const CURRENT = 5;
const STATE = 6;
const IDLE = 0;
const POSTED = 1;
const RUNNING = 2;
const UNCLAIMED = 0;
const MAKING = 1;
const MADE = 2;
/** Longest wait for the helper before its work is taken as lost (a stuck helper must not hang the caller). */
const WAIT_MS = 60_000;

/**
 * The helper thread's whole program (no module to locate, from dist/ or from source alike), as a function
 * of the compiled kernels, the shared memory and control block, and a callback for "ready": the heap kernels
 * on the shared memory; each time the request counter moves, it takes the request unless the caller has
 * withdrawn it, claims products from the back until none is left (making the input half a product reads
 * first if no thread has), then raises its done counter.
 */
const HELPER_PROGRAM = `(module, memory, control, ready) => {
  const { matmul, matmulBT, winogradInput } = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const claim = () => {
    for (;;) {
      const ends = Atomics.load(control, ${ENDS});
      const front = ends & 0xffff, back = ends >>> 16;
      if (front >= back) return -1;
      if (Atomics.compareExchange(control, ${ENDS}, ends, front | ((back - 1) << 16)) === ends) return back - 1;
    }
  };
  // Makes input transform j unless it is made; waits while the caller makes it.
  const input = (j) => {
    const s = ${INPUTS} + ${INPUT_WORDS} * j;
    for (;;) {
      const state = Atomics.compareExchange(control, s, ${UNCLAIMED}, ${MAKING});
      if (state === ${MADE}) return;
      if (state === ${MAKING}) { Atomics.wait(control, s, ${MAKING}); continue; }
      try {
        winogradInput(control[s + 1], control[s + 2], control[s + 3], control[s + 4], control[s + 5], control[s + 6], control[s + 7]);
      } catch (error) {
        Atomics.store(control, s, ${UNCLAIMED}); // the caller makes it
        Atomics.notify(control, s);
        throw error;
      }
      Atomics.store(control, s, ${MADE});
      Atomics.notify(control, s);
      return;
    }
  };
  ready();
  for (let seen = 0; ; ) {
    Atomics.wait(control, ${REQUEST}, seen);
    seen = Atomics.load(control, ${REQUEST});
    if (Atomics.compareExchange(control, ${STATE}, ${POSTED}, ${RUNNING}) !== ${POSTED}) continue;
    const request = Atomics.load(control, ${REQUEST});
    try {
      for (let i = claim(); i >= 0; i = claim()) {
        Atomics.store(control, ${CURRENT}, i);
        const at = ${PRODUCTS} + ${PRODUCT_WORDS} * i;
        if (control[at + 7]) input(control[at + 7] - 1);
        if (control[at + 6]) matmulBT(control[at], control[at + 1], control[at + 2], control[at + 3], control[at + 4], control[at + 5], control[at + 6]);
        else matmul(control[at], control[at + 1], control[at + 2], control[at + 3], control[at + 4], control[at + 5]);
      }
      Atomics.store(control, ${CURRENT}, -1);
    } catch {
      Atomics.store(control, ${FAILED}, 1);
    }
    Atomics.store(control, ${DONE}, request);
    Atomics.notify(control, ${DONE});
  }
}`;

/**
 * The program as a Node worker thread's script (its data in workerData). Written to run as a script or as
 * a module (workers inherit the process's flags, --input-type=module included), hence the dynamic import.
 */
const NODE_HELPER = `import('node:worker_threads').then(({ parentPort, workerData: d }) => (${HELPER_PROGRAM})(d.module, d.memory, d.control, () => parentPort.postMessage('ready')));`;

/** The program as a Web Worker's script: its data comes in the first message (it never returns to the event loop after). */
const WEB_HELPER = `self.onmessage = ({ data: d }) => (${HELPER_PROGRAM})(d.module, d.memory, d.control, () => self.postMessage('ready'));`;

/** One product on the calling thread. */
const runProduct = (kernels: HeapKernelExports, p: MatMul): void =>
  p.packAt ? kernels.matmulBT(p.a, p.b, p.c, p.m, p.k, p.n, p.packAt) : kernels.matmul(p.a, p.b, p.c, p.m, p.k, p.n);

const runInput = (kernels: HeapKernelExports, t: WinogradHalf): void => kernels.winogradInput(t.x, t.n, t.h, t.w, t.c, t.v, t.half);

/** Runs the input transforms, then the products, on the calling thread, one after another. */
export function matmulsHere(kernels: HeapKernelExports, products: readonly MatMul[], inputs: readonly WinogradHalf[] = []): void {
  for (const t of inputs) runInput(kernels, t);
  for (const p of products) runProduct(kernels, p);
}

/**
 * A lone product cut by rows (at multiples of 4, the kernel's block) into LONE_PRODUCT_PIECES: each output
 * is still computed whole, in the same order; each piece packs a transposed B in an area of its own.
 */
function byRows(p: MatMul): MatMul[] {
  const rows = Math.ceil(p.m / LONE_PRODUCT_PIECES / 4) * 4;
  const pieces: MatMul[] = [];
  for (let r = 0, i = 0; r < p.m; r += rows, i++) {
    const packAt = p.packAt ? { packAt: p.packAt + i * p.k * 32 } : {};
    pieces.push({ a: p.a + r * p.k * 4, b: p.b, c: p.c + r * p.n * 4, m: Math.min(rows, p.m - r), k: p.k, n: p.n, ...packAt });
  }
  return pieces;
}

export interface MatMulHelper {
  /** Runs the input transforms and the products, about half of them on the helper thread; returns once all are written. */
  run(kernels: HeapKernelExports, products: readonly MatMul[], inputs?: readonly WinogradHalf[]): void;
}

interface HelperData {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly control: Int32Array;
}

/** Node: a worker thread that does not keep the process alive; its errors surface as work that never finished. */
async function startNodeThread(data: HelperData): Promise<void> {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(NODE_HELPER, { eval: true, workerData: data });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the matMul helper thread exited (${code}) while starting`)));
  });
  worker.removeAllListeners();
  worker.on('error', () => undefined);
  worker.unref(); // a finished process exits
}

/** Pages and workers: a Web Worker from a blob URL (a content security policy may forbid it: the start then fails). */
async function startWebWorker(data: HelperData): Promise<void> {
  const url = URL.createObjectURL(new Blob([WEB_HELPER], { type: 'text/javascript' }));
  try {
    const worker = new Worker(url);
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      worker.onerror = (e) => reject(new Error(`the matMul helper worker failed to start: ${e.message}`));
      worker.postMessage(data);
    });
    worker.onmessage = worker.onerror = null;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Atomics.wait's contract for a thread that may not block: polls until a[i] is not v or ms have passed. */
function poll(a: Int32Array, i: number, v: number, ms: number): 'not-equal' | 'timed-out' {
  const end = performance.now() + ms;
  while (Atomics.load(a, i) === v) if (performance.now() > end) return 'timed-out';
  return 'not-equal';
}

/** Starts the helper thread on `memory` (shared) with the heap kernels' compiled `module`. */
export async function startMatMulHelper(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<MatMulHelper> {
  const control = new Int32Array(new SharedArrayBuffer(4 * (PRODUCTS + PRODUCT_WORDS * MAX_PRODUCTS)));
  await (runtime.isNode ? startNodeThread : startWebWorker)({ module, memory, control });
  // A page's main thread may not block (Atomics.wait throws there): it polls instead.
  const wait = runtime.isBrowser ? poll : Atomics.wait;
  let seq = 0;
  let dead = false;

  /** The next product from the front, or -1. */
  function claim(): number {
    for (;;) {
      const ends = Atomics.load(control, ENDS);
      const front = ends & 0xffff;
      if (front >= ends >>> 16) return -1;
      if (Atomics.compareExchange(control, ENDS, ends, ends + 1) === ends) return front;
    }
  }
  /**
   * Makes input transform j unless it is made; waits while the helper makes it. A helper that does not
   * finish it within WAIT_MS is taken as dead, and the transform is made here (the same bits).
   */
  function input(kernels: HeapKernelExports, inputs: readonly WinogradHalf[], j: number): void {
    const s = INPUTS + INPUT_WORDS * j;
    const started = Date.now();
    for (;;) {
      const state = Atomics.compareExchange(control, s, UNCLAIMED, MAKING);
      if (state === MADE) return;
      if (state === MAKING && !dead) {
        if (wait(control, s, MAKING, 1000) === 'timed-out' && Date.now() - started > WAIT_MS) dead = true;
        continue;
      }
      try {
        runInput(kernels, inputs[j]!);
      } catch (error) {
        Atomics.store(control, s, UNCLAIMED);
        Atomics.notify(control, s);
        throw error;
      }
      Atomics.store(control, s, MADE);
      Atomics.notify(control, s);
      return;
    }
  }
  /** Runs up to MAX_PRODUCTS products, this thread claiming from the front and the helper from the back. */
  function share(kernels: HeapKernelExports, products: readonly MatMul[], inputs: readonly WinogradHalf[]): void {
    inputs.forEach((t, j) => {
      const s = INPUTS + INPUT_WORDS * j;
      control[s] = UNCLAIMED;
      control[s + 1] = t.x;
      control[s + 2] = t.n;
      control[s + 3] = t.h;
      control[s + 4] = t.w;
      control[s + 5] = t.c;
      control[s + 6] = t.v;
      control[s + 7] = t.half;
    });
    products.forEach((p, i) => {
      const at = PRODUCTS + PRODUCT_WORDS * i;
      control[at] = p.a;
      control[at + 1] = p.b;
      control[at + 2] = p.c;
      control[at + 3] = p.m;
      control[at + 4] = p.k;
      control[at + 5] = p.n;
      control[at + 6] = p.packAt ?? 0;
      control[at + 7] = p.after === undefined ? 0 : p.after + 1;
    });
    control[COUNT] = products.length;
    control[FAILED] = 0;
    control[CURRENT] = -1;
    Atomics.store(control, ENDS, products.length << 16);
    Atomics.store(control, REQUEST, ++seq);
    Atomics.store(control, STATE, POSTED);
    Atomics.notify(control, REQUEST);
    let failure: { error: unknown } | undefined;
    try {
      for (let i = claim(); i >= 0; i = claim()) {
        const p = products[i]!;
        if (p.after !== undefined) input(kernels, inputs, p.after);
        runProduct(kernels, p);
      }
    } catch (error) {
      // The helper claims nothing more, and is waited for below before the error is thrown: it must not
      // write into tensors the caller frees once the call has failed.
      Atomics.store(control, ENDS, 0);
      failure = { error };
    }
    // All claimed. A helper that has not taken the request yet never will; one that has is waited for.
    if (Atomics.compareExchange(control, STATE, POSTED, IDLE) !== POSTED) waitForHelper(kernels, products, inputs);
    if (failure) throw failure.error;
  }
  function waitForHelper(kernels: HeapKernelExports, products: readonly MatMul[], inputs: readonly WinogradHalf[]): void {
    const started = Date.now();
    for (let done = Atomics.load(control, DONE); done !== seq && !dead; done = Atomics.load(control, DONE)) {
      if (wait(control, DONE, done, 1000) === 'timed-out' && Date.now() - started > WAIT_MS) dead = true;
    }
    Atomics.store(control, STATE, IDLE);
    // The product the helper failed on, or was still running when given up on, is done here, whole (the
    // same bits), after its input transform if that was not made.
    const lost = Atomics.load(control, CURRENT);
    if (dead || control[FAILED] !== 0) {
      dead = true;
      if (lost >= 0) {
        const p = products[lost]!;
        if (p.after !== undefined && control[INPUTS + INPUT_WORDS * p.after] !== MADE) runInput(kernels, inputs[p.after]!);
        runProduct(kernels, p);
      }
    }
  }
  return {
    run(kernels, batch, inputs = []) {
      if (dead) return matmulsHere(kernels, batch, inputs);
      if (batch.length > 1 && batch.length <= MAX_PRODUCTS && inputs.length <= MAX_INPUTS) return share(kernels, batch, inputs);
      // Otherwise the input transforms run first, here, and the products (a lone one cut by rows, or a long
      // batch in parts) without them.
      for (const t of inputs) runInput(kernels, t);
      const products = batch.length === 1 ? byRows(batch[0]!) : batch.map(({ after: _, ...p }) => p);
      for (let i = 0; i < products.length; i += MAX_PRODUCTS) share(kernels, products.slice(i, i + MAX_PRODUCTS), []);
    },
  };
}
