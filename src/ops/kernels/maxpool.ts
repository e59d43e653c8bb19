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
 * equal maxima (flat image regions saturate the stem to identical values). dy may stack several
 * gradient passes over the same input (dy item i belongs to input item i mod n).
 */
export function maxPoolGrad(heap: WasmHeap, dy: Tensor4D, input: Tensor4D, pooled: Tensor4D, g: PoolGeometry): Tensor4D {
  const k = heap.kernels;
  if (!k) return maxPoolGradTs(heap, dy, input, g);
  // The heap kernel finds each window's first maximum by comparing with the pooled output.
  const [n, h, w, c] = input.shape;
  const [items, oh, ow] = dy.shape;
  const dx = heap.output([items, h, w, c]) as Tensor4D;
  const [inBytes, outBytes] = [h * w * c * 4, oh * ow * c * 4];
  for (let i = 0; i < items; i++) {
    const [x, y] = [(i % n) * inBytes, (i % n) * outBytes];
    k.maxPoolGrad(heap.offset(input) + x, heap.offset(pooled) + y, heap.offset(dy) + i * outBytes, heap.offset(dx) + i * inBytes, h, w, c, oh, ow, g.size, g.stride, g.pad);
  }
  return dx;
}

/** The TypeScript version, used without the heap kernels (and by the tests as the reference). */
export function maxPoolGradTs(heap: WasmHeap, dy: Tensor4D, input: Tensor4D, g: PoolGeometry): Tensor4D {
  const [n, inH, inW, C] = input.shape;
  const [items, outH, outW] = dy.shape;
  const out = heap.output([items, inH, inW, C]) as Tensor4D;
  const all = { x: heap.view(input), d: heap.view(dy), dx: heap.view(out).fill(0) }; // views taken after output(), which may grow the heap
  for (let i = 0; i < items; i++) {
    const x = all.x.subarray((i % n) * inH * inW * C, ((i % n) + 1) * inH * inW * C);
    const d = all.d.subarray(i * outH * outW * C, (i + 1) * outH * outW * C);
    const dx = all.dx.subarray(i * inH * inW * C, (i + 1) * inH * inW * C);
    imageMaxPoolGrad(x, d, dx, inH, inW, C, outH, outW, g);
  }
  return out;
}

/** One image's max-pool gradient, added into dx (zeros). */
function imageMaxPoolGrad(x: Float32Array, d: Float32Array, dx: Float32Array, inH: number, inW: number, C: number, outH: number, outW: number, g: PoolGeometry): void {
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
}
