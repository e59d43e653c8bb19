import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { PNG } from 'pngjs';
import { main } from '../../src/cli/main.js';
import { hasReference, missingReason, REFERENCE } from '../helpers/assets.js';

const capture = () => {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t) } };
};
const WEIGHTS = join(REFERENCE, 'resnet34-seed1.safetensors');
const CHELSEA = join(REFERENCE, 'inputs', 'chelsea.input.npy');

test('the package exports gradcam-wasm/metrics (after the build)', () => {
  const code = `import('gradcam-wasm/metrics').then((m) => console.log(['evaluateMap', 'roadCombined', 'roadMostRelevantFirst', 'roadLeastRelevantFirst', 'camMultImageConfidenceChange', 'dropInConfidence', 'increaseInConfidence', 'pixelsToTensor'].map((k) => typeof m[k]).join(',')))`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: join(import.meta.dirname, '../..'), encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe(Array(8).fill('function').join(','));
});

describe('gradcam evaluate: usage errors (exit 2, before any model is loaded)', () => {
  for (const [why, args] of [
    ['unknown method', ['x.npy', '--methods', 'gradcam,nosuchcam']],
    ['two inputs', ['a.npy', 'b.npy']],
    ['no input', []],
    ['bad score', ['x.npy', '--score', 'probability']],
    ['negative noise', ['x.npy', '--noise', '-1']],
    ['percentile above 100', ['x.npy', '--morf-percentile', '101']],
    ['non-integer seed', ['x.npy', '--seed', '1.5']],
    ['empty layers', ['x.npy', '--layers', ',']],
    ['unknown option', ['x.npy', '--nosuch']],
  ] as const) {
    test(why, async () => {
      const { out, io } = capture();
      expect(await main(['evaluate', ...args], io)).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(/^gradcam: /);
    });
  }

  test('--help lists the options and every registered method', async () => {
    const { out, io } = capture();
    expect(await main(['evaluate', '--help'], io)).toBe(0);
    for (const flag of ['--methods', '--noise', '--seed', '--morf-percentile', '--lerf-percentile', '--score', '--json', '--weights', '--target']) expect(out.stdout).toContain(flag);
    expect(out.stdout).toContain('gradcam++');
  });
});

describe.skipIf(!hasReference)(`gradcam evaluate on the seeded ResNet34${hasReference ? '' : ` (skipped: ${missingReason})`}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradcam-evaluate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let json: { results: { method: string; layer: string; target: number; metrics: Record<string, number>; ms: number }[] };
  let printed: { stdout: string; stderr: string };
  beforeAll(async () => {
    const { out, io } = capture();
    const code = await main(['evaluate', CHELSEA, '--weights', WEIGHTS, '--methods', 'gradcam', '--layers', 'layer4', '--noise', '0', '--json'], io);
    printed = out;
    expect(out.stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    json = JSON.parse(out.stdout);
  });

  test('--json: only JSON on stdout, in the issue\'s shape; progress on stderr', () => {
    expect(Object.keys(json)).toEqual(['results']);
    expect(json.results).toHaveLength(1);
    const r = json.results[0]!;
    expect(Object.keys(r).sort()).toEqual(['layer', 'method', 'metrics', 'ms', 'target']);
    expect([r.method, r.layer, r.target]).toEqual(['gradcam', 'layer4', 494]);
    expect(Object.keys(r.metrics).sort()).toEqual(['confidenceChange', 'dropInConfidence', 'increaseInConfidence', 'roadCombined', 'roadLerf', 'roadMorf']);
    for (const v of Object.values(r.metrics)) expect(typeof v).toBe('number');
    expect(r.ms).toBeGreaterThan(0);
    expect(printed.stderr).toMatch(/model passes 20\/20/);
  });

  test('the numbers are pytorch-grad-cam\'s for our own Grad-CAM map (chelsea, top-1, noise 0)', () => {
    const ref = JSON.parse(readFileSync(join(REFERENCE, 'methods', 'chelsea', 'metrics_top1.json'), 'utf8')) as Record<string, number>;
    const m = json.results[0]!.metrics;
    const pairs = [
      [m.confidenceChange, ref.cam_mult_image_confidence_change],
      [m.dropInConfidence, ref.drop_in_confidence],
      [m.increaseInConfidence, ref.increase_in_confidence],
      [m.roadMorf, ref.road_morf_80],
      [m.roadLerf, ref.road_lerf_20],
      [m.roadCombined, ref.road_combined],
    ] as const;
    for (const [ours, r] of pairs) expect(Math.abs(ours! - r!)).toBeLessThanOrEqual(Math.abs(r!) > 0.1 ? 1e-3 * Math.abs(r!) : 1e-4);
  });

  test('an image input, a table with a row per method and layer; a bad target is a usage error', async () => {
    const png = new PNG({ width: 40, height: 40 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : (i * 7) % 256;
    const file = join(dir, 'small.png');
    writeFileSync(file, PNG.sync.write(png));
    const { out, io } = capture();
    const code = await main(['evaluate', file, '--weights', WEIGHTS, '--methods', 'gradcam,eigencam', '--layers', 'layer4', '--size', 'native', '--target', '7', '--score', 'softmax'], io);
    expect(out.stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/small\.png: class 7 .*score softmax, ROAD noise 0\.01 \(seed 0\)/);
    expect(lines[1]).toMatch(/^method\s+layer\s+ROAD combined\s+MoRF 80\s+LeRF 20\s+drop in conf\.\s+increase\s+time$/);
    expect(lines.slice(3).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([['gradcam', 'layer4'], ['eigencam', 'layer4']]);

    const bad = capture();
    // --target is resolved as explain resolves it: a class out of range is a usage error (exit 2).
    expect(await main(['evaluate', file, '--weights', WEIGHTS, '--methods', 'gradcam', '--size', 'native', '--target', '1000'], bad.io)).toBe(2);
    expect(bad.out.stderr).toMatch(/--target: target class 1000 is not an integer in \[0, 999\]/);
  });
});
