import { expect, test } from 'vitest';
import { createGate } from '../../src/serve/gate.js';
import { HttpError } from '../../src/serve/errors.js';

const deferred = () => {
  let resolve!: (v: string) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};
const tick = () => new Promise((r) => setImmediate(r));

test('at most `concurrency` tasks run, the rest wait in order, one more is refused with 503 and Retry-After', async () => {
  const gate = createGate(2, 3);
  const tasks = Array.from({ length: 5 }, deferred);
  const started: number[] = [];
  const settled = Promise.allSettled(tasks.map((t, i) => gate.run(() => (started.push(i), t.promise))));
  await tick();
  expect(started).toEqual([0, 1]);
  expect([gate.running, gate.waiting, gate.full]).toEqual([2, 3, true]);
  const refused = await gate.run(() => Promise.resolve('never')).catch((e) => e);
  expect(refused).toBeInstanceOf(HttpError);
  expect(refused.status).toBe(503);
  expect(refused.code).toBe('QUEUE_FULL');
  expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
  tasks[1]!.resolve('b');
  await tick();
  expect(started).toEqual([0, 1, 2]);
  expect(gate.full).toBe(false);
  tasks[0]!.reject(new Error('failed'));
  await tick();
  expect(started).toEqual([0, 1, 2, 3]); // a failed task frees its place too
  tasks.slice(2).forEach((t, i) => t.resolve(String(i)));
  expect((await settled).map((s) => s.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
  expect(started).toEqual([0, 1, 2, 3, 4]);
  await gate.idle();
  expect([gate.running, gate.waiting]).toEqual([0, 0]);
});

test('a waiting task whose client goes away leaves the queue; a running one is not interrupted', async () => {
  const gate = createGate(1, 2);
  const first = deferred();
  const running = gate.run(() => first.promise, new AbortController().signal);
  const controller = new AbortController();
  let ran = false;
  const waiting = gate.run(async () => ((ran = true), 'x'), controller.signal);
  await tick();
  expect(gate.waiting).toBe(1);
  controller.abort();
  await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
  expect(gate.waiting).toBe(0);
  let idle = false;
  const whenIdle = gate.idle().then(() => (idle = true));
  await tick();
  expect(idle).toBe(false); // the first task still runs
  first.resolve('done');
  await expect(running).resolves.toBe('done');
  await whenIdle;
  expect(ran).toBe(false);
});

test('the Retry-After estimate follows how long tasks take', async () => {
  const gate = createGate(1, 0);
  for (let i = 0; i < 3; i++) await gate.run(() => new Promise((r) => setTimeout(r, 20)));
  const slow = deferred();
  const busy = gate.run(() => slow.promise);
  expect(gate.refusal().headers['Retry-After']).toBe('1'); // tasks of ~20 ms: one second is the least
  slow.resolve('');
  await busy;
});
