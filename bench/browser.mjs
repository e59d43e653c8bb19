#!/usr/bin/env node
// The seed figure (layer1..4 + guided, 224x224, seeded ResNet34) in headless Chromium through the
// browser bundle, cross-origin isolated (threads) and not (single thread). Needs `npm run build` and Chromium.
//   node bench/browser.mjs [--json]
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const assets = resolve(process.env.GRADCAM_TEST_ASSETS ?? join(root, '../shared'));
const types = { '.js': 'text/javascript', '.wasm': 'application/wasm' };
const serve = (isolated) =>
  new Promise((done) => {
    const server = createServer((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      const file = path === '/' ? null : path.startsWith('/shared/') ? join(assets, normalize(path.slice(8))) : join(root, normalize(path));
      const headers = isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
      if (!file) return res.writeHead(200, { ...headers, 'content-type': 'text/html' }).end('<!doctype html><title>bench</title>');
      if (!existsSync(file)) return res.writeHead(404).end();
      res.writeHead(200, { ...headers, 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
    });
    server.listen(0, '127.0.0.1', () => done(server));
  });

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const result = {};
for (const isolated of [true, false]) {
  const server = await serve(isolated);
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  result[isolated ? 'isolated' : 'notIsolated'] = await page.evaluate(`(async () => {
    const m = await import('/build/browser/gradcam-wasm.js');
    const ex = await m.createExplainer({ weights: '/shared/reference/resnet34-seed1.safetensors', tfjsWasmPaths: '/build/browser/' });
    const npy = m.decodeNpy(new Uint8Array(await (await fetch('/shared/reference/inputs/chelsea.input.npy')).arrayBuffer()));
    const input = { tensor: npy.data, shape: npy.shape };
    const options = { layers: ['layer1', 'layer2', 'layer3', 'layer4'], guided: true };
    await ex.explain(input, options);
    const ms = [];
    for (let i = 0; i < 7; i++) { const t = performance.now(); await ex.explain(input, options); ms.push(performance.now() - t); }
    ms.sort((a, b) => a - b);
    return { threads: ex.runtime.threads, seedFigureMs: Math.round(ms[3]) };
  })()`);
  await page.close();
  await new Promise((r) => server.close(r));
}
await browser.close();
console.log(process.argv.includes('--json') ? JSON.stringify(result) : `Chromium seed figure: ${JSON.stringify(result)}`);
