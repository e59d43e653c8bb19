import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { join } from 'node:path';
// The pool starts worker threads from the built files, so this test uses the build (npm run build).
import {
  AbortError,
  createExplainer,
  createExplainerPool,
  DisposedError,
  FileNotFoundError,
  InvalidInputError,
  LayerNotFoundError,
  TimeoutError,
  WorkerExitedError,
  type ExplainerPool,
  type ExplainOptions,
} from '../../dist/index.js';
import { shareBytes } from '../../dist/pool/index.js';
import { randomArray, randomResnet34Weights } from '../helpers/random-weights.js';
import { maxAbsDiff } from '../helpers/metrics.js';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';
import { threadsOf } from '../helpers/pool-threads.js';

const TASKS = new URL('./fixtures/pool-tasks.mjs', import.meta.url);
const tensor = (side: number, seed: number) => ({ tensor: randomArray(3 * side * side, seed), shape: [1, 3, side, side] });
const until = async (ok: () => boolean) => {
  for (let i = 0; i < 2000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
};

describe('a pool of ResNet34 workers sharing one copy of the weights bytes', () => {
  const weights = randomResnet34Weights();
  let pool: ExplainerPool;
  beforeAll(async () => {
    pool = await createExplainerPool({ size: 2, weights, tasks: TASKS });
  });
  afterAll(() => pool?.dispose());

  test('concurrent calls give exactly the explanations and logits of one explainer called in sequence', async () => {
    const inputs = [1, 2, 3, 4].map((s) => tensor(64, s));
    const options = { layers: ['layer3', 'layer4'], guided: true };
    const [fromPool, logits] = await Promise.all([Promise.all(inputs.map((x) => pool.explain(x, options))), pool.predict(inputs[0]!)]);
    const single = await createExplainer({ weights, threads: 1 });
    for (const [i, x] of inputs.entries()) {
      const e = await single.explain(x, options);
      expect(fromPool[i]!.target).toBe(e.target);
      expect(maxAbsDiff(fromPool[i]!.cams.layer4!.map, e.cams.layer4!.map)).toBe(0);
      expect(maxAbsDiff(fromPool[i]!.guided!, e.guided!)).toBe(0);
    }
    expect(maxAbsDiff(logits, await single.predict(inputs[0]!))).toBe(0);
    single.dispose();
    expect(pool.stats()).toEqual({ size: 2, busy: 0, queued: 0, restarts: 0 });
  });

  test('errors keep their class and fields across the thread', async () => {
    const err = await pool.explain(tensor(64, 1), { layers: ['layer9'] }).catch((e) => e);
    expect(err).toBeInstanceOf(LayerNotFoundError);
    expect(err).toMatchObject({ name: 'LayerNotFoundError', code: 'LAYER_NOT_FOUND', layer: 'layer9' });
    expect(err.available).toContain('layer4');
    expect(err.message).toMatch(/unknown layer 'layer9'/);
    const missing = await createExplainerPool({ size: 1, weights: '/nonexistent/w.safetensors' }).catch((e) => e);
    expect(missing).toBeInstanceOf(FileNotFoundError);
    expect(missing.path).toBe('/nonexistent/w.safetensors');
  });

  test('an option that cannot be cloned is refused with a typed error and leaves nothing behind', async () => {
    const bad = { layers: ['layer4'], extra: () => 1 } as unknown as ExplainOptions;
    await expect(pool.explain(tensor(64, 1), bad)).rejects.toBeInstanceOf(InvalidInputError);
    expect(pool.stats()).toMatchObject({ busy: 0, queued: 0 });
    expect((await pool.explain(tensor(64, 1), { layers: ['layer4'] })).cams.layer4).toBeDefined();
    const badPool = await createExplainerPool({ size: 1, weights, labels: [Symbol('x')] as unknown as string[] }).catch((e) => e);
    expect(badPool).toBeInstanceOf(InvalidInputError);
  });

  test('pool.run: a task of the tasks module runs on a worker with its explainer; transferred bytes move, unknown tasks are refused', async () => {
    const bytes = new Uint8Array([1, 2, 3, 250]);
    const result = (await pool.run('sum', { bytes }, { transfer: [bytes.buffer] })) as { sum: number; classes: number; logits: Float32Array };
    expect(bytes.byteLength).toBe(0); // moved, not copied
    expect([result.sum, result.classes]).toEqual([256, 1000]);
    expect(result.logits).toBeInstanceOf(Float32Array);
    await expect(pool.run('nope', {})).rejects.toMatchObject({ name: 'InvalidInputError', message: "the pool has no task 'nope'" });
    await expect(pool.run('toString', {})).rejects.toBeInstanceOf(InvalidInputError);
    await expect(createExplainerPool({ size: 1, weights, tasks: 'pool-tasks.mjs' })).rejects.toBeInstanceOf(InvalidInputError);
    expect(pool.stats()).toMatchObject({ busy: 0, queued: 0, restarts: 0 });
  });

  test("heapFloorMb: an integer number of MB, 0 for V8's default; anything else is refused before a worker starts", async () => {
    for (const heapFloorMb of [-1, 1.5, 5000, Number.NaN, '64' as unknown as number]) {
      await expect(createExplainerPool({ size: 1, weights, heapFloorMb }), String(heapFloorMb)).rejects.toBeInstanceOf(InvalidInputError);
    }
    const plain = await createExplainerPool({ size: 1, weights, heapFloorMb: 0 });
    try {
      expect((await plain.explain(tensor(64, 1), { layers: ['layer4'] })).cams.layer4).toBeDefined();
    } finally {
      await plain.dispose();
    }
  });

  test('byte options are copied once into shared memory', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const shared = shareBytes({ weights: bytes, model: 'resnet34', other: new Uint8Array(new SharedArrayBuffer(2)) });
    expect(shared.weights.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([...shared.weights]).toEqual([1, 2, 3]);
    expect(shared.model).toBe('resnet34');
    expect(shared.other.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  // Node 20 aborts the whole process (this test file included) when a worker is terminated inside
  // node:zlib. Without the sections, this loop of timeouts during zlib work aborted it within a few rounds.
  test('timeouts during zlib work (in uninterruptible sections) terminate the worker between sections, never inside one', async () => {
    const restarts = pool.stats().restarts;
    const rounds = 16;
    for (let i = 0; i < rounds; i++) {
      const err = await pool.run('zlib', { ms: 400 }, { timeoutMs: 5 + ((i * 7) % 40) }).catch((e) => e);
      expect(err).toBeInstanceOf(TimeoutError);
    }
    expect(pool.stats().restarts).toBe(restarts + rounds);
    expect(await pool.run('zlib', { ms: 20 })).toBeGreaterThan(0);
  });
});

describe.skipIf(!hasMobilenet)(`faults, on a pool of MobileNet workers${hasMobilenet ? '' : ` (${missingReason})`}`, () => {
  const model = join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json');
  // Big enough that a call is still running when the test interrupts it.
  const slow = () => tensor(384, 7);
  let pool: ExplainerPool;
  beforeAll(async () => {
    pool = await createExplainerPool({ size: 2, model, preprocess: 'tf' });
  });
  afterAll(() => pool?.dispose());
  // Every worker started (replacements included) and idle.
  beforeEach(() => until(() => threadsOf(pool).every(Boolean) && pool.stats().busy === 0));
  const works = async () => expect((await pool.explain(tensor(64, 3))).combined.length).toBe(64 * 64);

  test('a worker terminated mid-call rejects it with WorkerExitedError and is replaced', async () => {
    const call = pool.explain(slow(), { guided: true }).catch((e) => e);
    await until(() => pool.stats().busy === 1);
    await Promise.all(threadsOf(pool).map((t) => t?.kill()));
    expect(await call).toBeInstanceOf(WorkerExitedError);
    expect(pool.stats().restarts).toBe(2);
    await works();
  });

  test('a worker that fails (error event) mid-call rejects it with WorkerExitedError and is replaced', async () => {
    const restarts = pool.stats().restarts;
    const call = pool.explain(slow(), { guided: true }).catch((e) => e);
    await until(() => pool.stats().busy === 1);
    threadsOf(pool).forEach((t) => t?.worker.emit('error', new Error('boom')));
    const err = await call;
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err.message).toMatch(/boom/);
    expect(pool.stats().restarts).toBe(restarts + 2);
    await works();
  });

  test('timeoutMs stops a running call with TimeoutError and replaces its worker; queue time does not count', async () => {
    const restarts = pool.stats().restarts;
    // Queued behind two long calls for longer than its limit, then run within it.
    await Promise.all([pool.explain(slow(), { guided: true }), pool.explain(slow(), { guided: true })]); // both workers warm
    let t = performance.now();
    await pool.explain(slow(), { guided: true });
    const limit = (performance.now() - t) / 3;
    const blockers = Promise.all([pool.explain(slow(), { guided: true }), pool.explain(slow(), { guided: true })]);
    t = performance.now();
    await pool.explain(tensor(64, 4), {}, { timeoutMs: limit });
    expect(performance.now() - t).toBeGreaterThan(limit);
    await blockers;
    const timedOut = await pool.explain(slow(), { guided: true }, { timeoutMs: 50 }).catch((e) => e);
    expect(timedOut).toBeInstanceOf(TimeoutError);
    expect(timedOut.timeoutMs).toBe(50);
    expect(pool.stats().restarts).toBe(restarts + 1);
    await works();
  });

  test('an AbortSignal stops a running call (worker replaced) or a queued one (no restart)', async () => {
    const restarts = pool.stats().restarts;
    const pre = new AbortController();
    pre.abort();
    await expect(pool.explain(tensor(64, 1), {}, { signal: pre.signal })).rejects.toBeInstanceOf(AbortError);
    const running = new AbortController();
    const queued = new AbortController();
    const calls = Promise.allSettled([
      pool.explain(slow(), { guided: true }, { signal: running.signal }),
      pool.explain(slow(), { guided: true }),
      pool.explain(tensor(64, 2), {}, { signal: queued.signal }),
    ]);
    await until(() => pool.stats().busy === 2 && pool.stats().queued === 1);
    queued.abort();
    expect(pool.stats().queued).toBe(0);
    expect(pool.stats().restarts).toBe(restarts);
    running.abort(new Error('user left'));
    const [a, b, c] = await calls;
    expect(a).toMatchObject({ status: 'rejected', reason: expect.any(AbortError) });
    expect((a as PromiseRejectedResult).reason.message).toMatch(/user left/);
    expect(b.status).toBe('fulfilled');
    expect(c).toMatchObject({ status: 'rejected', reason: expect.any(AbortError) });
    expect(pool.stats().restarts).toBe(restarts + 1);
    await works();
  });

  test('dispose() rejects what is running or queued with DisposedError, then resolves', async () => {
    const calls = Promise.allSettled([1, 2, 3, 4].map((s) => pool.explain(slow(), { guided: true, target: s })));
    await until(() => pool.stats().busy === 2);
    await pool.dispose();
    for (const r of await calls) expect(r).toMatchObject({ status: 'rejected', reason: expect.any(DisposedError) });
    await expect(pool.explain(tensor(64, 1))).rejects.toBeInstanceOf(DisposedError);
    expect(threadsOf(pool).every((w) => w === undefined)).toBe(true);
  });
});
