import { expect, test } from 'vitest';
import { jsonBytes } from '../../src/serve/json-bytes.js';
import { loadKernels } from '../../src/runtime/index.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import type { Kernels } from '../../src/kernels/types.js';

const KERNELS: Record<string, Kernels> = { wasm: await loadKernels(), typescript: referenceKernels };

test.each(Object.keys(KERNELS))('base64Into (%s): RFC 4648 base64 with padding, as Buffer encodes it, for every remainder and at an offset', (name) => {
  const k = KERNELS[name]!;
  for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 200_704, 200_705]) {
    const src = Uint8Array.from({ length: n }, (_, i) => (i * 97 + 251 + (i >> 8)) & 255);
    const expected = Buffer.from(src).toString('base64');
    const out = new Uint8Array(expected.length + 5);
    expect(k.base64Into(src, out, 3)).toBe(expected.length + 3);
    expect(Buffer.from(out.subarray(3, 3 + expected.length)).toString('latin1') === expected, `${n} bytes`).toBe(true);
  }
  if (name === 'wasm') expect(() => k.base64Into(new Uint8Array(3), new Uint8Array(5), 2)).toThrow(RangeError);
});

test.each(Object.keys(KERNELS))('jsonBytes (%s): JSON text and bytes as base64 strings, in one UTF-8 buffer', (name) => {
  const map = new Uint8Array(new Float32Array([0.25, 1, 0.5]).buffer);
  const body = jsonBytes(['{"label":"café ☕","maps":{"a":', map, '},"png":', new Uint8Array([137, 80]), '}'], KERNELS[name]!);
  expect(JSON.parse(Buffer.from(body).toString('utf8'))).toEqual({ label: 'café ☕', maps: { a: Buffer.from(map).toString('base64') }, png: 'iVA=' });
});
