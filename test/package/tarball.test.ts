import { afterAll, beforeAll, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { tinyKerasModel } from '../helpers/tiny-keras.js';
import { ensureBuilt } from '../helpers/build.js';

/**
 * The package as a consumer installs it: `npm pack`, then the tarball in a fresh folder, laid out as
 * pnpm does (the package sees only its declared dependencies, each linked from this repository's
 * node_modules; no registry needed). A consumer file is typechecked with skipLibCheck: false under
 * three module resolutions, then run, and so is the CLI.
 */
const root = join(import.meta.dirname, '../..');
const repoModules = join(root, 'node_modules');
const work = mkdtempSync(join(tmpdir(), 'gradcam-tarball-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
let files: string[] = [];

const sh = (cmd: string, args: string[], cwd: string) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
};

beforeAll(ensureBuilt);

test('npm pack: the built package only, with its licence; no source maps, .wat or build scripts', () => {
  const [info] = JSON.parse(sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root));
  files = info.files.map((f: { path: string }) => f.path);
  expect(files).toContain('LICENSE');
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/weights/hub.d.ts', 'bin/gradcam.js', 'build/kernels.wasm', 'build/browser/gradcam-wasm.js']) expect(files, f).toContain(f);
  expect(files.filter((f) => /\.map$|\.wat$|^scripts\/|^src\/|^test\//.test(f))).toEqual([]);
  expect(info.size).toBeLessThan(1_000_000);
  // Exactly what the code imports: tfjs-core and the wasm backend at the version whose internals the engine uses,
  // jimp, and protobufjs's minimal runtime for the ONNX decoder.
  expect(pkg.dependencies).toEqual({ '@tensorflow/tfjs-backend-wasm': '4.22.0', '@tensorflow/tfjs-core': '4.22.0', jimp: expect.any(String), protobufjs: expect.any(String) });
  expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);

  const modules = join(work, 'consumer/node_modules');
  mkdirSync(modules, { recursive: true });
  sh('tar', ['-xzf', join(work, info.filename), '-C', modules], work);
  const installed = join(modules, 'gradcam-wasm');
  sh('mv', [join(modules, 'package'), installed], work);
  for (const dep of Object.keys(pkg.dependencies)) {
    mkdirSync(dirname(join(installed, 'node_modules', dep)), { recursive: true });
    symlinkSync(join(repoModules, dep), join(installed, 'node_modules', dep), 'dir');
  }
  mkdirSync(join(modules, '@types'), { recursive: true });
  // @types/node for the consumer itself; @types/long is tfjs-core's own dependency (its declarations use the
  // global Long), which npm installs beside it for a consumer.
  for (const types of ['node', 'long']) symlinkSync(join(repoModules, '@types', types), join(modules, '@types', types), 'dir');
});

test('a consumer typechecks with skipLibCheck: false under NodeNext, bundler and node10, and runs', () => {
  const consumer = join(work, 'consumer');
  cpSync(join(import.meta.dirname, 'consumer'), consumer, { recursive: true });
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const tsc = join(repoModules, 'typescript/bin/tsc');
  const common = ['--target', 'ES2022', '--strict', '--skipLibCheck', 'false', '--types', 'node,long', 'consumer.ts'];
  sh(process.execPath, [tsc, '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--outDir', 'out', ...common], consumer);
  sh(process.execPath, [tsc, '--noEmit', '--module', 'ESNext', '--moduleResolution', 'bundler', ...common], consumer);
  sh(process.execPath, [tsc, '--noEmit', '--module', 'CommonJS', '--moduleResolution', 'node10', ...common], consumer);

  const model = tinyKerasModel();
  writeFileSync(join(consumer, 'model.json'), JSON.stringify(model.json));
  writeFileSync(join(consumer, 'w.bin'), model.bin);
  const out = sh(process.execPath, ['run.mjs', join(consumer, 'model.json')], consumer);
  expect(out.trim()).toMatch(/^32x32 class \d relu 3072 function true 40 UNSUPPORTED$/);
  expect(sh(process.execPath, [join(consumer, 'node_modules/gradcam-wasm/bin/gradcam.js'), '--help'], consumer)).toMatch(/gradcam explain <input\.\.\.>/);
  // Three typechecks of tfjs-core's declarations (about 8 s of CPU each): room for a busy machine.
}, 300_000);
