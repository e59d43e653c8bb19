#!/usr/bin/env node
// Edge worker in workerd on 127.0.0.1 (MobileNet from ../shared): cold start and per-request time.
//   node bench/edge.mjs [--json]
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startLocalEdge } from '../examples/edge-worker/local.mjs';

const assets = resolve(process.env.GRADCAM_TEST_ASSETS ?? new URL('../../shared', import.meta.url).pathname);
const photo = readFileSync(new URL('../examples/coffee.png', import.meta.url));
const edge = await startLocalEdge({ serveDir: resolve(assets, 'models/mobilenet_v1_0.75_224') });
try {
  const post = async () => {
    const t = performance.now();
    const res = await fetch(edge.url, { method: 'POST', body: photo });
    await res.arrayBuffer();
    return { ms: performance.now() - t, worker: Number(res.headers.get('x-ms')), status: res.status };
  };
  const cold = await post();
  const warm = [];
  for (let i = 0; i < 9; i++) warm.push(await post());
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const result = {
    image: 'coffee.png 600x400 -> 224x224, MobileNet v1 0.75, Grad-CAM overlay PNG',
    coldStartMs: Math.round(cold.ms),
    coldStartInWorkerMs: cold.worker,
    requestMedianMs: Math.round(median(warm.map((w) => w.ms))),
    requestMedianInWorkerMs: median(warm.map((w) => w.worker)),
  };
  console.log(process.argv.includes('--json') ? JSON.stringify(result) : Object.entries(result).map(([k, v]) => `${k.padEnd(24)} ${v}`).join('\n'));
} finally {
  await edge.stop();
}
