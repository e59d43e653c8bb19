import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { createExplainer, decodeImage, loadKernels, renderOverlay, resizeRgbPillowBilinear } from '../../src/index.js';
import { hasMobilenet, missingReason } from '../helpers/assets.js';

const root = join(import.meta.dirname, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const skip = !hasMobilenet ? missingReason : !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : '';
if (skip && process.env.GRADCAM_REQUIRE_ASSETS === '1') throw new Error(`demo test cannot run: ${skip}`);

/** The demo page (npm run demo) driven in Chromium: pick an image, click a class, check the maps. */
describe.skipIf(skip !== '')(`demo page${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let server: ViteDevServer;
  let browser: Browser;
  beforeAll(async () => {
    server = await createServer({ configFile: join(root, 'demo/vite.config.ts'), server: { port: 0 }, logLevel: 'error' });
    await server.listen();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test('explaining a class draws four Grad-CAM maps equal to Node\'s, and Guided Grad-CAM under each', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const port = (server.httpServer!.address() as AddressInfo).port;
    await page.goto(`http://127.0.0.1:${port}/?model=/local-models/mobilenet_v1_0.75_224/model.json`);
    await page.waitForFunction(() => document.body.dataset.threads, null, { timeout: 90_000 });
    expect(await page.evaluate(() => document.body.dataset.heapKernels)).toBe('true');
    await page.click('[data-sample="/examples/coffee.png"]');
    await page.waitForSelector('#predictions button', { timeout: 60_000 });
    expect(await page.textContent('#predictions li:first-child')).toMatch(/^espresso: 93\.\d%$/);
    await page.click('#predictions li:first-child button');
    await page.waitForFunction(() => document.body.dataset.explained, null, { timeout: 60_000 });
    const target = Number(await page.evaluate(() => document.body.dataset.explained));
    expect(target).toBe(967);
    const drawn = (await page.evaluate(`[...document.querySelectorAll('#maps figure')].map((f) => {
      const read = (c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
      return { layer: f.dataset.layer, overlay: read(f.querySelector('canvas.gradcam')), guided: read(f.querySelector('canvas.guided-gradcam')) };
    })`)) as { layer: string; overlay: number[]; guided: number[] }[];
    expect(drawn).toHaveLength(4);
    expect(await page.textContent('#timing')).toMatch(/4 layers \+ guided backpropagation: \d+ ms on \d threads?/);
    mkdirSync(join(root, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-output/demo.png'), fullPage: true });

    // The same explanation in Node: decode, resize, explain, draw; RGBA from the page vs RGB here.
    const ex = await createExplainer({ model: join(process.env.GRADCAM_TEST_ASSETS ?? join(root, '../shared'), 'models/mobilenet_v1_0.75_224/model.json'), preprocess: 'tf' });
    const input = resizeRgbPillowBilinear(await decodeImage(new Uint8Array(readFileSync(join(root, 'examples/coffee.png')))), 224, 224);
    const e = await ex.explain(input, { target, layers: drawn.map((d) => d.layer) });
    ex.dispose();
    const kernels = await loadKernels();
    for (const d of drawn) {
      const ours = renderOverlay(kernels, input, e.cams[d.layer]!.map, 224, 224).data;
      let worst = 0;
      let differing = 0;
      for (let i = 0; i < 224 * 224; i++) {
        for (let c = 0; c < 3; c++) {
          const diff = Math.abs(ours[i * 3 + c]! - d.overlay[i * 4 + c]!);
          worst = Math.max(worst, diff);
          if (diff) differing++;
        }
      }
      expect(worst, d.layer).toBeLessThanOrEqual(1);
      expect(differing / (224 * 224 * 3), d.layer).toBeLessThan(0.001);
      // Guided Grad-CAM is drawn (not a blank canvas).
      expect(new Set(d.guided).size, d.layer).toBeGreaterThan(50);
    }
  });
});
