import { parentPort, workerData } from 'node:worker_threads';
import { createExplainer, type Explainer } from '../explainer.js';
import { InvalidInputError, WorkerExitedError } from '../errors.js';
import { serializeError } from './errors.js';
import { sections } from './termination-gate.js';
import { transferables, type CreateTasks, type FromWorker, type PoolTask, type TaskResult, type ToWorker } from './protocol.js';

// One explainer per worker thread, and the tasks of the pool's `tasks` module. The pool sends one call at a time.
let explainer: Explainer | undefined;
let tasks: Readonly<Record<string, PoolTask>> = {};
const port = parentPort!;
const uninterruptible = sections((workerData as { gate: Int32Array }).gate);
const send = (m: FromWorker, transfer: readonly ArrayBuffer[] = []) => port.postMessage(m, transfer as ArrayBuffer[]);

/** A wasm abort (a trap, or Emscripten's Aborted()) leaves tfjs-wasm unusable: the worker must go. */
const isFatal = (err: unknown) => err instanceof WebAssembly.RuntimeError || (err instanceof Error && err.message.startsWith('Aborted('));

async function run(m: Exclude<ToWorker, { type: 'init' }>): Promise<TaskResult> {
  if (m.type === 'task') {
    const task = Object.hasOwn(tasks, m.name) ? tasks[m.name] : undefined;
    if (!task) throw new InvalidInputError(`the pool has no task '${m.name}'`);
    return task(m.payload as never);
  }
  const value = m.type === 'explain' ? await explainer!.explain(m.input, m.options) : await explainer!.predict(m.input);
  return { value, transfer: transferables(value) };
}

port.on('message', async (m: ToWorker) => {
  try {
    if (m.type === 'init') {
      explainer = await createExplainer(m.options);
      if (m.tasks !== undefined) tasks = await ((await import(m.tasks)) as { createTasks: CreateTasks }).createTasks(explainer, { uninterruptible });
      return send({ type: 'ready' });
    }
    const { value, transfer } = await run(m);
    send({ type: 'result', value }, transfer);
  } catch (err) {
    if (!isFatal(err)) return send({ type: 'error', error: serializeError(err) });
    send({ type: 'error', error: serializeError(new WorkerExitedError(`the worker's wasm runtime failed (${(err as Error).message}); the worker is replaced`)) });
    process.exit(1);
  }
});
