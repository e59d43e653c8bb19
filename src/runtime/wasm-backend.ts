import { tf, type Tensor } from '../tf.js';
import { BackendWasm, setThreadsCount, version_wasm } from '@tensorflow/tfjs-backend-wasm';
import threadedFactory from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
import singleThreadFactory from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js';
import { wasmWorkerContents } from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
import { runtime } from './env.js';
import { readBytes } from './io.js';
import { WasmInitError } from '../errors.js';
import type { HeapKernelExports, WasmHeap } from '../ops/kernels/heap.js';
import { matmulsHere, type MatMulHelper } from './matmul-helper.js';
import type { PageToucher } from './page-toucher.js';

// This file is the only one that uses tfjs-backend-wasm's private internals: BackendWasm's construction,
// the Emscripten module and its imports, dataIdMap and the wasm memory. They are checked at start-up.

/** The tfjs-backend-wasm release whose internals this file uses (package.json pins it). */
export const TFJS_WASM_VERSION = '4.22.0';

/** Throws WasmInitError unless the installed tfjs-backend-wasm is the one whose internals we use. */
export function checkTfjsWasmVersion(installed: string = version_wasm): void {
  if (installed !== TFJS_WASM_VERSION) {
    throw new WasmInitError(`@tensorflow/tfjs-backend-wasm ${installed} is installed, but this engine uses the internals of ${TFJS_WASM_VERSION}; install exactly ${TFJS_WASM_VERSION}`);
  }
}

interface BackendInternals {
  wasm?: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap?: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput?: BackendWasm['makeOutput'];
  typedArrayFromHeap?: BackendWasm['typedArrayFromHeap'];
}

/** The running wasm backend's memory, checking every internal the heap needs; WasmInitError names a missing one. */
export function backendMemory(backend: unknown = tf.backend()): WebAssembly.Memory {
  const b = backend as BackendInternals;
  const missing = [
    typeof b.makeOutput !== 'function' && 'BackendWasm.makeOutput',
    typeof b.typedArrayFromHeap !== 'function' && 'BackendWasm.typedArrayFromHeap',
    typeof b.dataIdMap?.get !== 'function' && 'BackendWasm.dataIdMap',
  ].filter(Boolean);
  const memory = b.wasm?.wasmMemory ?? b.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) missing.push('the Emscripten module\'s wasmMemory');
  if (missing.length) throw new WasmInitError(`tfjs-backend-wasm ${version_wasm} lacks internals this engine needs: ${missing.join(', ')}`);
  return memory!;
}

/** Fresh memory smaller than this is left to the thread that writes it (a message costs more). */
const MIN_TOUCH = 256 << 10;

/** The engine's view of the running backend's heap (see WasmHeap), with our kernels on it when given. */
export function wasmHeap(kernels: HeapKernelExports | undefined, helper?: MatMulHelper, toucher?: PageToucher, backend: unknown = tf.backend()): WasmHeap {
  backendMemory(backend);
  const b = backend as BackendWasm;
  const offset = (t: Tensor) => b.dataIdMap.get(t.dataId)!.memoryOffset;
  let frontier = 0;
  return {
    kernels,
    matmuls(products, inputs) {
      if (!kernels) throw new Error('matmuls needs the heap kernels');
      if (helper) helper.run(kernels, products, inputs);
      else matmulsHere(kernels, products, inputs);
    },
    // The same path as a kernel's output: tracked by tidy, freed by dispose.
    output(shape) {
      const t = tf.engine().makeTensorFromTensorInfo(b.makeOutput([...shape], 'float32'), b);
      if (toucher) {
        // Past the highest byte any output has reached, the heap is fresh: fault it in from the other end.
        const start = offset(t);
        const end = start + t.size * 4;
        const from = Math.max(start, frontier);
        if (end - from >= MIN_TOUCH) toucher.touch([[from, end - from]]);
        frontier = Math.max(frontier, end);
      }
      return t;
    },
    offset,
    view: (t: Tensor) => b.typedArrayFromHeap(t) as Float32Array,
  };
}

/**
 * tfjs-backend-wasm's multithreaded SIMD build, started by us instead of by tfjs:
 * - in Node, tfjs turns threads off (its pthread worker is a blob: URL, which Node's Worker
 *   rejects): the worker and the module's main script are real files there;
 * - everywhere, XNNPACK gets exactly `threads` threads: Emscripten reports 2 * threads cores,
 *   because tfjs uses min(requested, 8, cores / 2);
 * - in Node the pool's workers are unref'd (a finished process exits) and the preloaded workers
 *   XNNPACK does not use are stopped.
 */
export const MAX_THREADS = 8; // Emscripten's pthread pool size in this build

interface Worker {
  unref?(): void;
  terminate(): void;
}
interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread: { runningWorkers: Worker[]; unusedWorkers: Worker[] };
  tfjs?: unknown;
}
type Factory = ((config: Record<string, unknown>) => Promise<EmscriptenModule>) & { toString(): string };

