import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// The README says every runtime runs the same kernels because no module we run uses relaxed SIMD (so Node 20's
// --experimental-wasm-relaxed-simd would change nothing). This holds while each module validates in a Node
// that rejects relaxed instructions.

/** A module whose one function returns op(v128.const 0, ...) with `operands` constants: op is 0xfd + LEB128. */
function probe(op: number[], operands: number): Uint8Array {
  const constant = [0xfd, 12, ...new Array<number>(16).fill(0)];
  const body = [0, ...Array.from({ length: operands }, () => constant).flat(), 0xfd, ...op, 0x0b];
  return new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 10, body.length + 2, 1, body.length, ...body]);
}
const plainAdd = probe([0xe4, 0x01], 2); // f32x4.add
const relaxedMadd = probe([0x85, 0x02], 3); // f32x4.relaxed_madd

const root = join(import.meta.dirname, '../..');
const tfjsWasm = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
const MODULES = [
  join(tfjsWasm, 'dist/tfjs-backend-wasm-simd.wasm'),
  join(tfjsWasm, 'dist/tfjs-backend-wasm-threaded-simd.wasm'),
  join(root, 'build/kernels.wasm'),
  join(root, 'build/heap.wasm'),
  join(root, 'build/heap-shared.wasm'),
];

describe('no relaxed SIMD in the modules we run', () => {
  test('the probes are well formed: plain SIMD validates here', () => {
    expect(WebAssembly.validate(plainAdd)).toBe(true);
  });

  const rejects = !WebAssembly.validate(relaxedMadd);
  test.skipIf(!rejects)('each module validates in this Node, which rejects relaxed SIMD', () => {
    for (const file of MODULES) expect([file, WebAssembly.validate(readFileSync(file))]).toEqual([file, true]);
  });
});
