import { parentPort } from 'node:worker_threads';
import { createExplainer, type Explainer } from '../explainer.js';
import { GradcamError } from '../errors.js';
import { transferables, type FromWorker, type ToWorker } from './protocol.js';

// One explainer per worker thread; requests run one at a time, in arrival order.
let explainer: Explainer | undefined;
const port = parentPort!;
const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const fail = (id: number | null, err: unknown) =>
  send({ type: 'error', id, code: err instanceof GradcamError ? err.code : undefined, message: (err as Error)?.message ?? String(err) });

let queue = Promise.resolve();
port.on('message', (m: ToWorker) => {
  queue = queue.then(async () => {
    try {
      if (m.type === 'init') {
        explainer = await createExplainer(m.options);
        send({ type: 'ready', threads: explainer.runtime.threads });
      } else {
        const explanation = await explainer!.explain(m.input, m.options);
        send({ type: 'result', id: m.id, explanation }, transferables(explanation));
      }
    } catch (err) {
      fail(m.type === 'init' ? null : m.id, err);
    }
  });
});
