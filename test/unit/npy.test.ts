import { expect, test } from 'vitest';
import { decodeNpy, encodeNpy, InvalidInputError } from '../../src/index.js';

test('npy round trip (float32, uint8, 1-D and 3-D)', () => {
  const f = Float32Array.of(1.5, -2, 3, 4, 5, 6);
  const a = decodeNpy(encodeNpy(f, [1, 2, 3]));
  expect(a).toEqual({ dtype: 'float32', shape: [1, 2, 3], data: f });
  const u = decodeNpy(encodeNpy(Uint8Array.of(1, 2, 255), [3]));
  expect(u.shape).toEqual([3]);
  expect(Array.from(u.data)).toEqual([1, 2, 255]);
  // The header block is padded to a multiple of 64 bytes, as NumPy writes it.
  expect(encodeNpy(f, [6]).length % 64).toBe(24);
});

test('npy errors are typed and name the problem', () => {
  expect(() => decodeNpy(new Uint8Array(20))).toThrow(InvalidInputError);
  expect(() => decodeNpy(new Uint8Array(20))).toThrow(/magic/);
  const f64 = encodeNpy(Float32Array.of(1, 2), [2]);
  const text = new TextDecoder('latin1').decode(f64).replace('<f4', '<f8');
  expect(() => decodeNpy(Uint8Array.from(text, (ch) => ch.charCodeAt(0)))).toThrow(/dtype '<f8'/);
  const full = encodeNpy(Float32Array.of(1, 2), [2]);
  expect(() => decodeNpy(full.subarray(0, full.length - 2))).toThrow(/expected 8 data bytes, found 6/);
  expect(() => decodeNpy(full.subarray(0, 40))).toThrow(/header runs past the end/);
  expect(() => encodeNpy(Float32Array.of(1, 2), [3])).toThrow(/holds 3 values/);
});
