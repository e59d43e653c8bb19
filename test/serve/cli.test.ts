import { afterAll, describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';
import { send } from './http.js';

const BIN = join(import.meta.dirname, '../../bin/gradcam.js');
const MODEL = join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json');

/** `gradcam serve` as a child process; resolves with its port once it listens. */
function serve(args: string[]): { child: ChildProcess; port: Promise<number>; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const port = new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`gradcam serve exited (${code}) before listening:\n${stderr}`)));
  });
  port.catch(() => {}); // a test that expects an early exit does not wait for the port
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, port, stderr: () => stderr, exit };
}

describe.skipIf(!hasMobilenet)(`gradcam serve, the command (${missingReason})`, () => {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gradcam-serve-'));
  afterAll(() => {
    children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
    rmSync(dir, { recursive: true, force: true });
  });

  test('usage errors exit 2 before loading anything', async () => {
    const s = serve(['--queue', 'x']);
    children.push(s.child);
    expect(await s.exit).toBe(2);
    expect(s.stderr()).toMatch(/--queue must be an integer >= 0, got 'x'/);
  });

  test('SIGTERM during load: it stops accepting, answers every accepted request completely, exits 0', async () => {
    // --labels: one name per line, the model's own with class 967 renamed.
    const labels = JSON.parse(readFileSync(join(ASSETS, 'models/mobilenet_v1_0.75_224/metadata.json'), 'utf8')).labels;
    labels[967] = 'served espresso';
    writeFileSync(join(dir, 'labels.txt'), labels.join('\n'));
    const s = serve(['--model', MODEL, '--workers', '1', '--queue', '8', '--labels', join(dir, 'labels.txt')]);
    children.push(s.child);
    const port = await s.port;
    const coffee = readFileSync(join(ASSETS, 'images/coffee.png'));
    const n = 6;
    const requests = Array.from({ length: n }, (_, i) =>
      send({ port, method: 'POST', path: `/explain?format=json&maps=${i % 2 ? 'png' : 'f32'}`, headers: { 'content-type': 'image/png' }, body: coffee }),
    );
    // Every request is accepted (running or queued) before the signal; bounded wait.
    for (let i = 0; i < 2000; i++) {
      const r = (await send({ port, path: '/readyz' })).json();
      if (r.running + r.queued === n) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    s.child.kill('SIGTERM');
    // The listening socket closes at once: new connections are refused while the accepted ones are answered.
    let refused = false;
    for (let i = 0; i < 200 && !refused; i++) {
      refused = await send({ port, path: '/healthz' }).then(() => false, (e) => e.code === 'ECONNREFUSED');
      if (!refused) await new Promise((r) => setTimeout(r, 10));
    }
    expect(refused).toBe(true);
    const answers = await Promise.all(requests);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(Number(a.headers['content-length'])).toBe(a.body.length);
      expect(a.json().target).toMatchObject({ index: 967, label: 'served espresso' });
    }
    expect(await s.exit).toBe(0);
    const lines = s.stderr().split('\n');
    expect(lines.filter((l) => / POST \/explain 200 /.test(l))).toHaveLength(n);
    expect(lines).toContain('gradcam serve: SIGTERM: answering the requests already accepted, then stopping');
    expect(lines).toContain('gradcam serve: stopped');
  });
});
