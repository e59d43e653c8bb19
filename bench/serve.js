// `npm run bench -- --serve [--duration S] [--json]`: gradcam serve under load on 127.0.0.1, for MobileNet and
// ResNet34 at 224x224. Throughput and latency at 1, 4 and 16 concurrent clients, 503s under overload (queue 8,
// 32 clients), the server's RSS after each run, and throughput at 16 clients against the in-process worker pool
// (alternating windows, median ratio). Each run lasts --duration seconds (default 60; the pairs share one).
// A bounded load generator of our own: each client sends one request, waits for the answer, sends the next,
// until the duration is over.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExplainerPool, decodeImage, encodePng, resizeRgbPillowBilinear } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const assets = resolve(process.env.GRADCAM_TEST_ASSETS ?? join(here, '../../shared'));

export async function benchServe({ duration = 60, json = false } = {}) {
  const workers = availableParallelism();
  const models = [
    { name: 'mobilenet', args: ['--model', join(assets, 'models/mobilenet_v1_0.75_224/model.json')], pool: { model: join(assets, 'models/mobilenet_v1_0.75_224/model.json'), preprocess: 'tf' } },
    { name: 'resnet34', args: ['--weights', join(assets, 'reference/resnet34-seed1.safetensors')], pool: { weights: new Uint8Array(readFileSync(join(assets, 'reference/resnet34-seed1.safetensors'))) } },
  ];
  // One 224x224 PNG: the server decodes it and explains it as it is (no resize work to speak of).
  const image = resizeRgbPillowBilinear(await decodeImage(readFileSync(join(assets, 'images/coffee.png'))), 224, 224);
  const png = await encodePng(image);
  const path = '/explain?format=json&maps=f32';
  const result = { machine: { cpus: workers, node: process.version }, durationS: duration, request: `POST ${path}, a 224x224 PNG`, workers, models: {} };
  for (const m of models) {
    const r = {};
    const server = await startServer([...m.args, '--workers', String(workers), '--queue', '16']);
    const warmUp = (port) => load(port, png, path, workers, Math.min(duration, 5));
    try {
      await warmUp(server.port);
      r.rssMB = [await rssMB(server.port)]; // after the warm-up, then after each run and after the pairs
      for (const clients of [1, 4, 16]) {
        r[`clients${clients}`] = await load(server.port, png, path, clients, duration);
        r.rssMB.push(await rssMB(server.port));
      }
      // The shared machine's speed drifts, so server and in-process pool alternate in short windows
      // (16 clients / 16 callers each) and the ratio is the median of the per-pair ratios.
      const pool = await createExplainerPool({ size: workers, ...m.pool });
      try {
        await poolLoad(pool, image, workers, Math.min(duration, 5)); // warm-up
        const pairs = [];
        for (let i = 0; i < PAIRS; i++) pairs.push([(await load(server.port, png, path, 16, duration / PAIRS)).imagesPerSec, (await poolLoad(pool, image, 16, duration / PAIRS)).imagesPerSec]);
        r.paired16 = { serverImagesPerSec: pairs.map(([s]) => s), poolImagesPerSec: pairs.map(([, p]) => p), serverOverPool: median(pairs.map(([s, p]) => s / p)) };
        r.rssMB.push(await rssMB(server.port));
      } finally {
        await pool.dispose();
      }
    } finally {
      await server.stop();
    }
    const overloaded = await startServer([...m.args, '--workers', String(workers), '--queue', '8']);
    try {
      await warmUp(overloaded.port);
      r.overload = { queue: 8, ...(await load(overloaded.port, png, path, 32, duration)) };
    } finally {
      await overloaded.stop();
    }
    result.models[m.name] = r;
    if (!json) report(m.name, r);
  }
  if (json) console.log(JSON.stringify(result));
  else console.log(`machine ${JSON.stringify(result.machine)}, ${duration} s per run, ${result.request}, ${workers} workers`);
  return result;
}

function report(name, r) {
  const row = (label, x) =>
    console.log(`${name} ${label.padEnd(22)} ${String(x.imagesPerSec).padStart(7)} images/s  p50 ${x.p50Ms} ms  p95 ${x.p95Ms} ms  p99 ${x.p99Ms} ms  status ${JSON.stringify(x.status)}`);
  for (const c of [1, 4, 16]) row(`${c} clients`, r[`clients${c}`]);
  row('32 clients, queue 8', r.overload);
  const p = r.paired16;
  console.log(`${name} 16 clients vs in-process pool, ${PAIRS} alternating pairs: server ${p.serverImagesPerSec.join(', ')}; pool ${p.poolImagesPerSec.join(', ')} images/s; median server / pool ${p.serverOverPool}`);
  console.log(`${name} server RSS after the warm-up, after each run and after the pairs: ${r.rssMB.join(', ')} MB`);
}

/** `gradcam serve` as a child process on a free port. */
async function startServer(args) {
  const child = spawn(process.execPath, [join(here, '../bin/gradcam.js'), 'serve', '--port', '0', '--quiet', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const port = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on http:\/\/[^:]+:(\d+)\//.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`gradcam serve exited (${code}):\n${stderr}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`gradcam serve exited with ${code} after SIGTERM:\n${stderr}`);
    },
  };
}

function post(agent, port, path, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'image/png', 'content-length': body.length } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const PAIRS = 4;
const median = (xs) => +[...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(3);
const percentile = (sorted, p) => (sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(1) : null);

/** `clients` closed-loop clients for `seconds`: successful images/s, latency percentiles (of 200s), answers by status. */
async function load(port, body, path, clients, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const end = performance.now() + seconds * 1000;
  const latencies = [];
  const status = {};
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const code = await post(agent, port, path, body).catch(() => 'error');
        status[code] = (status[code] ?? 0) + 1;
        if (code === 200) latencies.push(performance.now() - t);
        else if (code === 503) await new Promise((r) => setTimeout(r, 50)); // a refused client waits a little, as a real one would
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { imagesPerSec: +(latencies.length / elapsed).toFixed(2), p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95), p99Ms: percentile(latencies, 99), status };
}

async function rssMB(port) {
  const text = await new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let s = '';
      res.on('data', (d) => (s += d));
      res.on('end', () => resolve(s));
    })
      .on('error', reject)
      .end();
  });
  return Math.round(Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)[1]) / 1e6);
}

/** The same work on the in-process pool: `callers` closed loops of pool.explain on the decoded 224x224 image. */
async function poolLoad(pool, image, callers, seconds) {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < end) {
        await pool.explain(image);
        done++;
      }
    }),
  );
  return { imagesPerSec: +((done * 1000) / (performance.now() - start)).toFixed(2) };
}
