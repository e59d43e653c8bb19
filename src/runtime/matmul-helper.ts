// A second thread for our heap kernel's matrix products (Node, threaded backend only). XNNPACK's matMuls
// run on tfjs-wasm's threads; ours run on the calling thread, so a batch of independent products (the 16
// of a Winograd convolution) is shared with a helper thread that instantiates the same kernels on the same
// shared memory. Both threads claim the products one at a time from a shared counter, so the thread that
// is free first takes the next one (the helper wakes late, or a core is busy): a fixed half each left the
// calling thread waiting ~45 ms per ResNet34 seed figure. Each product runs whole on one thread: the bits
// do not depend on who ran it. The helper waits on a futex (Atomics.wait); the caller returns once all
// are written.
import { LONE_PRODUCT_PIECES, type HeapKernelExports, type MatMul } from '../ops/kernels/heap.js';

/**
 * The control block: [request, done, count, failed, next, current, state], then PRODUCT_WORDS per
 * product (a, b, c, m, k, n, packAt: 0 unless B is stored transposed). `next` is the shared claim
 * counter; `current` the product the helper runs; `state` is POSTED until the helper takes a request
 * (RUNNING) or the caller, having run them all, withdraws it (IDLE).
 */
const CONTROL_WORDS = 7;
const MAX_PRODUCTS = 64;
const PRODUCT_WORDS = 7;
const REQUEST = 0;
const DONE = 1;
const COUNT = 2;
const FAILED = 3;
const NEXT = 4;
const CURRENT = 5;
const STATE = 6;
const IDLE = 0;
const POSTED = 1;
const RUNNING = 2;
/** Longest wait for the helper before its product is taken as lost (a stuck helper must not hang the caller). */
const WAIT_MS = 60_000;

/**
 * The helper thread's whole program (no module to locate, from dist/ or from source alike): the heap
 * kernels on the shared memory; each time the request counter moves, it takes the request unless the
 * caller has withdrawn it, claims products until none is left, then raises its done counter. Written
 * to run as a script or as a module (workers inherit the process's flags, --input-type=module
 * included), hence the dynamic import.
 */
const HELPER_SOURCE = `
import('node:worker_threads').then(({ parentPort, workerData }) => {
  const { module, memory, control } = workerData;
  const { matmul, matmulBT } = new WebAssembly.Instance(module, { env: { memory } }).exports;
  parentPort.postMessage('ready');
  for (let seen = 0; ; ) {
    Atomics.wait(control, ${REQUEST}, seen);
    seen = Atomics.load(control, ${REQUEST});
    if (Atomics.compareExchange(control, ${STATE}, ${POSTED}, ${RUNNING}) !== ${POSTED}) continue;
    const request = Atomics.load(control, ${REQUEST});
    try {
      for (let i = Atomics.add(control, ${NEXT}, 1); i < control[${COUNT}]; i = Atomics.add(control, ${NEXT}, 1)) {
        Atomics.store(control, ${CURRENT}, i);
        const at = ${CONTROL_WORDS} + ${PRODUCT_WORDS} * i;
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
});
`;

/** One product on the calling thread. */
const runProduct = (kernels: HeapKernelExports, p: MatMul): void =>
  p.packAt ? kernels.matmulBT(p.a, p.b, p.c, p.m, p.k, p.n, p.packAt) : kernels.matmul(p.a, p.b, p.c, p.m, p.k, p.n);

/** Runs the products on the calling thread, one after another. */
export function matmulsHere(kernels: HeapKernelExports, products: readonly MatMul[]): void {
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
    pieces.push({ ...p, a: p.a + r * p.k * 4, c: p.c + r * p.n * 4, m: Math.min(rows, p.m - r), ...packAt });
  }
  return pieces;
}

export interface MatMulHelper {
  /** Runs the products, about half of them on the helper thread; returns once all are written. */
  run(kernels: HeapKernelExports, products: readonly MatMul[]): void;
}

/** Starts the helper thread on `memory` (shared) with the heap kernels' compiled `module`. */
export async function startMatMulHelper(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<MatMulHelper> {
  const { Worker } = await import('node:worker_threads');
  const control = new Int32Array(new SharedArrayBuffer(4 * (CONTROL_WORDS + PRODUCT_WORDS * MAX_PRODUCTS)));
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
  /** Runs up to MAX_PRODUCTS products, claimed one at a time by this thread and the helper. */
  function share(kernels: HeapKernelExports, products: readonly MatMul[]): void {
    products.forEach((p, i) => control.set([p.a, p.b, p.c, p.m, p.k, p.n, p.packAt ?? 0], CONTROL_WORDS + PRODUCT_WORDS * i));
    control[COUNT] = products.length;
    control[FAILED] = 0;
    control[CURRENT] = -1;
    Atomics.store(control, NEXT, 0);
    Atomics.store(control, REQUEST, ++seq);
    Atomics.store(control, STATE, POSTED);
    Atomics.notify(control, REQUEST);
    let failure: { error: unknown } | undefined;
    try {
      for (let i = Atomics.add(control, NEXT, 1); i < products.length; i = Atomics.add(control, NEXT, 1)) {
        runProduct(kernels, products[i]!);
      }
    } catch (error) {
      // The helper claims nothing more, and is waited for below before the error is thrown: it must not
      // write into tensors the caller frees once the call has failed.
      Atomics.store(control, NEXT, products.length);
      failure = { error };
    }
    // All claimed. A helper that has not taken the request yet never will; one that has is waited for.
    if (Atomics.compareExchange(control, STATE, POSTED, IDLE) !== POSTED) waitForHelper(kernels, products);
    if (failure) throw failure.error;
  }
  function waitForHelper(kernels: HeapKernelExports, products: readonly MatMul[]): void {
    const started = Date.now();
    for (let done = Atomics.load(control, DONE); done !== seq; done = Atomics.load(control, DONE)) {
      if (Atomics.wait(control, DONE, done, 1000) === 'timed-out' && Date.now() - started > WAIT_MS) {
        dead = true;
        break;
      }
    }
    Atomics.store(control, STATE, IDLE);
    // The product the helper failed on, or was still running when given up on, is done here, whole (the same bits).
    const lost = Atomics.load(control, CURRENT);
    if (dead || control[FAILED] !== 0) {
      dead = true;
      if (lost >= 0) matmulsHere(kernels, [products[lost]!]);
    }
  }
  return {
    run(kernels, batch) {
      if (dead) return matmulsHere(kernels, batch);
      const products = batch.length === 1 ? byRows(batch[0]!) : batch;
      for (let i = 0; i < products.length; i += MAX_PRODUCTS) share(kernels, products.slice(i, i + MAX_PRODUCTS));
    },
  };
}
