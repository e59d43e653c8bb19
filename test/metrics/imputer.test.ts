import { describe, expect, test } from 'vitest';
import { imputeLinear, normalGenerator } from '../../src/metrics/index.js';
import { imputationSystem } from '../../src/metrics/imputer.js';
import { conjugateGradients, multigridPreconditioner, multiply } from '../../src/metrics/sparse-grid.js';
import { keepMask, percentile } from '../../src/metrics/percentile.js';
import { hasReference, missingReason } from '../helpers/assets.js';
import { f32, refInput } from '../helpers/reference-check.js';

/** Small deterministic values in [-2, 2]. */
function values(n: number, seed: number): Float32Array {
  const g = normalGenerator(seed);
  return Float32Array.from({ length: n }, () => Math.max(-2, Math.min(2, g.next())));
}

/**
 * The imputation written out as the definition says, solved densely in float64 (Gaussian elimination
 * with partial pivoting): each removed pixel equals the weighted mean of its in-image neighbours
 * (1/6 direct, 1/12 diagonal, normalised by the weights present).
 */
function denseImpute(image: Float32Array, [C, H, W]: [number, number, number], keep: Uint8Array): Float64Array {
  const removed = [...keep.keys()].filter((i) => !keep[i]);
  const index = new Map(removed.map((p, k) => [p, k]));
  const n = removed.length;
  const out = Float64Array.from(image);
  for (let c = 0; c < C; c++) {
    const a = Array.from({ length: n }, () => new Float64Array(n + 1));
    removed.forEach((p, k) => {
      const y = Math.floor(p / W);
      const x = p % W;
      let total = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if ((dy === 0 && dx === 0) || y + dy < 0 || y + dy >= H || x + dx < 0 || x + dx >= W) continue;
          const w = dy === 0 || dx === 0 ? 1 / 6 : 1 / 12;
          total += w;
          const q = (y + dy) * W + x + dx;
          if (keep[q]) a[k]![n]! += w * image[c * H * W + q]!;
          else a[k]![index.get(q)!]! -= w;
        }
      }
      a[k]![k]! += total;
    });
    for (let col = 0; col < n; col++) {
      let pivot = col;
      for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
      [a[col], a[pivot]] = [a[pivot]!, a[col]!];
      for (let r = 0; r < n; r++) {
        if (r === col) continue;
        const f = a[r]![col]! / a[col]![col]!;
        for (let j = col; j <= n; j++) a[r]![j]! -= f * a[col]![j]!;
      }
    }
    removed.forEach((p, k) => (out[c * H * W + p] = a[k]![n]! / a[k]![k]!));
  }
  return out;
}

describe('noisy linear imputation', () => {
  const shape: [number, number, number] = [3, 13, 17];
  const [C, H, W] = shape;
  const image = values(C * H * W, 7);
  // A removed blob touching the top edge and a corner, a removed border column, and scattered pixels.
  const keep = Uint8Array.from({ length: H * W }, (_, i) => {
    const y = Math.floor(i / W);
    const x = i % W;
    const blob = (y - 2) ** 2 + (x - 6) ** 2 <= 12;
    return blob || x === W - 1 || (x + 2 * y) % 11 === 0 || (y === 0 && x < 2) ? 0 : 1;
  });

  test('matches a dense float64 solve of the definition (noise 0)', () => {
    const ours = imputeLinear(image, shape, keep, { noise: 0 });
    const ref = denseImpute(image, shape, keep);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - ref[i]!));
    // Measured 5.8e-8: the float32 rounding of the result.
    expect(worst).toBeLessThanOrEqual(5e-7);
    for (let i = 0; i < H * W; i++) if (keep[i]) for (let c = 0; c < C; c++) expect(ours[c * H * W + i]).toBe(image[c * H * W + i]);
  });

  test('noise: seeded, reproducible, only on removed pixels, with the given standard deviation', () => {
    const clean = imputeLinear(image, shape, keep, { noise: 0 });
    const a = imputeLinear(image, shape, keep, { noise: 0.5, random: normalGenerator(3) });
    const b = imputeLinear(image, shape, keep, { noise: 0.5, random: normalGenerator(3) });
    const c = imputeLinear(image, shape, keep, { noise: 0.5, random: normalGenerator(4) });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(imputeLinear(image, shape, keep, { noise: 0.5 })).toEqual(imputeLinear(image, shape, keep, { noise: 0.5, random: normalGenerator(0) }));
    let sum2 = 0;
    let count = 0;
    for (let i = 0; i < H * W; i++) {
      for (let ch = 0; ch < C; ch++) {
        const d = a[ch * H * W + i]! - clean[ch * H * W + i]!;
        if (keep[i]) expect(d).toBe(0);
        else (sum2 += d * d), count++;
      }
    }
    const std = Math.sqrt(sum2 / count);
    expect(std).toBeGreaterThan(0.4);
    expect(std).toBeLessThan(0.6);
  });

  test('nothing kept: the system is singular with a zero right-hand side, and the minimum-norm solution is 0', () => {
    const out = imputeLinear(image, shape, new Uint8Array(H * W), { noise: 0 });
    expect(out.every((v) => v === 0)).toBe(true);
  });

  test('bad arguments are typed errors', () => {
    expect(() => imputeLinear(image, [3, 13, 16], keep)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => imputeLinear(image, shape, keep.subarray(1))).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => imputeLinear(image, shape, keep, { noise: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => imputeLinear(image, shape, keep, { noise: NaN })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

describe('percentile and mask (NumPy 1.24 np.percentile, torch float32 comparison)', () => {
  test('linear interpolation between order statistics', () => {
    const v = Float32Array.from([3, 0, 2, 1]);
    expect(percentile(v, 50)).toBe(1.5);
    expect(percentile(v, 0)).toBe(0);
    expect(percentile(v, 100)).toBe(3);
    expect(percentile(v, 10)).toBeCloseTo(0.3, 12);
  });

  test('kept where map < threshold: ties at the threshold are removed, a constant map removes everything', () => {
    const map = Float32Array.from([0, 0, 0, 0.5, 1]);
    expect([...keepMask(map, 40)]).toEqual([0, 0, 0, 0, 0]);
    expect([...keepMask(map, 80)]).toEqual([1, 1, 1, 1, 0]);
    expect([...keepMask(new Float32Array(4).fill(0.3), 50)]).toEqual([0, 0, 0, 0]);
  });
});

describe.skipIf(!hasReference)(`the solver on a full-size ROAD system${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  test('chelsea, MoRF 10 (45k unknowns): relative residual <= 1e-6 in every channel, in few iterations', () => {
    const { tensor } = refInput('chelsea');
    const keep = keepMask(f32('refs/chelsea/gradcam_layer4_top1.npy'), 10);
    const { matrix, rhs } = imputationSystem(tensor, 3, 224, 224, keep);
    const precondition = multigridPreconditioner(matrix);
    for (const b of rhs) {
      const { x, iterations } = conjugateGradients(matrix, b, 1e-6, precondition);
      const ax = new Float64Array(x.length);
      multiply(matrix, x, ax);
      let num = 0;
      let den = 0;
      for (let i = 0; i < x.length; i++) (num += (ax[i]! - b[i]!) ** 2), (den += b[i]! ** 2);
      expect(Math.sqrt(num / den)).toBeLessThanOrEqual(1e-6);
      // Measured: 12 (unpreconditioned conjugate gradients: 640).
      expect(iterations).toBeLessThanOrEqual(20);
    }
  });
});
