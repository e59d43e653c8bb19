import { describe, expect, test } from 'vitest';
import { overWhite, rgbaOverWhite } from '../../src/image/alpha.js';
import { softmax, topK } from '../../src/predictions.js';
import { rng } from '../helpers/random-weights.js';

describe('topK and rgbaOverWhite against their plain definitions', () => {
  test('topK is the head of a stable sort by logit (ties by index), for any k', () => {
    const r = rng(5);
    for (const n of [1, 7, 1000]) {
      // Few distinct values, so that ties are common.
      const logits = Float32Array.from({ length: n }, () => Math.round(r() * 20) / 4);
      const sorted = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
      const p = softmax(logits);
      for (const k of [0, 1, 5, n, n + 3]) {
        const got = topK(logits, k, ['a']);
        expect(got.map((x) => x.index)).toEqual(sorted.slice(0, k));
        got.forEach((x) => expect([x.logit, x.probability, x.label]).toEqual([logits[x.index], p[x.index], x.index === 0 ? 'a' : undefined]));
      }
    }
  });

  test('rgbaOverWhite composites each pixel as overWhite does', () => {
    const r = rng(9);
    const pixels = 999;
    const rgba = Uint8Array.from({ length: pixels * 4 }, (_, i) => (i % 4 === 3 && r() < 0.5 ? 255 : Math.floor(r() * 256)));
    const rgb = rgbaOverWhite(rgba, pixels);
    const expected = Uint8Array.from({ length: pixels * 3 }, (_, j) => overWhite(rgba[Math.floor(j / 3) * 4 + (j % 3)]!, rgba[Math.floor(j / 3) * 4 + 3]!));
    expect(rgb).toEqual(expected);
  });
});
