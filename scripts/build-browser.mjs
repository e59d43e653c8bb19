// The browser ESM bundle: build/browser/gradcam-wasm.js. Node-only modules are only ever loaded
// behind runtime checks (src/runtime), so they stay external and are never fetched by a page.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const out = new URL('../build/browser/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
  outfile: join(out, 'gradcam-wasm.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  external: ['node:*', 'fs', 'path', 'os', 'worker_threads', 'perf_hooks', 'crypto', 'jimp', 'jimp/fonts'],
  logLevel: 'warning',
});
// tfjs-backend-wasm's binaries next to the bundle (setWasmPaths / tfjsWasmPaths points here).
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) copyFileSync(join(wasmDir, f), join(out, f));
