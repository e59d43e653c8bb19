import { afterAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { writeFolder } from '../../src/cli/output.js';
import { decodeImage } from '../../src/image/decode.js';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';
import { ensureBuilt } from '../helpers/build.js';

/** The CLI as a new user meets it: mistakes are caught early, in one line, with a way out. */
const dir = mkdtempSync(join(tmpdir(), 'gradcam-newuser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const examples = join(import.meta.dirname, '../../examples');
const model = join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json');

async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const start = performance.now();
  try {
    const code = await main(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
    return { code, stdout, stderr, ms: performance.now() - start };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('mistakes found before the model loads (the model path does not even exist)', () => {
  const noModel = join(dir, 'no-such-model/model.json');
  test('an output folder that cannot be written: /proc/x fails at once, a file as --out too', async () => {
    for (const out of ['/proc/x', '/dev/null/x', join(examples, 'coffee.png')]) {
      const r = await run(['explain', join(examples, 'coffee.png'), '--model', noModel, '--out', out]);
      expect(r.code, out).toBe(1);
      expect(r.stderr, out).toMatch(new RegExp(`^gradcam: error: cannot write to the output folder ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(--out\\): [^\\n]+ \\[INVALID_INPUT\\]\\n$`));
      expect(r.ms).toBeLessThan(5000);
    }
  });
  test('a missing input is FILE_NOT_FOUND, not OFFLINE after a model load attempt', async () => {
    const r = await run(['explain', join(dir, 'nope.png'), '--out', join(dir, 'o1')], { GRADCAM_CACHE: join(dir, 'empty-cache'), GRADCAM_HUB_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`gradcam: error: file not found: ${join(dir, 'nope.png')} [FILE_NOT_FOUND]\n`);
    const m = await run(['explain', join(examples, 'coffee.png'), join(dir, 'nope.png'), '--model', noModel, '--out', join(dir, 'o1')]);
    expect(m.stderr).toMatch(/file not found: .*nope\.png \[FILE_NOT_FOUND\]/);
  });
});

describe('usage mistakes: exit 2, a hint, usage on stderr', () => {
  test('no arguments: usage on stderr, nothing on stdout', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/gradcam explain <input\.\.\.> \[options\]/);
    const h = await run(['--help']);
    expect([h.code, h.stderr]).toEqual([0, '']);
    expect(h.stdout).toMatch(/gradcam explain/);
  });
  test('unknown flags and commands get "did you mean"', async () => {
    const r = await run(['explain', 'x.png', '--layer', 'layer4']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^gradcam: unknown option '--layer'; did you mean --layers\?\n/);
    expect((await run(['explain', 'x.png', '--no-guide'])).stderr).toMatch(/did you mean --no-guided\?/);
    expect((await run(['explian', 'x.png'])).stderr).toMatch(/unknown command 'explian'; did you mean 'explain'\?/);
    expect((await run(['explain', 'x.png', '--zzzzzz'])).stderr).toMatch(/^gradcam: unknown option '--zzzzzz'\n/);
  });
});

test('writeFolder: files appear under the final name all at once; a failed write leaves nothing behind', async () => {
  const out = join(dir, 'atomic');
  mkdirSync(out);
  await writeFolder(join(out, 'coffee'), [['a.txt', new Uint8Array([1])]]);
  expect(readdirSync(out)).toEqual(['coffee']);
  await expect(writeFolder(join(out, 'coffee'), [['b.txt', new Uint8Array([2])], ['no/such/dir.txt', new Uint8Array([3])]])).rejects.toThrow();
  // The earlier complete result stays; no temporary folder is left.
  expect(readdirSync(out)).toEqual(['coffee']);
  expect(readdirSync(join(out, 'coffee'))).toEqual(['a.txt']);
  await writeFolder(join(out, 'coffee'), [['c.txt', new Uint8Array([4])]]);
  expect(readdirSync(join(out, 'coffee'))).toEqual(['c.txt']);
});

describe.skipIf(!hasMobilenet)(`with the real MobileNet${hasMobilenet ? '' : ` (skipped: ${missingReason})`}`, () => {
  test('same-named inputs get their own folders, and the CLI says so; --json keeps its shape', async () => {
    for (const d of ['a', 'b']) {
      mkdirSync(join(dir, d), { recursive: true });
      copyFileSync(join(examples, d === 'a' ? 'coffee.png' : 'chelsea.png'), join(dir, d, 'coffee.png'));
    }
    const out = join(dir, 'same');
    const r = await run(['explain', join(dir, 'a/coffee.png'), join(dir, 'b/coffee.png'), '--model', model, '--out', out, '--no-guided', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`gradcam: note: ${join(dir, 'b/coffee.png')} is written to ${join(out, 'coffee-2')}/ (another input is also named 'coffee')`);
    expect(readdirSync(out).sort()).toEqual(['coffee', 'coffee-2']);
    const report = JSON.parse(r.stdout);
    // The --json shape scripts rely on: exactly these keys.
    expect(Object.keys(report).sort()).toEqual(['results', 'runtime']);
    expect(Object.keys(report.runtime).length).toBeGreaterThan(0);
    for (const res of report.results) {
      expect(Object.keys(res).sort()).toEqual(['files', 'input', 'ms', 'ok', 'outDir', 'target', 'top5']);
      expect(Object.keys(res.target).sort()).toEqual(['index', 'label', 'logit', 'probability']);
      expect(res.top5).toHaveLength(5);
      expect(typeof res.target.index).toBe('number');
      expect(typeof res.target.probability).toBe('number');
    }
    expect(report.results.map((x: { outDir: string }) => x.outDir)).toEqual([join(out, 'coffee'), join(out, 'coffee-2')]);
    expect(report.results.map((x: { target: { label: string } }) => x.target.label)).toEqual(['espresso', expect.not.stringMatching(/espresso/)]);
  });

  test('a --layers typo: one short line with the close matches, not all 81 names', async () => {
    const r = await run(['explain', join(examples, 'coffee.png'), '--model', model, '--out', join(dir, 'typo'), '--layers', 'conv_pw_13_rleu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gradcam: error: unknown layer 'conv_pw_13_rleu'; did you mean 'conv_pw_13_relu'[^\n]*\(the model has \d+ layers; [^\n]+\) \[LAYER_NOT_FOUND\]\n$/);
    expect(r.stderr.length).toBeLessThan(250);
    expect(existsSync(join(dir, 'typo', 'coffee'))).toBe(false);
  });

  test('a single-layer figure: wide enough for its header line (jimp wraps it out of sight otherwise)', async () => {
    const out = join(dir, 'fig');
    const r = await run(['explain', join(ASSETS, 'images/husky.png'), '--model', model, '--out', out, '--json']);
    expect(r.code).toBe(0);
    const { target } = JSON.parse(r.stdout).results[0];
    const header = `${target.label} (class ${target.index}, p = ${target.probability.toFixed(3)})`;
    const { loadFont, measureText } = await import('jimp');
    const { SANS_32_BLACK } = await import('jimp/fonts');
    const textWidth = measureText(await loadFont(SANS_32_BLACK), header);
    const fig = await decodeImage(new Uint8Array(readFileSync(join(out, 'husky', 'figure.png'))));
    expect(textWidth).toBeGreaterThan(2 * 236);
    expect(fig.width).toBeGreaterThanOrEqual(textWidth + 2 * 12);
    // The header's last glyph is drawn: ink in the header band near the text's right end.
    let inkRight = 0;
    for (let y = 0; y < 44; y++) {
      for (let x = 0; x < fig.width; x++) if (fig.data[(y * fig.width + x) * 3]! < 128) inkRight = Math.max(inkRight, x);
    }
    expect(inkRight).toBeGreaterThan(12 + textWidth - 20);
    expect(readdirSync(out)).toEqual(['husky']);
  });
});

describe.skipIf(!hasMobilenet)(`Ctrl-C and kill during gradcam explain${hasMobilenet ? '' : ` (skipped: ${missingReason})`}`, () => {
  /**
   * Runs bin/gradcam.js on three images and sends `signal` once an entry matching `when` appears in the
   * output folder (fs.watch: as soon as it is created). Returns the exit code and what is left.
   */
  async function interrupt(signal: NodeJS.Signals, when: RegExp) {
    ensureBuilt();
    const inputs = ['one', 'two', 'three'].map((name) => {
      const path = join(dir, `${name}.png`);
      copyFileSync(join(examples, 'coffee.png'), path);
      return path;
    });
    const out = mkdtempSync(join(dir, `signal-${signal}-`));
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/gradcam.js'), 'explain', ...inputs, '--model', model, '--out', out, '--raw'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => void (stderr += d));
    let seen: string | undefined;
    const watcher = watch(out, (_event, name) => {
      if (seen === undefined && name && when.test(name)) {
        seen = name;
        child.kill(signal);
      }
    });
    const [code] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    watcher.close();
    const left = readdirSync(out).sort();
    return { code, stderr, seen, left, files: left.map((d) => readdirSync(join(out, d)).sort()) };
  }

  test('SIGINT while an image\'s files are being written: its temporary folder is removed, exit 130', async () => {
    const r = await interrupt('SIGINT', /^\.one\.partial-/);
    expect(r.seen, r.stderr).toBeDefined();
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/gradcam: interrupted by SIGINT\n$/);
    // Nothing hidden, nothing empty: at most the first image, complete.
    expect(r.left.filter((d) => d !== 'one')).toEqual([]);
    for (const files of r.files) expect(files).toContain('figure.png');
  }, 240_000); // the first test that runs bin/ may rebuild dist/ first

  test('SIGTERM after the first image: that one is complete, nothing else is left, exit 143', async () => {
    const r = await interrupt('SIGTERM', /^one$/);
    expect(r.code, r.stderr).toBe(143);
    expect(r.left[0]).toBe('one');
    expect(r.left.filter((d) => d.startsWith('.'))).toEqual([]);
    for (const files of r.files) {
      expect(files).toContain('figure.png');
      expect(files).toContain('guided.npy');
    }
  }, 240_000);
});
