import { tf } from '../tf.js';
import { OutOfMemoryError } from '../errors.js';

/** wasm32 memory stops at 4 GiB; Emscripten's heap (tfjs-wasm's is created with that maximum) at one page less. */
export const WASM_HEAP_CAP = 2 ** 32 - 2 ** 16;

/**
 * Heap bytes a call needs per byte of its tensors at their peak: XNNPACK's indirection buffers and
 * workspaces and the allocator's fragmentation do not show in tf.memory(). Measured as the heap's
 * growth over tf.profile's peak in a fresh process: MobileNet guided 1.31 (768x768) and 1.24
 * (1536x1536, issue 11's 3.57 GB), ResNet34 guided 1.2 (512x512).
 */
export const HEAP_PER_TENSOR_BYTE = 1.45;

/**
 * Heap that is in use without being a tensor: the module's static data, thread stacks and what the
 * allocator cannot hand out (measured as heap size - tf.memory().numBytes while filling the heap
 * with 256 MiB tensors beside MobileNet: 80 MiB at first, 175 MiB once past 2 GiB, to the end at
 * 4034 MiB), and the packed copies XNNPACK keeps of each filter (up to two per conv filter), as a
 * multiple of the model's weight bytes.
 */
const STATIC_HEAP_BYTES = 256 * 2 ** 20;
const PACKED_WEIGHT_COPIES = 2;

/** Peak tensor bytes of a call as a function of its input pixels: max over the call's steps of (fixed + perPixel * pixels). */
export interface CallMemory {
  readonly steps: readonly MemoryStep[];
}

export interface MemoryStep {
  readonly fixed: number;
  readonly perPixel: number;
}

export const callBytes = (m: CallMemory, pixels: number): number =>
  m.steps.reduce((peak, s) => Math.max(peak, s.fixed + s.perPixel * pixels), 0);

let probing: Promise<unknown> = Promise.resolve();

/**
 * For models that cannot compute their calls' memory (ExplainableModel.callMemory; bench/memory-estimate.js
 * compares the two): measures a call's tensor memory from probe runs at two sizes a < b ([height, width]; one run when
 * the model takes one size only): tf.profile records the
 * live tensor bytes after every kernel; each step's bytes are a line in the pixel count (activations
 * scale with it, weight-sized temporaries do not), fitted through the two runs. Runs that take
 * different kernel sequences fall back to one line through the two peaks, scaled up to cover the
 * larger run's peak per pixel. Probes run one at a time per process (tf.profile is global).
 */
export function measureCallMemory(
  probe: (height: number, width: number) => Promise<unknown>,
  sizes: readonly (readonly [number, number])[],
): Promise<CallMemory> {
  const run = async ([height, width]: readonly [number, number]) => {
    const before = tf.memory().numBytes;
    const profile = await tf.profile(async () => {
      await probe(height, width);
      return [];
    });
    return profile.kernels.map((k) => k.totalBytesSnapshot - before);
  };
  const measured = probing.then(async () => {
    const [a, b] = [sizes[0]!, sizes[sizes.length - 1]!];
    const small = await run(a);
    const [pa, pb] = [a[0] * a[1], b[0] * b[1]];
    if (pa === pb) return { steps: [{ fixed: Math.max(0, ...small), perPixel: 0 }] };
    const large = await run(b);
    if (small.length === large.length && small.length > 0) {
      return {
        steps: small.map((sa, i) => {
          const perPixel = Math.max(0, (large[i]! - sa) / (pb - pa));
          return { fixed: Math.max(0, sa - perPixel * pa), perPixel };
        }),
      };
    }
    const peakA = Math.max(0, ...small);
    const peakB = Math.max(0, ...large);
    return { steps: [{ fixed: peakA, perPixel: Math.max((peakB - peakA) / (pb - pa), peakB / pb) }] };
  });
  probing = measured.catch(() => undefined);
  return measured;
}

/** The memory admission rule of one explainer: what a call needs against the heap's headroom. */
export class MemoryBudget {
  constructor(
    /** Bytes of the model's weights (tensors), whose packed copies live outside tf.memory(). */
    private readonly weightBytes: number,
    private readonly cap = WASM_HEAP_CAP,
  ) {}

  /** Heap bytes a call on `pixels` input pixels needs. */
  need(call: CallMemory, pixels: number): number {
    return HEAP_PER_TENSOR_BYTE * callBytes(call, pixels);
  }

  /** Heap left for a call now: the cap minus the live tensors and the memory that is not a tensor. */
  headroom(): number {
    return this.cap - tf.memory().numBytes - STATIC_HEAP_BYTES - PACKED_WEIGHT_COPIES * this.weightBytes;
  }

  /** The largest input (H*W) whose call fits the headroom now: every step's line must stay under it. */
  maxPixels(call: CallMemory): number {
    const room = this.headroom() / HEAP_PER_TENSOR_BYTE;
    let max = Number.MAX_SAFE_INTEGER;
    for (const s of call.steps) {
      if (s.fixed > room) return 0;
      if (s.perPixel > 0) max = Math.min(max, Math.floor((room - s.fixed) / s.perPixel));
    }
    return max;
  }

  /** Throws OutOfMemoryError when a call on a width x height input would not fit the heap now. */
  check(call: CallMemory, width: number, height: number): void {
    const need = this.need(call, width * height);
    const room = this.headroom();
    if (need <= room) return;
    const max = this.maxPixels(call);
    const side = Math.floor(Math.sqrt(max));
    throw new OutOfMemoryError(
      `input ${width}x${height} needs about ${gb(need)} of wasm heap and ${gb(Math.max(0, room))} of tfjs-wasm's 4 GB heap is free; ` +
        `the largest input that fits now has ${max} pixels (about ${side}x${side}): resize it`,
      max,
    );
  }
}

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
