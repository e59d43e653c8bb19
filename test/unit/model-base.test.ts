import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { loadKerasArtifacts } from '../../src/models/keras/loader.js';
import { resolveUnderBase } from '../../src/runtime/resolve.js';
import { fileUrlToPath } from '../../src/runtime/io.js';
import { GradcamError, InvalidInputError } from '../../src/errors.js';
import { tinyKerasModel } from '../helpers/tiny-keras.js';

const dir = mkdtempSync(join(tmpdir(), 'gradcam-base-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// A local file the model must never be able to read; its size must never show in an error.
const secret = join(dir, 'secret.bin');
writeFileSync(secret, new Uint8Array(123_457));

const rejects = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidInputError);
  expect((err as Error).message).toMatch(/refusing to read it/);
  expect((err as Error).message).not.toMatch(/123457|123,457|123 457/);
};

describe('resolveUnderBase', () => {
  test('http: same origin only', () => {
    expect(String(resolveUnderBase('http://a.test/m/model.json', 'w.bin', 'shard'))).toBe('http://a.test/m/w.bin');
    expect(String(resolveUnderBase('http://a.test/m/model.json', '../n/w.bin', 'shard'))).toBe('http://a.test/n/w.bin');
    for (const bad of ['file:///etc/passwd', 'http://b.test/w.bin', 'https://a.test/m/w.bin', '//b.test/w.bin', 'http://a.test:81/w.bin', 'data:,x']) {
      expect(() => resolveUnderBase('http://a.test/m/model.json', bad, 'shard'), bad).toThrow(InvalidInputError);
    }
  });
  test('file: URLs and local paths: the model folder and below only', () => {
    expect(String(resolveUnderBase('file:///m/model.json', 'sub/w.bin', 'shard'))).toBe('file:///m/sub/w.bin');
    for (const bad of ['../w.bin', '%2e%2e/w.bin', 'sub/../../w.bin', 'file:///etc/passwd', '/etc/passwd']) {
      expect(() => resolveUnderBase('file:///m/model.json', bad, 'shard'), bad).toThrow(InvalidInputError);
    }
    expect(resolveUnderBase('/m/model.json', 'sub/./w.bin', 'shard')).toBe('/m/sub/./w.bin');
    expect(resolveUnderBase('model.json', 'a/../w.bin', 'shard')).toBe('a/../w.bin');
    for (const bad of ['../w.bin', 'a/../../w.bin', '..\\w.bin', '/etc/passwd', '\\\\server\\share', 'C:/x', 'file:///etc/passwd', 'http://a.test/w.bin', '']) {
      expect(() => resolveUnderBase('/m/model.json', bad, 'shard'), bad).toThrow(InvalidInputError);
    }
  });
  test('file:///C:/x is C:\\x on Windows (fileURLToPath), not /C:/x', async () => {
    expect(await fileUrlToPath(new URL('file:///C:/x/model.json'), true)).toBe('C:\\x\\model.json');
    expect(await fileUrlToPath(new URL('file:///tmp/a%20b.json'), false)).toBe('/tmp/a b.json');
    await expect(fileUrlToPath(new URL('file://server/share/x'), false)).rejects.toThrow(GradcamError);
  });
});

describe('a model.json over http cannot make the library read local files (server on 127.0.0.1)', () => {
  let server: Server;
  let other: Server;
  let base: string;
  let otherBase: string;
  let otherHits = 0;
  const tiny = tinyKerasModel();
  const withPaths = (paths: string[]) => JSON.stringify({ ...tiny.json, weightsManifest: [{ ...(tiny.json.weightsManifest[0] as object), paths }] });
  const models: Record<string, () => string> = {
    ok: () => withPaths(['w.bin']),
    file: () => withPaths([pathToFileURL(secret).href]),
    host: () => withPaths([`${otherBase}/w.bin`]),
    up: () => withPaths(['../ok/w.bin']),
  };
  beforeAll(async () => {
    server = createServer((req, res) => {
      const [, folder, file] = req.url!.split('/');
      if (file === 'model.json' && models[folder!]) res.end(models[folder!]!());
      else if (file === 'w.bin') res.end(tiny.bin);
      else res.writeHead(404).end();
    });
    other = createServer((_req, res) => {
      otherHits++;
      res.end(tiny.bin);
    });
    await Promise.all([server, other].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  });
  afterAll(() => Promise.all([server, other].map((s) => new Promise<void>((resolve) => s.close(() => resolve())))));

  test('its own shards load', async () => {
    expect((await loadKerasArtifacts(`${base}/ok/model.json`)).weights.get('conv/kernel')!.shape).toEqual([3, 3, 3, 4]);
    // `..` stays on the same origin: allowed over http.
    expect((await loadKerasArtifacts(`${base}/up/model.json`)).weights.size).toBe(8);
  });
  test('an absolute file:// shard is refused without reading it (and its size is not revealed)', async () => {
    await rejects(loadKerasArtifacts(`${base}/file/model.json`));
  });
  test('a shard on another origin is refused without a request', async () => {
    await rejects(loadKerasArtifacts(new URL(`${base}/host/model.json`)));
    expect(otherHits).toBe(0);
  });
  test('a local model.json cannot name files outside its folder', async () => {
    mkdirSync(join(dir, 'm'), { recursive: true });
    writeFileSync(join(dir, 'm', 'w.bin'), tiny.bin);
    for (const paths of [['../secret.bin'], [secret], [pathToFileURL(secret).href]]) {
      writeFileSync(join(dir, 'm', 'model.json'), withPaths(paths));
      await rejects(loadKerasArtifacts(join(dir, 'm', 'model.json')));
      await rejects(loadKerasArtifacts(pathToFileURL(join(dir, 'm', 'model.json'))));
    }
    writeFileSync(join(dir, 'm', 'model.json'), withPaths(['w.bin']));
    expect((await loadKerasArtifacts(pathToFileURL(join(dir, 'm', 'model.json')))).weights.size).toBe(8);
  });
});
