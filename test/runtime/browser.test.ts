import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { createExplainer } from '../../src/index.js';
import { ASSETS, hasReference, missingReason } from '../helpers/assets.js';
import { ALL_LAYERS, checkGuided, checkLayer, checkLogits, REF_INPUTS, REF_TARGETS, refInput } from '../helpers/reference-check.js';
import { maxAbsDiff } from '../helpers/metrics.js';
import { hasZoo, zooMissingReason } from '../helpers/zoo.js';
import { checkRuntimeCase, RUNTIME_CASE } from '../helpers/zoo-runtime.js';

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

/** A Float32Array the page sent as base64. */
const f32 = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};

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

  test('the browser bundle runs the parity suite (3 inputs x 2 targets) like Node and pytorch-grad-cam', async () => {
    const page = await browser.newPage();
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await page.goto(`${base}/`);
    // Page code as a string: the test runner must not rewrite its dynamic import. Arrays travel as base64.
    type Case = { logits: string; maps: Record<string, string>; raws: Record<string, { data: string; shape: number[] }>; guided: string; guidedGradCam: Record<string, string> };
    type PageResult = { isolated: boolean; cores: number; runtime: { simd: boolean; threads: number; heapKernels: boolean; gemmThreads: number }; cases: Record<string, Case> };
    const out = (await page.evaluate(`(async (layers, inputs) => {
      const m = await import('/build/browser/gradcam-wasm.js');
      const ex = await m.createExplainer({ weights: '/shared/reference/resnet34-seed1.safetensors', tfjsWasmPaths: '/build/browser/' });
      const b64 = (a) => { const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); let s = ''; for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000)); return btoa(s); };
      const cases = {};
      for (const name of inputs) {
        const npy = m.decodeNpy(new Uint8Array(await (await fetch('/shared/reference/inputs/' + name + '.input.npy')).arrayBuffer()));
        for (const t of ['top1', 'c281']) {
          const e = await ex.explain({ tensor: npy.data, shape: npy.shape }, { layers, target: t === 'c281' ? 281 : undefined, guided: true });
          cases[name + '/' + t] = {
            logits: b64(e.logits),
            maps: Object.fromEntries(layers.map((l) => [l, b64(e.cams[l].map)])),
            raws: Object.fromEntries(layers.map((l) => [l, { data: b64(e.cams[l].raw), shape: [e.cams[l].rawHeight, e.cams[l].rawWidth] }])),
            guided: b64(e.guided),
            guidedGradCam: Object.fromEntries(layers.map((l) => [l, b64(e.guidedGradCam[l])])),
          };
        }
      }
      return { isolated: crossOriginIsolated, cores: navigator.hardwareConcurrency, runtime: ex.runtime, cases };
    })(${JSON.stringify(ALL_LAYERS)}, ${JSON.stringify(REF_INPUTS.map((i) => i.name))})`)) as PageResult;
    expect(out.isolated).toBe(true);
    expect(out.runtime.simd).toBe(true);
    expect(out.runtime.heapKernels).toBe(true);
    // Cross-origin isolated: the threaded SIMD build with one thread per core (tfjs alone would use cores / 2).
    expect(out.runtime.threads).toBe(Math.min(8, out.cores));
    // ... and our GEMM's products shared with a helper Web Worker (with one core there is no second thread).
    expect(out.runtime.gemmThreads).toBe(out.runtime.threads > 1 ? 2 : 1);

    const node = await createExplainer({ weights: join(ASSETS, 'reference/resnet34-seed1.safetensors') });
    for (const input of REF_INPUTS) {
      for (const t of REF_TARGETS) {
        const c = out.cases[`${input.name}/${t}`]!;
        const logits = f32(c.logits);
        checkLogits(input, logits);
        checkGuided(input.name, t, f32(c.guided));
        for (const layer of ALL_LAYERS) {
          checkLayer(input.name, t, layer, {
            logits,
            map: (l) => f32(c.maps[l]!),
            raw: (l) => ({ data: f32(c.raws[l]!.data), shape: c.raws[l]!.shape }),
            guidedGradCam: (l) => f32(c.guidedGradCam[l]!),
          });
        }
        const e = await node.explain(refInput(input.name), { layers: ALL_LAYERS, target: t === 'c281' ? 281 : undefined });
        for (const layer of ALL_LAYERS) expect(maxAbsDiff(f32(c.maps[layer]!), e.cams[layer]!.map), `${input.name}/${t}/${layer}`).toBeLessThanOrEqual(1e-5);
      }
    }
    node.dispose();
  });

  test.skipIf(!hasZoo)(`an ONNX zoo model (${RUNTIME_CASE.arch}) like Node and pytorch-grad-cam${hasZoo ? '' : ` (skipped: ${zooMissingReason})`}`, async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const out = (await page.evaluate(`(async (c) => {
      const m = await import('/build/browser/gradcam-wasm.js');
      const ex = await m.createExplainer({ model: '/shared/' + c.file, tfjsWasmPaths: '/build/browser/' });
      const npy = m.decodeNpy(new Uint8Array(await (await fetch('/shared/reference/inputs/' + c.input + '.input.npy')).arrayBuffer()));
      const e = await ex.explain({ tensor: npy.data, shape: npy.shape }, { layers: [c.layer], guided: true });
      const b64 = (a) => { const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); let s = ''; for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000)); return btoa(s); };
      const result = { threads: ex.runtime.threads, cores: navigator.hardwareConcurrency, labels: ex.labels?.length, logits: b64(e.logits), map: b64(e.cams[c.layer].map), guided: b64(e.guided) };
      ex.dispose();
      return result;
    })(${JSON.stringify(RUNTIME_CASE)})`)) as { threads: number; cores: number; labels: number; logits: string; map: string; guided: string };
    await page.close();
    expect(out.threads).toBe(Math.min(8, out.cores));
    expect(out.labels).toBe(1000); // ImageNet's names: no labels file beside the model
    await checkRuntimeCase({ logits: f32(out.logits), map: f32(out.map), guided: f32(out.guided) });
  }, 120_000);
});
