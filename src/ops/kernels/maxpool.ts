import type { Tensor4D } from '../../tf.js';
import type { WasmHeap } from './heap.js';

export interface PoolGeometry {
  readonly size: number;
  readonly stride: number;
  readonly pad: number;
}

/**
 * Max-pool gradient that routes each window's gradient to the FIRST maximum in row-major order,
 * as PyTorch does. tfjs's MaxPoolGrad picks the last one, which differs wherever a window holds
 * equal maxima (flat image regions saturate the stem to identical values).
 */
export function maxPoolGrad(heap: WasmHeap, dy: Tensor4D, input: Tensor4D, pooled: Tensor4D, g: PoolGeometry): Tensor4D {
  const k = heap.kernels;
  if (!k) return maxPoolGradTs(heap, dy, input, g);
  // The heap kernel finds each window's first maximum by comparing with the pooled output.
  const [, h, w, c] = input.shape;
  const [, oh, ow] = dy.shape;
  const dx = heap.output(input.shape) as Tensor4D;
  k.maxPoolGrad(heap.offset(input), heap.offset(pooled), heap.offset(dy), heap.offset(dx), h, w, c, oh, ow, g.size, g.stride, g.pad);
  return dx;
}

/** The TypeScript version, used without the heap kernels (and by the tests as the reference). */
export function maxPoolGradTs(heap: WasmHeap, dy: Tensor4D, input: Tensor4D, g: PoolGeometry): Tensor4D {
  const [, inH, inW, C] = input.shape;
  const [, outH, outW] = dy.shape;
  const out = heap.output(input.shape) as Tensor4D;
  const x = heap.view(input); // views taken after output(), which may grow the heap
  const d = heap.view(dy);
  const dx = heap.view(out).fill(0);
  // Channels innermost, as the data lies: one pass over each window row per output position.
  const bestVal = new Float32Array(C);
  const bestAt = new Int32Array(C);
  for (let oy = 0; oy < outH; oy++) {
    const y0 = oy * g.stride - g.pad;
    const yEnd = Math.min(y0 + g.size, inH);
    for (let ox = 0; ox < outW; ox++) {
      const x0 = ox * g.stride - g.pad;
      const xEnd = Math.min(x0 + g.size, inW);
      bestVal.fill(-Infinity);
      bestAt.fill(-1);
      for (let ky = Math.max(y0, 0); ky < yEnd; ky++) {
        for (let kx = Math.max(x0, 0); kx < xEnd; kx++) {
          const base = (ky * inW + kx) * C;
          for (let c = 0; c < C; c++) {
            const v = x[base + c]!;
            // Strictly greater keeps the first maximum; a NaN wins, as in PyTorch.
            if (v > bestVal[c]! || v !== v) {
              bestVal[c] = v;
              bestAt[c] = base + c;
            }
          }
        }
      }
      const dBase = (oy * outW + ox) * C;
      for (let c = 0; c < C; c++) if (bestAt[c]! >= 0) dx[bestAt[c]!]! += d[dBase + c]!;
    }
  }
  return out;
}
