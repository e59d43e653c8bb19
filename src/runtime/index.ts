import { tf } from '../tf.js';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { InvalidInputError, WasmInitError } from '../errors.js';
import { instantiateKernels, type KernelSource } from '../kernels/wasm.js';
import { referenceKernels } from '../kernels/reference.js';
import type { Kernels } from '../kernels/types.js';
import { readBytes } from './io.js';
import { runtime } from './env.js';
import { asHeapKernels, type HeapKernelExports, type WasmHeap } from '../ops/kernels/heap.js';
import { startMatMulHelper, type MatMulHelper } from './matmul-helper.js';
import { pageToucher, type PageToucher } from './page-toucher.js';
import { backendMemory, checkTfjsWasmVersion, compileLocalTfjsWasm, MAX_THREADS, registerPrecompiledWasmBackend, registerThreadedWasmBackend, wasmHeap } from './wasm-backend.js';

/**
 * Everything that differs between runtimes lives here: where the tfjs .wasm binaries and our
 * kernels come from. Users of unusual hosts (edge workers, bundlers) pass them explicitly.
 */
export interface RuntimeOptions {
  /** Directory URL (ending in '/') or per-file map for tfjs-backend-wasm's binaries; default: tfjs's own lookup. */
  readonly tfjsWasmPaths?: string | Record<string, string>;
  /**
   * tfjs's wasm binary already compiled (tfjs-backend-wasm-simd.wasm imported as a module): for hosts
   * that forbid compiling wasm at run time (Cloudflare Workers / workerd). Runs single-threaded.
   */
  readonly tfjsWasmModule?: WebAssembly.Module;
  /** The compiled post-processing kernels, or where to read them; default: build/kernels.wasm of this package. */
  readonly kernels?: KernelSource | string | URL;
  /**
   * The engine's kernels on tfjs-wasm's heap (Winograd convolutions, gradient kernels): build/heap.wasm,
   * or build/heap-shared.wasm for the threaded backend; a directory URL ending in '/' holding both, a
   * file, bytes or a compiled module. Default: this package's build/. When they cannot be loaded, start-up
   * fails with a WasmInitError; `false` runs without them (tfjs ops and TypeScript loops: slower, and
   * 3x3 convolutions round differently).
   */
  readonly heapKernels?: KernelSource | string | URL | false;
  /** 'wasm' (default) or 'js' to use the plain TypeScript kernels. */
  readonly kernelBackend?: 'wasm' | 'js';
  /**
   * Threads for the convolutions (XNNPACK), 1..8. Default: every available core in Node and in
   * cross-origin isolated pages/workers, 1 elsewhere (Deno, Bun, non-isolated pages). Fixed for the
   * process by the first explainer created.
   */
  readonly threads?: number;
}

export interface RuntimeInfo {
  readonly backend: string;
  readonly simd: boolean;
  readonly threads: number;
  /** Whether the heap kernels are loaded (see heapKernels): then 3x3 convolutions run as Winograd F(2x2, 3x3). */
  readonly heapKernels: boolean;
  /**
   * Threads the heap kernels' matrix products run on: 2 where a helper thread shares them (a threaded
   * backend in Node, or in a cross-origin isolated page or worker), 1 otherwise, 0 without heap kernels.
   */
  readonly gemmThreads: number;
}

/** The running backend as the engine uses it: what it is, and its heap (with or without our kernels). */
export interface Backend {
  readonly info: RuntimeInfo;
  readonly heap: WasmHeap;
}

let backendReady: Promise<Omit<RuntimeInfo, 'heapKernels' | 'gemmThreads'>> | undefined;
/** The backend the last successful startBackend returned (see runningBackend). */
let running: Backend | undefined;

