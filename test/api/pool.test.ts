import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The pool starts worker threads from the built files, so this test uses the build (npm run build).
import { createExplainer, createExplainerPool, GradcamError, type ExplainerPool } from '../../dist/index.js';
import { randomArray, randomResnet34Weights } from '../helpers/random-weights.js';
import { maxAbsDiff } from '../helpers/metrics.js';

const dir = mkdtempSync(join(tmpdir(), 'gradcam-pool-'));
const weights = join(dir, 'w.safetensors');
let pool: ExplainerPool;
beforeAll(async () => {
  writeFileSync(weights, randomResnet34Weights());
  pool = await createExplainerPool({ size: 2, weights });
});
afterAll(async () => {
  await pool?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('a pool of worker threads gives the same explanations as one explainer, in parallel', async () => {
  const inputs = [1, 2, 3, 4].map((s) => ({ tensor: randomArray(3 * 64 * 64, s), shape: [1, 3, 64, 64] }));
  const options = { layers: ['layer3', 'layer4'], guided: true };
  const fromPool = await Promise.all(inputs.map((x) => pool.explain(x, options)));
  const single = await createExplainer({ weights, threads: 1 });
  for (const [i, x] of inputs.entries()) {
    const e = await single.explain(x, options);
    expect(fromPool[i]!.target).toBe(e.target);
    expect(maxAbsDiff(fromPool[i]!.cams.layer4!.map, e.cams.layer4!.map)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(fromPool[i]!.guided!, e.guided!)).toBeLessThanOrEqual(1e-6 * Math.max(...Array.from(e.guided!, Math.abs)));
  }
  single.dispose();
});

test('errors come back typed; a disposed pool refuses work', async () => {
  const err = await pool.explain({ tensor: randomArray(3 * 64 * 64, 1), shape: [1, 3, 64, 64] }, { layers: ['layer9'] }).catch((e) => e);
  expect(err).toBeInstanceOf(GradcamError);
  expect(err.code).toBe('LAYER_NOT_FOUND');
  expect(err.message).toMatch(/unknown layer 'layer9'/);
  const other = await createExplainerPool({ size: 1, weights });
  await other.dispose();
  await expect(other.explain({ tensor: randomArray(3 * 64 * 64, 1), shape: [1, 3, 64, 64] })).rejects.toThrow(/disposed/);
  await expect(createExplainerPool({ size: 1, weights: join(dir, 'missing.safetensors') })).rejects.toThrow(/file not found/);
});
