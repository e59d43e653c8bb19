import { afterAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExplainer } from '../../src/index.js';
import { decodeNpy } from '../../src/io/npy.js';
import { hasReference, missingReason, REFERENCE } from '../helpers/assets.js';
import { ALL_LAYERS, checkGuided, checkLayer, checkLogits, REF_INPUTS, REF_TARGETS, refInput } from '../helpers/reference-check.js';
import { maxAbsDiff } from '../helpers/metrics.js';

const root = join(import.meta.dirname, '../..');
const deno = join(root, 'node_modules/.bin/deno');


/** The same CLI file that package.json's bin points to, run by Deno: the same numbers as Node. */
describe.skipIf(!hasReference)(`Deno and Bun${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  const out = mkdtempSync(join(tmpdir(), 'gradcam-deno-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  for (const [name, argv] of [['deno', ['run', '-A']], ['bun', []]] as const) {
    test(`${name} ${argv.join(' ')} bin/gradcam.js explain: maps equal Node within 1e-5`, async () => {
      const exe = join(root, 'node_modules/.bin', name);
      expect(existsSync(exe), `the ${name} devDependency is installed`).toBe(true);
      const bin = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin.gradcam as string;
      const input = join(REFERENCE, 'inputs/chelsea-native.input.npy');
      const dir = join(out, name);
      const r = spawnSync(exe, [...argv, join(root, bin), 'explain', input, '--weights', join(REFERENCE, 'resnet34-seed1.safetensors'), '--out', dir, '--raw', '--target', '281'], { encoding: 'utf8', timeout: 240_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/explained class 281/);

      const ex = await createExplainer({ weights: join(REFERENCE, 'resnet34-seed1.safetensors') });
      const e = await ex.explain(refInput('chelsea-native'), { layers: ALL_LAYERS, target: 281 });
      ex.dispose();
      const read = (f: string) => decodeNpy(new Uint8Array(readFileSync(join(dir, 'chelsea-native.input', f)))).data;
      expect(maxAbsDiff(read('logits.npy'), e.logits)).toBeLessThan(1e-3);
      for (const layer of ALL_LAYERS) expect(maxAbsDiff(read(`cam-${layer}.npy`), e.cams[layer]!.map), layer).toBeLessThanOrEqual(1e-5);
    });
  }

  test('the parity suite through the public API under Deno (3 inputs x 2 targets)', () => {
    const dir = join(out, 'api');
    const r = spawnSync(deno, ['run', '-A', join(root, 'test/runtime/deno-explain.mjs'), REFERENCE, dir, ...REF_INPUTS.map((i) => i.name)], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ backend: 'wasm', simd: true, heapKernels: true, gemmThreads: 1 });
    for (const input of REF_INPUTS) {
      for (const t of REF_TARGETS) {
        const read = (f: string) => decodeNpy(new Uint8Array(readFileSync(join(dir, `${input.name}-${t}`, f))));
        const logits = read('logits.npy').data;
        checkLogits(input, logits);
        checkGuided(input.name, t, read('guided.npy').data);
        for (const layer of ALL_LAYERS) {
          checkLayer(input.name, t, layer, { logits, map: (l) => read(`cam-${l}.npy`).data, raw: (l) => read(`cam-${l}-raw.npy`), guidedGradCam: (l) => read(`guided-gradcam-${l}.npy`).data });
        }
      }
    }
  });
});
