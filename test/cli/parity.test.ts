import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { decodeNpy } from '../../src/io/npy.js';
import { hasReference, missingReason, REFERENCE } from '../helpers/assets.js';
import { ALL_LAYERS, checkGuided, checkLayer, checkLogits, REF_INPUTS, REF_TARGETS } from '../helpers/reference-check.js';

const capture = () => {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t) } };
};

describe.skipIf(!hasReference)(`CLI .npy output parity${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradcam-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const t of REF_TARGETS) {
    describe(`target ${t}`, () => {
      const out = join(dir, t);
      beforeAll(async () => {
        const { out: printed, io } = capture();
        const inputs = REF_INPUTS.map((i) => join(REFERENCE, 'inputs', `${i.name}.input.npy`));
        const code = await main(['explain', ...inputs, '--weights', join(REFERENCE, 'resnet34-seed1.safetensors'), '--out', out, '--raw', ...(t === 'c281' ? ['--target', '281'] : [])], io);
        expect(printed.stderr).not.toMatch(/error|FAILED/i);
        expect(code).toBe(0);
      });

      for (const input of REF_INPUTS) {
        test(input.name, () => {
          const read = (f: string) => decodeNpy(new Uint8Array(readFileSync(join(out, `${input.name}.input`, f))));
          const logits = read('logits.npy');
          expect(logits.shape).toEqual([1000]);
          checkLogits(input, logits.data);
          const guided = read('guided.npy');
          checkGuided(input.name, t, guided.data);
          for (const layer of ALL_LAYERS) {
            checkLayer(input.name, t, layer, {
              logits: logits.data,
              map: (l) => read(`cam-${l}.npy`).data,
              raw: (l) => read(`cam-${l}-raw.npy`),
              guidedGradCam: (l) => read(`guided-gradcam-${l}.npy`).data,
            });
          }
        });
      }
    });
  }
});
