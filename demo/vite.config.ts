import { defineConfig, type Plugin } from 'vite';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const tfjsWasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
// Local models for trying the demo offline (the test assets); users pick files or give URLs.
const assets = resolve(process.env.GRADCAM_TEST_ASSETS ?? join(root, '../shared'));
const TYPES: Record<string, string> = { '.wasm': 'application/wasm', '.json': 'application/json' };

/** Serves the .wasm binaries and local models next to the page, under the same isolation headers. */
function files(): Plugin {
  const routes: [string, string][] = [['/tfjs-wasm/', tfjsWasmDir], ['/kernels/', join(root, 'build')], ['/local-models/', join(assets, 'models')], ['/examples/', join(root, 'examples')]];
  return {
    name: 'gradcam-demo-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split('?')[0]!);
        const route = routes.find(([prefix]) => path.startsWith(prefix));
        if (!route) return next();
        const file = join(route[1], normalize(path.slice(route[0].length)));
        if (!file.startsWith(route[1]) || !existsSync(file) || !statSync(file).isFile()) {
          res.statusCode = 404;
          return res.end();
        }
        res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
        res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
        createReadStream(file).pipe(res);
      });
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  resolve: {
    alias: [
      { find: /^gradcam-wasm$/, replacement: join(root, 'src/index.ts') },
      { find: /^gradcam-wasm\/metrics$/, replacement: join(root, 'src/metrics/index.ts') },
    ],
  },
  plugins: [files()],
  // Cross-origin isolation: the threaded wasm build needs SharedArrayBuffer.
  server: {
    host: '127.0.0.1',
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  },
  optimizeDeps: { exclude: ['jimp'] },
});
