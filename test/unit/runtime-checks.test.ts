import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { backendMemory, checkTfjsWasmVersion, TFJS_WASM_VERSION } from '../../src/runtime/wasm-backend.js';
import { WasmInitError } from '../../src/errors.js';
import { hasZoo, zooMissingReason, zooModelPath, ZOO } from '../helpers/zoo.js';

describe('tfjs-backend-wasm internals: version check at start-up', () => {
  test('the installed version is the one whose internals we use; another is a WasmInitError saying what is wrong', () => {
    expect(() => checkTfjsWasmVersion()).not.toThrow();
    expect(() => checkTfjsWasmVersion('4.21.0')).toThrow(WasmInitError);
    expect(() => checkTfjsWasmVersion('4.21.0')).toThrow(new RegExp(`4\\.21\\.0 is installed.*internals of ${TFJS_WASM_VERSION.replace(/\./g, '\\.')}`));
  });

  test('a backend without the internals the heap needs is a WasmInitError naming each', () => {
    expect(() => backendMemory({})).toThrow(WasmInitError);
    expect(() => backendMemory({})).toThrow(/BackendWasm\.makeOutput, BackendWasm\.typedArrayFromHeap, BackendWasm\.dataIdMap, the Emscripten module's wasmMemory/);
  });
});

/**
 * heapKernels: false (asked explicitly) runs on tfjs ops only, end to end, in its own process (the
 * backend is per process): a zoo model's explanation still meets the reference's limits.
 */
describe.skipIf(!hasZoo)('heapKernels: false runs the plain tfjs path end to end', () => {
  if (!hasZoo) test.skip(zooMissingReason, () => {});
  test('resnet18.onnx: runtime reports no heap kernels; logits, layer4 map and guided match pytorch-grad-cam', () => {
    const code = `
      const { createExplainer } = await import(${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)});
      const { decodeNpy } = await import(${JSON.stringify(new URL('../../dist/io/npy.js', import.meta.url).href)});
      const { readFileSync } = await import('node:fs');
      const npy = (p) => decodeNpy(new Uint8Array(readFileSync(p)));
      const e = await createExplainer({ model: ${JSON.stringify(zooModelPath('resnet18'))}, heapKernels: false });
      const x = npy(${JSON.stringify(`${ZOO}/../inputs/chelsea.input.npy`)});
      const r = await e.explain({ tensor: x.data, shape: x.shape }, { layers: ['layer4'], target: 281, guided: true });
      const ref = (f) => npy(${JSON.stringify(`${ZOO}/refs/resnet18/`)} + 'chelsea_c281_' + f).data;
      const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const diff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      const mean = (a, b) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
      const g = ref('guided.npy');
      const rel = Math.sqrt(r.guided.reduce((s, v, i) => s + (v - g[i]) ** 2, 0) / g.reduce((s, v) => s + v * v, 0));
      console.log(JSON.stringify({ heapKernels: e.runtime.heapKernels, logits: diff(r.logits, ref('logits.npy')) / maxAbs(ref('logits.npy')), mean: mean(r.cams.layer4.map, ref('layer4_cam.npy')), max: diff(r.cams.layer4.map, ref('layer4_cam.npy')), guided: rel }));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const m = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(m.heapKernels).toBe(false);
    expect(m.logits).toBeLessThanOrEqual(1e-5);
    expect(m.mean).toBeLessThanOrEqual(1e-4);
    expect(m.max).toBeLessThanOrEqual(2e-3);
    expect(m.guided).toBeLessThanOrEqual(2e-2);
  }, 150_000);
});
