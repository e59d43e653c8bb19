import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { main } from '../../src/cli/main.js';
import { createExplainer, decodeNpy, resizeRgbPillowBilinear, softmax, type Explainer, type Pixels } from '../../src/index.js';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';

/**
 * A transparent PNG means one thing: alpha over white. The CLI decodes with decodeImage (which
 * composites); an API user hands over the raw RGBA. Both must explain the same pixels.
 */
describe.skipIf(!hasMobilenet)(`RGBA: API and CLI agree on a transparent image${hasMobilenet ? '' : ` (skipped: ${missingReason})`}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradcam-rgba-'));
  const model = join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json');
  const husky = join(ASSETS, 'images/husky.png');
  let ex: Explainer;
  let rgba: Pixels;
  beforeAll(async () => {
    ex = await createExplainer({ model, preprocess: 'tf' });
    const png = PNG.sync.read(readFileSync(husky));
    rgba = { data: new Uint8Array(png.data), width: png.width, height: png.height };
  });
  afterAll(() => {
    ex.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = async (size: string) => {
    let stdout = '';
    const out = join(dir, size);
    const code = await main(['explain', husky, '--model', model, '--out', out, '--size', size, '--json', '--raw', '--no-guided'], { stdout: (t) => void (stdout += t), stderr: () => undefined });
    expect(code).toBe(0);
    const r = JSON.parse(stdout).results[0];
    return { target: r.target, map: decodeNpy(readFileSync(join(r.outDir, 'cam-conv_pw_13_relu.npy'))).data as Float32Array };
  };

  test('the image really is transparent (else this test proves nothing)', () => {
    let clear = 0;
    for (let i = 3; i < rgba.data.length; i += 4) if (rgba.data[i]! < 255) clear++;
    expect(clear / (rgba.width * rgba.height)).toBeGreaterThan(0.2);
  });

  test('resized to 224x224 (resizeRgbPillowBilinear on RGBA): same class, probability and map', async () => {
    const resized = resizeRgbPillowBilinear(rgba, 224, 224);
    expect(resized.data.length).toBe(224 * 224 * 4);
    const api = await ex.explain(resized);
    const c = await cli('224');
    expect(api.target).toBe(c.target.index);
    expect(c.target.label).toMatch(/Eskimo dog|husky|malamute/i);
    expect(softmax(api.logits)[api.target]).toBe(c.target.probability);
    expect(Math.max(...api.cams['conv_pw_13_relu']!.map.map((v, i) => Math.abs(v - c.map[i]!)))).toBe(0);
  });

  test('at native size (RGBA straight into explain): same class and map', async () => {
    const api = await ex.explain(rgba);
    const c = await cli('native');
    expect(api.target).toBe(c.target.index);
    expect(Math.max(...api.cams['conv_pw_13_relu']!.map.map((v, i) => Math.abs(v - c.map[i]!)))).toBe(0);
  });
});
