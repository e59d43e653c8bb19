import { describe, expect, test } from 'vitest';
import { release } from '../../src/serve/release.js';

describe('release: a written answer is freed at once', () => {
  test('the buffers are detached (their memory is gone), other buffers are untouched, nothing to release is a no-op', () => {
    const [a, b, other] = [new ArrayBuffer(270_000), new ArrayBuffer(10), new ArrayBuffer(4)];
    const view = new Uint8Array(a);
    release([a, b]);
    expect([a.byteLength, b.byteLength, view.length, other.byteLength]).toEqual([0, 0, 0, 4]);
    expect(() => release([])).not.toThrow();
  });
});
