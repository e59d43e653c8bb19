import { beforeAll, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt } from '../helpers/build.js';

const root = join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

beforeAll(ensureBuilt);

test('every file package.json exports exists after the build', () => {
  const targets = [...JSON.stringify(pkg.exports).matchAll(/:"(\.\/[^"]+)"/g)].map((m) => m[1]!);
  for (const t of [...targets, pkg.bin.gradcam]) expect(existsSync(join(root, t)), t).toBe(true);
});

test('the package entry loads in a plain Node process by its name, with no output and no side effects', () => {
  const code = `import('gradcam-wasm').then((m) => { console.log(Object.keys(m).filter((k) => ['createExplainer', 'createExplainerPool', 'topK', 'GradcamError'].includes(k)).sort().join(',')); })`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe('GradcamError,createExplainer,createExplainerPool,topK');
  const w = spawnSync(process.execPath, ['--input-type=module', '-e', `import('gradcam-wasm/weights').then((m) => console.log(typeof m.defaultResnet34Weights, typeof m.defaultResnet34WeightsFile))`], { cwd: root, encoding: 'utf8' });
  expect(w.stdout.trim()).toBe('function function');
});
