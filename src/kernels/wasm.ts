import { WasmInitError } from '../errors.js';
import { referenceKernels } from './reference.js';
import type { Kernels } from './types.js';

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  channelMean(src: number, dst: number, positions: number, channels: number): void;
  weightedSumRelu(act: number, w: number, dst: number, positions: number, channels: number): void;
  elementwiseSumRelu(act: number, w: number, dst: number, positions: number, channels: number): void;
  minMaxNormalize(ptr: number, n: number): void;
  resizeBilinear(src: number, sh: number, sw: number, dst: number, dh: number, dw: number, channels: number): void;
  addRelu(dst: number, src: number, n: number): void;
  divide(ptr: number, n: number, d: number): void;
  guidedProduct(guided: number, cam: number, dst: number, positions: number): void;
  colormapOverlay(img: number, mask: number, lut: number, dst: number, n: number, imageWeight: number): void;
  pngRowsToRgb(raw: number, width: number, height: number, channels: number, dst: number): number;
  base64(src: number, n: number, dst: number): void;
}

/** Where the compiled kernels come from: the runtime adapter decides (file bytes, fetch, or a precompiled module). */
export type KernelSource = WebAssembly.Module | ArrayBuffer | Uint8Array;

/**
 * A call's arena is at most this many bytes (default): a wasm memory never shrinks, so one call on a
 * 50 MP image would otherwise leave the kernels holding a few hundred MB for the rest of the process.
 * A larger call runs the kernel's TypeScript twin instead.
 */
export const MAX_ARENA_BYTES = 64 * 1024 * 1024;

export interface KernelOptions {
  /** Largest arena of one call, in bytes (default MAX_ARENA_BYTES); larger calls run the TypeScript twin. */
  readonly maxArenaBytes?: number;
}

/** The wasm kernels, with the size of their memory (which only grows, up to heap base + maxArenaBytes). */
export interface WasmKernels extends Kernels {
  readonly memoryBytes: number;
}

/** Thrown by the arena before it grows past its limit (the call then goes to the twin). */
const ARENA_FULL = Symbol('arena full');

/**
 * Arrays are laid out one call at a time from the module's heap base: each call resets the arena,
 * copies its inputs in, runs, and copies its output out. Nothing is kept between calls.
 */
class Arena {
  private top = 0;
  private base = 0;
  constructor(
    private readonly ex: KernelExports,
    private readonly maxBytes: number,
  ) {}
  reset(): this {
    this.top = this.base = this.ex.heapBase();
    return this;
  }
  alloc(floats: number): number {
    return this.allocBytes(floats * 4);
  }
  allocBytes(bytes: number): number {
    const ptr = (this.top + 15) & ~15;
    if (ptr + bytes - this.base > this.maxBytes) throw ARENA_FULL;
    this.top = ptr + bytes;
    const need = this.top - this.ex.memory.buffer.byteLength;
    if (need > 0) this.ex.memory.grow(Math.ceil(need / 65536));
    return ptr;
  }
  put(data: Float32Array): number {
    const ptr = this.alloc(data.length);
    new Float32Array(this.ex.memory.buffer, ptr, data.length).set(data);
    return ptr;
  }
  putBytes(data: Uint8Array): number {
    const ptr = this.allocBytes(data.length);
    new Uint8Array(this.ex.memory.buffer, ptr, data.length).set(data);
    return ptr;
  }
  takeBytes(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.ex.memory.buffer, ptr, n).slice();
  }
  take(ptr: number, floats: number): Float32Array {
    return new Float32Array(this.ex.memory.buffer, ptr, floats).slice();
  }
}