/**
 * The wasm module's own output (XNNPACK's "XNN status" lines on a failed op) stays out of the user's
 * stderr: a failure reaches the caller as a typed error, and a library never prints.
 */
const QUIET = { print: () => undefined, printErr: () => undefined } as const;

/** Where the threaded build's pieces are, per runtime. */
interface Locations {
  readonly wasm: () => Promise<Uint8Array>;
  readonly worker: string;
  readonly mainScript: string | Blob;
}

/** A file of the installed tfjs-backend-wasm package (runtimes with node:module). */
async function tfjsPackageFile(relative: string): Promise<URL> {
  const { createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  return new URL(relative, pathToFileURL(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')));
}

async function nodeLocations(): Promise<Locations> {
  const { fileURLToPath } = await import('node:url');
  return {
    wasm: async () => readBytes(await tfjsPackageFile('dist/tfjs-backend-wasm-threaded-simd.wasm'), 'tfjs wasm binary'),
    worker: fileURLToPath(new URL('../../build/tfjs-pthread-worker.cjs', import.meta.url)),
    mainScript: fileURLToPath(await tfjsPackageFile('wasm-out/tfjs-backend-wasm-threaded-simd.js')),
  };
}

function webLocations(wasmDir: string): Locations {
  // As tfjs does in browsers: the worker and the main script as blobs; newlines in the worker's string literals stay escaped.
  const worker = URL.createObjectURL(new Blob([(wasmWorkerContents as string).replace(/\n/g, '\\n')], { type: 'application/javascript' }));
  return {
    // A relative directory resolves against the page (readBytes does that without a file system).
    wasm: () => readBytes(`${wasmDir.replace(/\/?$/, '/')}tfjs-backend-wasm-threaded-simd.wasm`, 'tfjs wasm binary'),
    worker,
    mainScript: new Blob([`var WasmBackendModuleThreadedSimd = ${(threadedFactory as Factory).toString()}`], { type: 'text/javascript' }),
  };
}

/** Replaces tfjs's 'wasm' backend factory with the threaded one (before tf.setBackend('wasm')). */
export async function registerThreadedWasmBackend(threads: number, wasmDir?: string): Promise<void> {
  const at = runtime.isNode ? await nodeLocations() : webLocations(wasmDir ?? './');
  const wasmBytes = await at.wasm();
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', async () => {
    const config: Record<string, unknown> & { PThread?: EmscriptenModule['PThread'] } = {
      ...QUIET,
      locateFile: (path: string, prefix: string) => (path.endsWith('.worker.js') ? at.worker : prefix + path),
      mainScriptUrlOrBlob: at.mainScript,
      instantiateWasm(info: { env: Record<string, unknown> }, receive: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
        info.env.emscripten_num_logical_cores = () => 2 * threads;
        // The build starts a pool of 8 pthread workers and waits until each has instantiated the module;
        // XNNPACK takes threads - 1 of them. The others stop here, before loading it (in Node, ~0.3-0.6 s of
        // the start on 2 cores went to starting workers that were then stopped unused).
        for (const w of config.PThread?.unusedWorkers.splice(Math.max(0, threads - 1)) ?? []) w.terminate();
        void WebAssembly.instantiate(wasmBytes as BufferSource, info as WebAssembly.Imports).then(({ instance, module: m }) => receive(instance, m));
        return {};
      },
    };
    const module = await (threadedFactory as Factory)(config);
    setThreadsCount(threads);
    const backend = toBackend(module);
    for (const w of module.PThread.unusedWorkers.splice(0)) w.terminate();
    for (const w of module.PThread.runningWorkers) w.unref?.();
    return backend;
  }, 2);
}

/** The JS <-> wasm bridge tfjs's BackendWasm expects (the same calls tfjs's own init makes). */
function toBackend(module: EmscriptenModule): BackendWasm {
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  return new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
}

/** tfjs's single-threaded SIMD binary of the installed package, compiled (for Bun, whose fetch breaks tfjs's Node loader). */
export async function compileLocalTfjsWasm(): Promise<WebAssembly.Module> {
  return WebAssembly.compile((await readBytes(await tfjsPackageFile('dist/tfjs-backend-wasm-simd.wasm'), 'tfjs wasm binary')) as BufferSource);
}

/**
 * tfjs's single-threaded build from an already compiled module (tfjs-backend-wasm-simd.wasm or
 * tfjs-backend-wasm.wasm): for hosts that forbid compiling wasm at run time, such as Cloudflare
 * Workers (workerd), where the .wasm is imported as a module.
 */
export function registerPrecompiledWasmBackend(compiled: WebAssembly.Module): void {
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', async () => {
    const module = await (singleThreadFactory as Factory)({
      ...QUIET,
      instantiateWasm(info: WebAssembly.Imports, receive: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
        void WebAssembly.instantiate(compiled, info).then((instance) => receive(instance, compiled));
        return {};
      },
    });
    setThreadsCount(1);
    return toBackend(module);
  }, 2);
}