/** The backend as last started, for callers that build models outside createExplainer; WasmInitError before any start. */
export function runningBackend(): Backend {
  if (!running) throw new WasmInitError('the wasm backend has not been started (createExplainer or startBackend first)');
  return running;
}
/**
 * Kernels attached per source, so that explainers created again from the same source (the default, a
 * path or URL, or the same bytes or module object) share one instance and one helper thread: a process
 * that creates explainers over and over must not gather threads. New bytes each time attach anew.
 */
const attachedByName = new Map<string, Promise<AttachedKernels>>();
const attachedByObject = new WeakMap<object, Promise<AttachedKernels>>();

function attachedKernels(source: KernelSource | string | URL | undefined, threads: number): Promise<AttachedKernels> {
  const byName = source === undefined || typeof source === 'string' || source instanceof URL;
  const key = source === undefined ? '(default)' : byName ? `source:${String(source)}` : source;
  const cached = byName ? attachedByName.get(key as string) : attachedByObject.get(key as object);
  if (cached) return cached;
  const attaching = attachHeapKernels(source, threads);
  const forget = () => (byName ? attachedByName.delete(key as string) : attachedByObject.delete(key as object));
  attaching.catch(forget);
  if (byName) attachedByName.set(key as string, attaching);
  else attachedByObject.set(key as object, attaching);
  return attaching;
}

