import { afterAll, beforeAll, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy, decodeNpy } from '../../src/io/npy.js';
import { randomArray, randomResnet34Weights } from '../helpers/random-weights.js';
import { maxAbsDiff } from '../helpers/metrics.js';

// The built CLI in child processes: the thread count is fixed per process.
const dir = mkdtempSync(join(tmpdir(), 'gradcam-threads-'));
const bin = join(import.meta.dirname, '../../bin/gradcam.js');
beforeAll(() => {
  writeFileSync(join(dir, 'w.safetensors'), randomResnet34Weights());
  writeFileSync(join(dir, 'x.npy'), encodeNpy(randomArray(3 * 64 * 64, 3), [1, 3, 64, 64]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (threads: string) =>
  spawnSync(process.execPath, [bin, 'explain', join(dir, 'x.npy'), '--weights', join(dir, 'w.safetensors'), '--out', join(dir, `t${threads}`), '--raw', '--guided', '--threads', threads], { encoding: 'utf8', timeout: 90_000 });

test('threaded and single-threaded runs agree, and a threaded process exits by itself', () => {
  const one = run('1');
  const two = run('2');
  for (const r of [one, two]) {
    expect(r.signal, r.stderr).toBeNull(); // not killed by the timeout: the process ended on its own
    expect(r.status, r.stderr).toBe(0);
  }
  for (const file of ['cam-layer4.npy', 'cam-layer1.npy', 'guided.npy', 'logits.npy']) {
    const a = decodeNpy(readFileSync(join(dir, 't1', 'x', file))).data;
    const b = decodeNpy(readFileSync(join(dir, 't2', 'x', file))).data;
    expect(maxAbsDiff(a, b), file).toBeLessThanOrEqual(1e-4 * Math.max(1, ...Array.from(a, Math.abs)));
  }
});

test('--threads is validated', () => {
  const r = run('9');
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/--threads must be an integer from 1 to 8, got '9'/);
});
