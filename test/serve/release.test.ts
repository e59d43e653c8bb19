import { describe, expect, test } from 'vitest';
import { release } from '../../src/serve/release.js';

describe('release: a written answer is freed at once', () => {
  test('the buffers are detached and their memory is gone without waiting for a collection; other buffers are untouched', async () => {
    const [a, b, other] = [new ArrayBuffer(270_000), new ArrayBuffer(10), new ArrayBuffer(4)];
    const view = new Uint8Array(a);
    release([a, b]);
    expect([a.byteLength, b.byteLength, view.length, other.byteLength]).toEqual([0, 0, 0, 4]);
    expect(() => release([])).not.toThrow();

    // 100 MB released: Node's count of ArrayBuffer memory falls back at once (a release that kept the
    // buffers queued on an open port, the first version, held all of it until a full collection).
    const before = process.memoryUsage().arrayBuffers;
    const buffers = Array.from({ length: 100 }, () => new ArrayBuffer(1 << 20));
    expect(process.memoryUsage().arrayBuffers - before).toBeGreaterThan(90 << 20);
    release(buffers);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });
});
