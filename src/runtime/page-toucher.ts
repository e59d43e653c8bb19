// Fresh wasm heap pages faulted in on a second thread (Node, threaded backend only). A model's weights are
// written into memory the process has never touched, and on a shared VM each new page costs ~3-4 ms per
// MB to fault in (ResNet34's Winograd planes: 139 MB, ~0.5 s of createExplainer), about half as long when
// two threads fault disjoint pages at once. The caller writes a tensor from its start while this thread
// touches it from its end: atomic additions of 0, so whichever thread reaches a word first, no value changes.
// The worker exits by itself once idle, so a long-running process keeps no extra thread.

/** How long the worker waits for more work before it exits. */
const IDLE_MS = 2000;
const PAGE = 4096;

/** The worker's whole program; a script or a module alike (see matmul-helper.ts), hence the dynamic import. */
const TOUCHER_SOURCE = `
import('node:worker_threads').then(({ parentPort, workerData }) => {
const { memory } = workerData;
let idle;
const rest = () => { clearTimeout(idle); idle = setTimeout(() => process.exit(0), ${IDLE_MS}); };
rest();
parentPort.on('message', (ranges) => {
  const words = new Int32Array(memory.buffer);
  // Every range from its last page back to its middle, the ranges in step.
  for (let o = 0, more = true; more; o += ${PAGE}) {
    more = false;
    for (const [start, bytes] of ranges) {
      const at = start + bytes - 4 - o;
      if (at < start + bytes / 2) continue;
      Atomics.add(words, at >> 2, 0);
      more = true;
    }
  }
  rest();
});
});
`;

export interface PageToucher {
  /** Faults in the second half of each [byteOffset, bytes] range of the heap, last page first, on its own thread. */
  touch(ranges: readonly (readonly [number, number])[]): void;
}

/** A toucher for `memory` (shared); its worker starts at the first touch and again after it has exited idle. */
export async function pageToucher(memory: WebAssembly.Memory): Promise<PageToucher> {
  const { Worker } = await import('node:worker_threads');
  let worker: InstanceType<typeof Worker> | undefined;
  let broken = false;
  return {
    touch(ranges) {
      if (broken) return;
      try {
        if (!worker) {
          const w = new Worker(TOUCHER_SOURCE, { eval: true, workerData: { memory } });
          w.unref(); // never keeps the process alive
          w.on('error', () => undefined); // an optimization only: a failed worker is dropped
          w.once('exit', () => worker === w && (worker = undefined));
          worker = w;
        }
        worker.postMessage(ranges);
      } catch {
        broken = true; // no thread to be had (resource limits): the pages are faulted in where they are written
      }
    },
  };
}
