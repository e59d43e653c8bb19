import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { decodeNpy } from '../../src/io/npy.js';
import { hasReference, missingReason, REFERENCE } from '../helpers/assets.js';
import { maxAbsDiff, meanAbsDiff } from '../helpers/metrics.js';
import { f32 } from '../helpers/reference-check.js';

describe.skipIf(!hasReference)(`CLI --target NAME, --score, --method fullgrad${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradcam-methods-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const weights = join(REFERENCE, 'resnet34-seed1.safetensors');
  const input = join(REFERENCE, 'inputs/chelsea.input.npy');
  const run = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await main(['explain', input, '--weights', weights, '--no-guided', '--raw', ...args], {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
    });
    return { code, stdout, stderr };
  };
  const npy = (out: string, file: string) => decodeNpy(new Uint8Array(readFileSync(join(dir, out, 'chelsea.input', file)))).data as Float32Array;

  test("--target tabby --score softmax: class 281's softmax probability", async () => {
    const r = await run(['--target', 'Tabby', '--score', 'softmax', '--layers', 'layer4', '--out', join(dir, 'softmax')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/explained class 281 \(tabby/);
    const ours = npy('softmax', 'cam-layer4.npy');
    const ref = f32('methods/chelsea/gradcam_softmax_layer4_c281.npy');
    expect(meanAbsDiff(ours, ref)).toBeLessThanOrEqual(3e-6);
    expect(maxAbsDiff(ours, ref)).toBeLessThanOrEqual(1e-4);
  });

  test('--method fullgrad writes cam-fullgrad.npy and ignores --layers', async () => {
    const r = await run(['--method', 'fullgrad', '--target', '281', '--layers', 'layer2', '--out', join(dir, 'fullgrad')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(dir, 'fullgrad', 'chelsea.input'))).toContain('cam-fullgrad.npy');
    const ours = npy('fullgrad', 'cam-fullgrad.npy');
    const ref = f32('methods/chelsea/fullgrad_c281.npy');
    expect(meanAbsDiff(ours, ref)).toBeLessThanOrEqual(3e-6);
  });

  test('unknown names, indices out of range, bad --score: usage errors (exit 2) listing close matches', async () => {
    const unknown = await run(['--target', 'tabby kat', '--out', join(dir, 'x')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--target: unknown class name 'tabby kat'; close matches: 'tabby' \(281\)/);
    const range = await run(['--target', '1000', '--out', join(dir, 'x')]);
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/--target: target class 1000 is not an integer in \[0, 999\]/);
    const score = await run(['--score', 'probit', '--out', join(dir, 'x')]);
    expect(score.code).toBe(2);
    expect(score.stderr).toMatch(/--score must be logit or softmax/);
  });
});
