// Runs the build steps whose outputs are older than their inputs (or missing), so that tests of dist/,
// bin/ and build/ never run against a stale build, and cost nothing when nothing changed.
// `npm test` runs it first (pretest); tests that spawn the built package call it too (test/helpers/build.ts).
import { execSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const mtime = (p) => {
  try {
    const s = statSync(join(root, p));
    if (!s.isDirectory()) return s.mtimeMs;
    return Math.max(0, ...readdirSync(join(root, p)).map((f) => mtime(join(p, f))));
  } catch {
    return undefined;
  }
};
const steps = [
  { script: 'build:as', inputs: ['assembly', 'asconfig.json'], outputs: ['build/kernels.wasm', 'build/heap.wasm', 'build/heap-shared.wasm'] },
  { script: 'build:worker', inputs: ['scripts/build-pthread-worker.mjs', 'node_modules/@tensorflow/tfjs-backend-wasm/package.json'], outputs: ['build/tfjs-pthread-worker.cjs'] },
  { script: 'build:ts', inputs: ['src', 'tsconfig.json'], outputs: ['dist/index.js', 'dist/cli/main.js'] },
  { script: 'build:browser', inputs: ['src', 'scripts/build-browser.mjs'], outputs: ['build/browser/gradcam-wasm.js'] },
];
for (const { script, inputs, outputs } of steps) {
  const newestInput = Math.max(...inputs.map((p) => mtime(p) ?? 0));
  const oldestOutput = Math.min(...outputs.map((p) => mtime(p) ?? -1));
  if (oldestOutput >= newestInput) continue;
  process.stderr.write(`build-if-stale: ${script} (inputs changed since the last build)\n`);
  execSync(`npm run --silent ${script}`, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