async function defaultThreads(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (!runtime.isNode) return Math.min(MAX_THREADS, nav?.hardwareConcurrency ?? 1);
  const os = await import('node:os');
  return Math.min(MAX_THREADS, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Selects tfjs's wasm backend once per process; see startBackend. */
export async function initBackend(options: RuntimeOptions = {}): Promise<RuntimeInfo> {
  return (await startBackend(options)).info;
}

/**
 * Starts tfjs's wasm backend (once per process: its threads are fixed by the first call) and attaches
 * the heap kernels (unless `heapKernels: false`). Throws WasmInitError when the installed tfjs-backend-wasm
 * is not the version whose internals the engine uses, or the kernels cannot be attached.
 */
export async function startBackend(options: RuntimeOptions = {}): Promise<Backend> {
  const { threads } = options;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)) {
    throw new InvalidInputError(`threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
  }
  if (backendReady && threads !== undefined) {
    const started = await backendReady;
    if (started.threads !== threads) throw new InvalidInputError(`the wasm backend already runs with ${started.threads} threads; threads is fixed per process`);
  }
  backendReady ??= (async () => {
    checkTfjsWasmVersion();
    if (options.tfjsWasmPaths !== undefined) setWasmPaths(options.tfjsWasmPaths);
    // tfjs would run single-threaded in Node and cap threads elsewhere; start its threaded build
    // ourselves where threads can run: Node, and cross-origin isolated pages and workers.
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
    const canThread = (runtime.isNode && !runtime.isDeno && !runtime.isBun) || ((runtime.isBrowser || runtime.isWebWorker) && isolated);
    const want = canThread ? (threads ?? (await defaultThreads())) : 1;
    if (options.tfjsWasmModule) registerPrecompiledWasmBackend(options.tfjsWasmModule);
    // Bun has fetch, so tfjs's Node loader fetches its .wasm by file path and fails: hand it the module.
    else if (runtime.isBun) registerPrecompiledWasmBackend(await compileLocalTfjsWasm());
    else if (want > 1) await registerThreadedWasmBackend(want, typeof options.tfjsWasmPaths === 'string' ? options.tfjsWasmPaths : undefined);
    let ok = false;
    try {
      ok = await tf.setBackend('wasm');
      await tf.ready();
    } catch (cause) {
      throw new WasmInitError(`TensorFlow.js wasm backend failed to start: ${(cause as Error).message}`, { cause });
    }
    if (!ok || tf.getBackend() !== 'wasm') throw new WasmInitError('TensorFlow.js wasm backend failed to start');
    backendMemory(); // every internal the heap needs is there
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
    return { backend: 'wasm', simd, threads: getThreadsCount() };
  })();
  backendReady.catch(() => (backendReady = undefined));
  const base = await backendReady;
  const source = options.heapKernels;
  let attached: AttachedKernels | undefined;
  if (source !== false) {
    if (!base.simd) throw new WasmInitError('the heap kernels need WebAssembly SIMD, which this host lacks; pass heapKernels: false to run without them');
    attached = await attachedKernels(source, base.threads);
  }
  const gemmThreads = attached === undefined ? 0 : attached.helper ? 2 : 1;
  running = { info: { ...base, heapKernels: attached !== undefined, gemmThreads }, heap: wasmHeap(attached?.kernels, attached?.helper, attached?.toucher) };
  return running;
}

/**
 * A file of this package's build/ (our .wasm modules): read from disk where there is a file system,
 * fetched next to the module in browsers and workers (readBytes decides).
 */
const buildFile = (name: string): URL => new URL(`../../build/${name}`, import.meta.url);

/**
 * Instantiates the heap kernels on tfjs-wasm's own memory: heap-shared.wasm when the backend is
 * threaded (shared memory), heap.wasm otherwise. Kernels that cannot be read, compiled or do not fit
 * are a WasmInitError.
 */
interface AttachedKernels {
  readonly kernels: HeapKernelExports;
  /** The second thread for the kernels' products: a threaded backend, in Node, pages and workers (see matmul-helper.ts). */
  readonly helper: MatMulHelper | undefined;
  /** Fresh heap pages faulted in on another thread, there too (see page-toucher.ts). */
  readonly toucher: PageToucher | undefined;
}

async function attachHeapKernels(source: KernelSource | string | URL | undefined, threads: number): Promise<AttachedKernels> {
  const memory = backendMemory();
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const file = `heap${shared ? '-shared' : ''}.wasm`;
  const isDir = (typeof source === 'string' || source instanceof URL) && String(source).endsWith('/');
  try {
    const where = source === undefined ? buildFile(file) : isDir ? (typeof source === 'string' ? source + file : new URL(file, source as URL)) : source;
    const bytes = where instanceof WebAssembly.Module ? where : await readBytes(where, 'heapKernels');
    const module = bytes instanceof WebAssembly.Module ? bytes : await WebAssembly.compile(bytes as BufferSource);
    const kernels = asHeapKernels((await WebAssembly.instantiate(module, { env: { memory } })).exports);
    const node = runtime.isNode && !runtime.isDeno && !runtime.isBun;
    const second = shared && threads > 1 && (node || runtime.isBrowser || runtime.isWebWorker);
    // A page whose content security policy forbids blob workers runs the products on one thread.
    const helper = second ? await startMatMulHelper(module, memory).catch((err: unknown) => (node ? Promise.reject(err) : undefined)) : undefined;
    const toucher = second && node ? await pageToucher(memory) : undefined;
    return { kernels, helper, toucher };
  } catch (cause) {
    const hint = source === undefined ? '; pass heapKernels (where they are) or heapKernels: false (run without them)' : '';
    throw new WasmInitError(`heapKernels could not be loaded for the ${shared ? 'threaded' : 'single-threaded'} backend (it needs ${file}): ${(cause as Error).message}${hint}`, { cause });
  }
}

let defaultKernels: Promise<Kernels> | undefined;

export function loadKernels(options: RuntimeOptions = {}): Promise<Kernels> {
  if (options.kernelBackend === 'js') return Promise.resolve(referenceKernels);
  const src = options.kernels;
  if (src instanceof WebAssembly.Module || src instanceof ArrayBuffer || src instanceof Uint8Array) return instantiateKernels(src);
  if (src !== undefined) return readBytes(src, 'kernels').then(instantiateKernels);
  defaultKernels ??= (async () => {
    return instantiateKernels(await readBytes(buildFile('kernels.wasm'), 'kernels'));
  })();
  defaultKernels.catch(() => (defaultKernels = undefined));
  return defaultKernels;
}

export { runtime };
