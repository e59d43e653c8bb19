// Runs the edge worker locally in workerd on 127.0.0.1, with a TF.js model served from a local folder:
// used by the test (test/runtime/workerd.test.ts) and the benchmark (bench/edge.mjs).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWorker } from './build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const workerd = join(here, '../../node_modules/.bin/workerd');

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * Builds a worker (default: the example), serves `serveDir` on 127.0.0.1 and starts workerd with
 * bindings MODEL_URL (`modelPath` under it), ASSETS_URL (its root) and PREPROCESS; resolves once it answers.
 */
export async function startLocalEdge({ serveDir, modelPath = 'model.json', preprocess = 'tf', entry }) {
  const dir = mkdtempSync(join(tmpdir(), 'gradcam-edge-'));
  await buildWorker(entry, dir);
  const models = createServer((req, res) => {
    const file = join(serveDir, normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    if (!file.startsWith(serveDir) || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200).end(readFileSync(file));
  });
  await new Promise((r) => models.listen(0, '127.0.0.1', r));
  const port = await freePort();
  writeFileSync(join(dir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker), (name = "loopback", network = (allow = ["local", "private"])) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "tfjs-backend-wasm-simd.wasm", wasm = embed "tfjs-backend-wasm-simd.wasm"),
    (name = "kernels.wasm", wasm = embed "kernels.wasm"),
    (name = "heap.wasm", wasm = embed "heap.wasm"),
  ],
  compatibilityDate = "2025-01-01",
  bindings = [
    (name = "MODEL_URL", text = "http://127.0.0.1:${models.address().port}/${modelPath}"),
    (name = "ASSETS_URL", text = "http://127.0.0.1:${models.address().port}"),
    (name = "PREPROCESS", text = "${preprocess}"),
  ],
  globalOutbound = "loopback",
);
`);
  const child = spawn(workerd, ['serve', 'config.capnp'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}/`;
  const stop = async () => {
    child.kill();
    await new Promise((r) => models.close(r));
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    try {
      await fetch(url);
      return { url, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await stop();
  throw new Error(`workerd did not start: ${log}`);
}
