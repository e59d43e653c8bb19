import { parentPort } from 'node:worker_threads';
import { createExplainer, type Explainer } from '../explainer.js';
import { WorkerExitedError } from '../errors.js';
import { serializeError } from './errors.js';
import { transferables, type FromWorker, type ToWorker } from './protocol.js';

// One explainer per worker thread. The pool sends one call at a time; the explainer queues anyway.
let explainer: Explainer | undefined;
const port = parentPort!;
const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

/** A wasm abort (a trap, or Emscripten's Aborted()) leaves tfjs-wasm unusable: the worker must go. */
const isFatal = (err: unknown) => err instanceof WebAssembly.RuntimeError || (err instanceof Error && err.message.startsWith('Aborted('));

port.on('message', async (m: ToWorker) => {
  try {
    if (m.type === 'init') {
      explainer = await createExplainer(m.options);
      return send({ type: 'ready' });
    }
    const value = m.type === 'explain' ? await explainer!.explain(m.input, m.options) : await explainer!.predict(m.input);
    send({ type: 'result', value }, transferables(value));
  } catch (err) {
    if (!isFatal(err)) return send({ type: 'error', error: serializeError(err) });
    send({ type: 'error', error: serializeError(new WorkerExitedError(`the worker's wasm runtime failed (${(err as Error).message}); the worker is replaced`)) });
    process.exit(1);
  }
});
