// A second thread for our heap kernel's matrix products (Node, threaded backend only). XNNPACK's matMuls
// run on tfjs-wasm's threads; ours run on the calling thread, so a batch of independent products (the 16
// of a Winograd convolution) is split: half here, half on a helper thread that instantiates the same
// kernels on the same shared memory. Each product runs whole on one thread: the bits do not depend on
// the split. The helper waits on a futex (Atomics.wait), the caller blocks until it is done.
import type { HeapKernelExports, MatMul } from '../ops/kernels/heap.js';

/** The control block: [request, done, count, failed], then 6 words per product (a, b, c, m, k, n). */
const CONTROL_WORDS = 4;
const MAX_PRODUCTS = 64;
const REQUEST = 0;
const DONE = 1;
const COUNT = 2;
const FAILED = 3;
/** Longest wait for the helper before the products are taken as lost (a stuck helper must not hang the caller). */
const WAIT_MS = 60_000;

/**
 * The helper thread's whole program (no module to locate, from dist/ or from source alike): the heap
 * kernels on the shared memory, running the products the control block lists each time its request
 * counter moves, then raising its done counter. Written to run as a script or as a module (workers
 * inherit the process's flags, --input-type=module included), hence the dynamic import.
 */
const HELPER_SOURCE = `
import('node:worker_threads').then(({ parentPort, workerData }) => {
  const { module, memory, control } = workerData;
  const { matmul } = new WebAssembly.Instance(module, { env: { memory } }).exports;
  parentPort.postMessage('ready');
  for (let seen = 0; ; ) {
    Atomics.wait(control, ${REQUEST}, seen);
    seen = Atomics.load(control, ${REQUEST});
    try {
      for (let i = 0, at = ${CONTROL_WORDS}; i < control[${COUNT}]; i++, at += 6) matmul(control[at], control[at + 1], control[at + 2], control[at + 3], control[at + 4], control[at + 5]);
    } catch {
      control[${FAILED}] = 1;
    }
    Atomics.store(control, ${DONE}, seen);
    Atomics.notify(control, ${DONE});
  }
});
`;

/** Runs the products on the calling thread, one after another. */
export function matmulsHere(kernels: HeapKernelExports, products: readonly MatMul[]): void {
  for (const p of products) kernels.matmul(p.a, p.b, p.c, p.m, p.k, p.n);
}

export interface MatMulHelper {
  /** Runs the products, about half of them on the helper thread; returns once all are written. */
  run(kernels: HeapKernelExports, products: readonly MatMul[]): void;
}

/** Starts the helper thread on `memory` (shared) with the heap kernels' compiled `module`. */
export async function startMatMulHelper(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<MatMulHelper> {
  const { Worker } = await import('node:worker_threads');
  const control = new Int32Array(new SharedArrayBuffer(4 * (CONTROL_WORDS + 6 * MAX_PRODUCTS)));
  const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { module, memory, control } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the matMul helper thread exited (${code}) while starting`)));
  });
  worker.removeAllListeners();
  worker.on('error', () => undefined); // reported to the caller as a product that never finished
  worker.unref(); // a finished process exits
  let seq = 0;
  let dead = false;
  return {
    run(kernels, products) {
      const mine = dead || products.length < 2 ? products.length : Math.ceil(products.length / 2);
      const theirs = products.slice(mine, mine + MAX_PRODUCTS);
      const local = [...products.slice(0, mine), ...products.slice(mine + theirs.length)];
      if (theirs.length > 0) {
        theirs.forEach((p, i) => control.set([p.a, p.b, p.c, p.m, p.k, p.n], CONTROL_WORDS + 6 * i));
        control[COUNT] = theirs.length;
        control[FAILED] = 0;
        Atomics.store(control, REQUEST, ++seq);
        Atomics.notify(control, REQUEST);
      }
      matmulsHere(kernels, local);
      if (theirs.length === 0) return;
      const started = Date.now();
      for (let done = Atomics.load(control, DONE); done !== seq; done = Atomics.load(control, DONE)) {
        if (Atomics.wait(control, DONE, done, 1000) === 'timed-out' && Date.now() - started > WAIT_MS) {
          dead = true;
          break;
        }
      }
      // A product the helper did not finish is done here, whole (it writes the same bits).
      if (dead || control[FAILED] !== 0) {
        dead = true;
        matmulsHere(kernels, theirs);
      }
    },
  };
}
