// Bundles a worker for workerd into <outDir> with the three .wasm modules beside it.
//   node examples/edge-worker/build.mjs            -> examples/edge-worker/dist/ (the example)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export async function buildWorker(entry = join(here, 'worker.js'), out = join(here, 'dist')) {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [entry],
    outfile: join(out, 'worker.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // 'gradcam-wasm' resolves through package.json's exports: the workerd condition (the browser bundle).
    conditions: ['workerd', 'worker', 'browser'],
    external: ['*.wasm', 'node:*', 'fs', 'path', 'os', 'worker_threads', 'perf_hooks', 'crypto'],
    minify: true,
    logLevel: 'warning',
  });
  copyFileSync(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist/tfjs-backend-wasm-simd.wasm'), join(out, 'tfjs-backend-wasm-simd.wasm'));
  for (const f of ['kernels.wasm', 'heap.wasm']) copyFileSync(join(here, '../../build', f), join(out, f));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildWorker();
