import { expect, test } from 'vitest';
import { base64Into, jsonBytes } from '../../src/serve/json-bytes.js';

test('base64Into: RFC 4648 base64 with padding, as Buffer encodes it, for every remainder and at an offset', () => {
  for (let n = 0; n <= 9; n++) {
    const src = Uint8Array.from({ length: n }, (_, i) => (i * 97 + 251) & 255);
    const expected = Buffer.from(src).toString('base64');
    const out = new Uint8Array(expected.length + 3);
    expect(base64Into(src, out, 3)).toBe(expected.length + 3);
    expect(Buffer.from(out.subarray(3)).toString('latin1')).toBe(expected);
  }
});

test('jsonBytes: JSON text and bytes as base64 strings, in one UTF-8 buffer', () => {
  const map = new Uint8Array(new Float32Array([0.25, 1, 0.5]).buffer);
  const body = jsonBytes(['{"label":"café ☕","maps":{"a":', map, '},"png":', new Uint8Array([137, 80]), '}']);
  expect(JSON.parse(Buffer.from(body).toString('utf8'))).toEqual({ label: 'café ☕', maps: { a: Buffer.from(map).toString('base64') }, png: 'iVA=' });
});
