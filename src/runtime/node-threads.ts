import { tf } from '../tf.js';
import { BackendWasm, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

/**
 * tfjs-backend-wasm's multithreaded build, started in Node (and Bun/Deno's Node layer), where tfjs
 * itself disables threads. Three things differ from tfjs's own start-up:
 * - the pthread worker and the module's main script are real files (Node's Worker rejects blob: URLs);
 * - the core count Emscripten reports is what makes XNNPACK use exactly `threads` threads
 *   (tfjs uses min(requested, 8, cores / 2));
 * - the pool's workers are unref'd, so a process that is done exits by itself, and the preloaded
 *   workers XNNPACK does not use are stopped.
 */
const MAX_THREADS = 8; // Emscripten's pthread pool size in this build

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread: { runningWorkers: { unref(): void }[]; unusedWorkers: { unref(): void; terminate(): void }[] };
  tfjs?: unknown;
}
type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

export function maxThreads(): number {
  return MAX_THREADS;
}

export async function registerThreadedWasmBackend(threads: number): Promise<void> {
  const [{ createRequire }, { readFile }, { dirname, join }, { fileURLToPath }] = await Promise.all([
    import('node:module'), import('node:fs/promises'), import('node:path'), import('node:url'),
  ]);
  const require = createRequire(import.meta.url);
  const factoryPath = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const wasmPath = join(dirname(factoryPath), '../dist/tfjs-backend-wasm-threaded-simd.wasm');
  const workerPath = fileURLToPath(new URL('../../build/tfjs-pthread-worker.cjs', import.meta.url));
  const factory = require(factoryPath) as Factory;
  const wasmBytes = await readFile(wasmPath);

  tf.removeBackend('wasm');
  tf.registerBackend('wasm', async () => {
    const module = await factory({
      locateFile: (path: string, prefix: string) => (path.endsWith('.worker.js') ? workerPath : path.endsWith('.wasm') ? wasmPath : prefix + path),
      mainScriptUrlOrBlob: factoryPath,
      instantiateWasm(info: { env: Record<string, unknown> }, receive: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
        info.env.emscripten_num_logical_cores = () => 2 * threads;
        void WebAssembly.instantiate(wasmBytes, info as WebAssembly.Imports).then(({ instance, module: m }) => receive(instance, m));
        return {};
      },
    });
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    setThreadsCount(threads);
    const backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
    // XNNPACK's pool has started its threads; the rest of Emscripten's 8 preloaded workers only cost memory.
    for (const w of module.PThread.unusedWorkers.splice(0)) w.terminate();
    for (const w of module.PThread.runningWorkers) w.unref();
    return backend;
  }, 2);
}
