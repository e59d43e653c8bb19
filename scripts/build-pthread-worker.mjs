// Writes tfjs-backend-wasm's Emscripten pthread worker to build/ as a real file: Node's
// worker_threads cannot start the blob: URL that tfjs creates for it (so tfjs turns threads off there).
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
mkdirSync(new URL('../build/', import.meta.url), { recursive: true });
// The contents were written for a Blob: newlines inside its string literals must stay escaped.
writeFileSync(new URL('../build/tfjs-pthread-worker.cjs', import.meta.url), wasmWorkerContents.replace(/\n/g, '\\n'));