export async function instantiateKernels(source: KernelSource, options: KernelOptions = {}): Promise<WasmKernels> {
  let ex: KernelExports;
  try {
    const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source as BufferSource);
    const instance = await WebAssembly.instantiate(module, { env: { abort: abortFromWasm } });
    ex = instance.exports as unknown as KernelExports;
  } catch (cause) {
    throw new WasmInitError(`could not instantiate the post-processing kernels: ${(cause as Error).message}`, { cause });
  }
  const arena = new Arena(ex, options.maxArenaBytes ?? MAX_ARENA_BYTES);
  // The kernels trust their sizes; a short array would be read past its end inside the module's memory.
  const need = (array: ArrayLike<number>, n: number, what: string): void => {
    if (array.length < n) throw new RangeError(`${what} has ${array.length} values, the kernel needs ${n}`);
  };
  // Both channel reductions take (activations, weights) and give one value per position.
  const sumRelu = (kernel: KernelExports['weightedSumRelu'], perPosition: boolean) => (act: Float32Array, weights: Float32Array, positions: number, channels: number) => {
    need(act, positions * channels, 'activations');
    need(weights, perPosition ? positions * channels : channels, 'weights');
    const a = arena.reset();
    const s = a.put(act);
    const w = a.put(weights);
    const d = a.alloc(positions);
    kernel(s, w, d, positions, channels);
    return a.take(d, positions);
  };
  const kernels: Kernels = {
    channelMean(src, positions, channels) {
      need(src, positions * channels, 'gradients');
      const a = arena.reset();
      const s = a.put(src);
      const d = a.alloc(channels);
      ex.channelMean(s, d, positions, channels);
      return a.take(d, channels);
    },
    weightedSumRelu: sumRelu(ex.weightedSumRelu, false),
    elementwiseSumRelu: sumRelu(ex.elementwiseSumRelu, true),
    minMaxNormalize(x) {
      const a = arena.reset();
      const p = a.put(x);
      ex.minMaxNormalize(p, x.length);
      return a.take(p, x.length);
    },
    resizeBilinear(src, sh, sw, dh, dw, channels) {
      need(src, sh * sw * channels, 'image');
      const a = arena.reset();
      const s = a.put(src);
      const d = a.alloc(dh * dw * channels);
      ex.resizeBilinear(s, sh, sw, d, dh, dw, channels);
      return a.take(d, dh * dw * channels);
    },
    meanRelu(maps) {
      const n = maps[0]?.length ?? 0;
      const a = arena.reset();
      const acc = a.alloc(n);
      new Float32Array(ex.memory.buffer, acc, n).fill(0);
      const tmp = a.alloc(n);
      for (const m of maps) {
        new Float32Array(ex.memory.buffer, tmp, n).set(m);
        ex.addRelu(acc, tmp, n);
      }
      ex.divide(acc, n, maps.length);
      return a.take(acc, n);
    },
    guidedProduct(guided, cam) {
      need(guided, 3 * cam.length, 'guided gradient');
      const a = arena.reset();
      const g = a.put(guided);
      const c = a.put(cam);
      const d = a.alloc(guided.length);
      ex.guidedProduct(g, c, d, cam.length);
      return a.take(d, guided.length);
    },
    colormapOverlay(rgb, mask, lut, imageWeight) {
      need(rgb, 3 * mask.length, 'image');
      need(lut, 768, 'colormap');
      const a = arena.reset();
      const m = a.put(mask);
      const img = a.putBytes(rgb);
      const l = a.putBytes(lut);
      const d = a.allocBytes(rgb.length);
      ex.colormapOverlay(img, m, l, d, mask.length, imageWeight);
      return a.takeBytes(d, rgb.length);
    },
    pngRowsToRgb(raw, width, height, channels) {
      const row = width * channels + 1;
      need(raw, height * row, 'scanlines');
      const a = arena.reset();
      // A row of zeros first: what the first row's filters read as the row above.
      const r = a.allocBytes((height + 1) * row);
      const rows = new Uint8Array(ex.memory.buffer, r, (height + 1) * row);
      rows.fill(0, 0, row);
      rows.set(raw.subarray(0, height * row), row);
      const d = a.allocBytes(width * height * 3);
      return ex.pngRowsToRgb(r, width, height, channels, d) ? a.takeBytes(d, width * height * 3) : undefined;
    },
    base64Into(src, out, at) {
      const size = 4 * Math.ceil(src.length / 3);
      if (at < 0 || at + size > out.length) throw new RangeError(`base64 of ${src.length} bytes needs ${size} bytes at ${at}, the output has ${out.length}`);
      const a = arena.reset();
      const s = a.putBytes(src);
      const d = a.allocBytes(size);
      ex.base64(s, src.length, d);
      out.set(new Uint8Array(ex.memory.buffer, d, size), at);
      return at + size;
    },
  };
  return Object.defineProperty(orTwin(kernels), 'memoryBytes', { get: () => ex.memory.buffer.byteLength, enumerable: true }) as WasmKernels;
}

/** Each kernel, or its TypeScript twin when its arena would outgrow the limit (checked before anything runs). */
function orTwin(kernels: Kernels): Kernels {
  const wrap = <K extends keyof Kernels>(name: K) =>
    ((...args: Parameters<Kernels[K]>) => {
      try {
        return (kernels[name] as (...a: Parameters<Kernels[K]>) => ReturnType<Kernels[K]>)(...args);
      } catch (err) {
        if (err !== ARENA_FULL) throw err;
        return (referenceKernels[name] as (...a: Parameters<Kernels[K]>) => ReturnType<Kernels[K]>)(...args);
      }
    }) as Kernels[K];
  return Object.fromEntries((Object.keys(kernels) as (keyof Kernels)[]).map((name) => [name, wrap(name)])) as unknown as Kernels;
}

function abortFromWasm(): never {
  throw new WasmInitError('post-processing kernel aborted');
}
