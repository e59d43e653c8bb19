// Bundles the worker for workerd into examples/edge-worker/dist/ with the .wasm modules beside it.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const require = createRequire(import.meta.url);
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'worker.js')],
  outfile: join(out, 'worker.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  conditions: ['worker', 'browser'],
  alias: { 'gradcam-wasm': join(here, '../../src/index.ts') },
  external: ['*.wasm', 'node:*', 'fs', 'path', 'os', 'worker_threads', 'perf_hooks', 'crypto'],
  minify: true,
  logLevel: 'warning',
});
copyFileSync(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist/tfjs-backend-wasm-simd.wasm'), join(out, 'tfjs-backend-wasm-simd.wasm'));
copyFileSync(join(here, '../../build/kernels.wasm'), join(out, 'kernels.wasm'));
