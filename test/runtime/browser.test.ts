import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { createExplainer } from '../../src/index.js';
import { ASSETS, hasReference, missingReason } from '../helpers/assets.js';
import { ALL_LAYERS, checkGuided, checkLayer, checkLogits, refInput } from '../helpers/reference-check.js';
import { maxAbsDiff } from '../helpers/metrics.js';

const root = join(import.meta.dirname, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.map': 'application/json' };

/** Serves the built bundle and the test assets, cross-origin isolated (COOP + COEP) so threads are allowed. */
function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const file = url.pathname === '/' ? null : url.pathname.startsWith('/shared/') ? join(ASSETS, normalize(url.pathname.slice(8))) : join(root, normalize(url.pathname));
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' };
    if (!file) {
      res.writeHead(200, { ...headers, 'content-type': 'text/html' }).end('<!doctype html><title>gradcam-wasm test</title>');
      return;
    }
    if (!existsSync(file)) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// CI installs Chromium (.ci/run) and must run this; elsewhere it is skipped with the reason.
const skip = !hasReference ? missingReason : !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)` : '';
if (skip && process.env.GRADCAM_REQUIRE_ASSETS === '1') throw new Error(`browser tests cannot run: ${skip}`);
describe.skipIf(skip !== '')(`headless Chromium, cross-origin isolated${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let server: Server;
  let browser: Browser;
  beforeAll(async () => {
    server = await serve();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  test('the browser bundle explains the reference input like Node and like pytorch-grad-cam', async () => {
    const page = await browser.newPage();
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await page.goto(`${base}/`);
    // Page code as a string: the test runner must not rewrite its dynamic import.
    type PageResult = {
      isolated: boolean;
      cores: number;
      runtime: { simd: boolean; threads: number };
      logits: number[];
      maps: Record<string, number[]>;
      raws: Record<string, { data: number[]; shape: number[] }>;
      guided: number[];
      guidedGradCam: Record<string, number[]>;
    };
    const out = (await page.evaluate(`(async (layers) => {
      const m = await import('/build/browser/gradcam-wasm.js');
      const ex = await m.createExplainer({ weights: '/shared/reference/resnet34-seed1.safetensors', tfjsWasmPaths: '/build/browser/' });
      const npy = m.decodeNpy(new Uint8Array(await (await fetch('/shared/reference/inputs/chelsea.input.npy')).arrayBuffer()));
      const e = await ex.explain({ tensor: npy.data, shape: npy.shape }, { layers, target: 281, guided: true });
      const arr = (a) => Array.from(a);
      return {
        isolated: crossOriginIsolated,
        cores: navigator.hardwareConcurrency,
        runtime: ex.runtime,
        logits: arr(e.logits),
        maps: Object.fromEntries(layers.map((l) => [l, arr(e.cams[l].map)])),
        raws: Object.fromEntries(layers.map((l) => [l, { data: arr(e.cams[l].raw), shape: [e.cams[l].rawHeight, e.cams[l].rawWidth] }])),
        guided: arr(e.guided),
        guidedGradCam: Object.fromEntries(layers.map((l) => [l, arr(e.guidedGradCam[l])])),
      };
    })(${JSON.stringify(ALL_LAYERS)})`)) as PageResult;
    expect(out.isolated).toBe(true);
    expect(out.runtime.simd).toBe(true);
    // Cross-origin isolated: the threaded SIMD build with one thread per core (tfjs alone would use cores / 2).
    expect(out.runtime.threads).toBe(Math.min(8, out.cores));

    checkLogits({ name: 'chelsea', top1: 494 }, out.logits);
    checkGuided('chelsea', 'c281', out.guided);
    for (const layer of ALL_LAYERS) {
      checkLayer('chelsea', 'c281', layer, { logits: out.logits, map: (l) => out.maps[l]!, raw: (l) => out.raws[l]!, guidedGradCam: (l) => out.guidedGradCam[l]! });
    }
    const node = await createExplainer({ weights: join(ASSETS, 'reference/resnet34-seed1.safetensors') });
    const e = await node.explain(refInput('chelsea'), { layers: ALL_LAYERS, target: 281 });
    node.dispose();
    for (const layer of ALL_LAYERS) expect(maxAbsDiff(out.maps[layer]!, e.cams[layer]!.map), layer).toBeLessThanOrEqual(1e-5);
  });
});
