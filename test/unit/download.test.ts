import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { DEFAULT_RESNET34, defaultResnet34Weights as getWeights, defaultResnet34WeightsFile as getWeightsFile, resnet34WeightsUrl, type HubOptions } from '../../src/weights/hub.js';
import { cachedDownload, type DownloadEvent } from '../../src/weights/download.js';
import { main } from '../../src/cli/main.js';
import { DownloadError, OfflineError, WeightsError } from '../../src/errors.js';
import { randomResnet34Weights } from '../helpers/random-weights.js';

/** A local stand-in for the model hub on 127.0.0.1, serving generated ResNet34 weights. */
describe('default weights: download, progress, atomic cache, offline', () => {
  let server: Server;
  let base: string;
  let requests = 0;
  const weights = randomResnet34Weights();
  // The served file is not the pinned one: the tests pin its hash (as GRADCAM_WEIGHTS_SHA256 would).
  const served = createHash('sha256').update(weights).digest('hex');
  const defaultResnet34Weights = (o: HubOptions) => getWeights({ sha256: served, ...o });
  const defaultResnet34WeightsFile = (o: HubOptions) => getWeightsFile({ sha256: served, ...o });
  const cacheName = `timm--resnet34.tv_in1k--${DEFAULT_RESNET34.revision.slice(0, 12)}.safetensors`;
  const path = `/timm/resnet34.tv_in1k/resolve/${DEFAULT_RESNET34.revision}/model.safetensors`;
  let mode: 'ok' | 'redirect' | 'truncated' | 'corrupt' | 'missing' = 'ok';

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      if (mode === 'redirect' && req.url === path) {
        res.writeHead(302, { location: '/cdn/blob' }).end();
        return;
      }
      if (mode === 'missing') {
        res.writeHead(404).end('not found');
        return;
      }
      const body = mode === 'corrupt' ? Buffer.from(weights).fill(7, 8, 64) : Buffer.from(weights);
      res.writeHead(200, { 'content-length': String(body.length) });
      if (mode === 'truncated') {
        res.flushHeaders();
        res.write(body.subarray(0, 1_000_000), () => setTimeout(() => res.destroy(), 50));
        return;
      }
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const freshCache = () => mkdtempSync(join(tmpdir(), 'gradcam-cache-'));
  const leftovers = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

  test('the URL is pinned to a commit of the model repo (not resolve/main) and honours a mirror', () => {
    expect(DEFAULT_RESNET34.revision).toMatch(/^[0-9a-f]{40}$/);
    expect(DEFAULT_RESNET34.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(resnet34WeightsUrl('https://mirror.example/')).toBe(`https://mirror.example/timm/resnet34.tv_in1k/resolve/${DEFAULT_RESNET34.revision}/model.safetensors`);
  });

  test('first use downloads with progress and caches; the second use reads the cache only', async () => {
    mode = 'ok';
    const cacheDir = freshCache();
    const events: DownloadEvent[] = [];
    const bytes = await defaultResnet34Weights({ hubUrl: base, cacheDir, onProgress: (e) => events.push(e) });
    expect(bytes.byteLength).toBe(weights.byteLength);
    expect(events[0]).toEqual({ type: 'start', url: `${base}${path}`, total: weights.byteLength });
    const progress = events.filter((e) => e.type === 'progress') as { loaded: number }[];
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((p, i) => i === 0 || p.loaded > progress[i - 1]!.loaded)).toBe(true);
    expect(progress.at(-1)!.loaded).toBe(weights.byteLength);
    expect(events.at(-1)!.type).toBe('done');
    expect(leftovers(cacheDir).sort()).toEqual([cacheName, `${cacheName}.sha256`]);

    const before = requests;
    const again: DownloadEvent[] = [];
    await defaultResnet34Weights({ hubUrl: base, cacheDir, onProgress: (e) => again.push(e) });
    expect(requests).toBe(before);
    expect(again.map((e) => e.type)).toEqual(['cached']);
    // Offline works from the cache.
    await expect(defaultResnet34Weights({ hubUrl: base, cacheDir, offline: true })).resolves.toHaveLength(weights.byteLength);
    rmSync(cacheDir, { recursive: true });
  });

  test('redirects are followed', async () => {
    mode = 'redirect';
    const cacheDir = freshCache();
    await expect(defaultResnet34Weights({ hubUrl: base, cacheDir })).resolves.toHaveLength(weights.byteLength);
    rmSync(cacheDir, { recursive: true });
  });

  for (const [m, error, message] of [
    ['truncated', DownloadError, /connection lost after|got \d+ of \d+ bytes/],
    ['corrupt', WeightsError, /downloaded file from .* is not usable/],
    ['missing', DownloadError, /HTTP 404/],
  ] as const) {
    test(`${m} download: typed error, nothing cached, no partial file left`, async () => {
      mode = m;
      const cacheDir = freshCache();
      const err = await defaultResnet34Weights({ hubUrl: base, cacheDir }).catch((e) => e);
      expect(err).toBeInstanceOf(error);
      expect(err.message).toMatch(message);
      expect(leftovers(cacheDir)).toEqual([]);
      rmSync(cacheDir, { recursive: true });
    });
  }

  test('offline with an empty cache names --weights as the way out; so does an unreachable hub', async () => {
    const cacheDir = freshCache();
    const offline = await defaultResnet34Weights({ hubUrl: base, cacheDir, offline: true }).catch((e) => e);
    expect(offline).toBeInstanceOf(OfflineError);
    expect(offline.message).toMatch(/--weights FILE/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = await defaultResnet34Weights({ hubUrl: `http://127.0.0.1:${port}`, cacheDir }).catch((e) => e);
    expect(unreachable).toBeInstanceOf(OfflineError);
    expect(unreachable.message).toMatch(/--weights FILE/);
    expect(leftovers(cacheDir)).toEqual([]);
    rmSync(cacheDir, { recursive: true });
  });

  test('the file variant returns the cached path, whose bytes are the served ones', async () => {
    mode = 'ok';
    const cacheDir = freshCache();
    const file = await defaultResnet34WeightsFile({ hubUrl: base, cacheDir });
    expect(file).toBe(join(cacheDir, cacheName));
    expect(Buffer.compare(readFileSync(file), Buffer.from(weights))).toBe(0);
    rmSync(cacheDir, { recursive: true });
  });

  test('a known SHA-256 is checked: a match is cached, a mismatch is a WeightsError and nothing is cached', async () => {
    mode = 'ok';
    const cacheDir = freshCache();
    const sha256 = createHash('sha256').update(weights).digest('hex');
    const get = (hash: string, fileName: string) =>
      cachedDownload({ url: `${base}${path}`, fileName, cacheDir, sha256: hash, validate: () => undefined });
    await expect(get(sha256.toUpperCase(), 'good.bin')).resolves.toBe(join(cacheDir, 'good.bin'));
    expect(readFileSync(join(cacheDir, 'good.bin.sha256'), 'utf8').trim()).toBe(sha256);
    const err = await get(sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')), 'bad.bin').catch((e) => e);
    expect(err).toBeInstanceOf(WeightsError);
    expect(err.message).toMatch(/does not have the expected SHA-256/);
    expect(leftovers(cacheDir).sort()).toEqual(['good.bin', 'good.bin.sha256']);
    rmSync(cacheDir, { recursive: true });
  });

  test('the pinned SHA-256 is enforced: a hub serving another file is refused and nothing is cached', async () => {
    mode = 'ok';
    const cacheDir = freshCache();
    const err = await getWeights({ hubUrl: base, cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(WeightsError);
    expect(err.message).toMatch(new RegExp(`does not have the expected SHA-256 ${DEFAULT_RESNET34.sha256}`));
    expect(leftovers(cacheDir)).toEqual([]);
    rmSync(cacheDir, { recursive: true });
  });

  test('GRADCAM_WEIGHTS_SHA256 pins the hash explicitly', async () => {
    mode = 'ok';
    const cacheDir = freshCache();
    const saved = process.env.GRADCAM_WEIGHTS_SHA256;
    try {
      process.env.GRADCAM_WEIGHTS_SHA256 = served.toUpperCase();
      await expect(getWeightsFile({ hubUrl: base, cacheDir })).resolves.toBe(join(cacheDir, cacheName));
      process.env.GRADCAM_WEIGHTS_SHA256 = 'not-a-hash';
      await expect(getWeightsFile({ hubUrl: base, cacheDir })).rejects.toThrow(/not 64 hex digits/);
    } finally {
      if (saved === undefined) delete process.env.GRADCAM_WEIGHTS_SHA256;
      else process.env.GRADCAM_WEIGHTS_SHA256 = saved;
      rmSync(cacheDir, { recursive: true });
    }
  });

  test('a cached file changed on disk is reported, not used, and not downloaded over', async () => {
    mode = 'ok';
    const cacheDir = freshCache();
    const file = await defaultResnet34WeightsFile({ hubUrl: base, cacheDir });
    const bytes = readFileSync(file);
    bytes[bytes.length - 5]! ^= 1;
    writeFileSync(file, bytes);
    const before = requests;
    // Even without an expected hash, the one recorded at download time catches it.
    for (const sha256 of [served, undefined]) {
      const err = await getWeightsFile({ hubUrl: base, cacheDir, sha256: sha256 ?? served, offline: sha256 === undefined }).catch((e) => e);
      expect(err).toBeInstanceOf(WeightsError);
      expect(err.message).toMatch(/changed on disk since it was downloaded .* it was not used; delete it/);
    }
    expect(requests).toBe(before);
    // A copy cached before hashes were recorded: checked against the expected hash, then recorded.
    rmSync(`${file}.sha256`);
    await expect(getWeightsFile({ hubUrl: base, cacheDir, sha256: served })).rejects.toThrow(/has SHA-256 [0-9a-f]{64}, not the expected/);
    bytes[bytes.length - 5]! ^= 1;
    writeFileSync(file, bytes);
    await expect(getWeightsFile({ hubUrl: base, cacheDir, sha256: served })).resolves.toBe(file);
    expect(readFileSync(`${file}.sha256`, 'utf8').trim()).toBe(served);
    rmSync(cacheDir, { recursive: true });
  });

  test('the CLI without --weights downloads the default weights once (progress on stderr), then runs from the cache', async () => {
    mode = 'ok';
    const cacheDir = freshCache();
    const out = freshCache();
    const saved = { hub: process.env.GRADCAM_HUB_URL, cache: process.env.GRADCAM_CACHE, sha: process.env.GRADCAM_WEIGHTS_SHA256 };
    process.env.GRADCAM_HUB_URL = base;
    process.env.GRADCAM_CACHE = cacheDir;
    process.env.GRADCAM_WEIGHTS_SHA256 = served;
    try {
      const run = async () => {
        let stdout = '';
        let stderr = '';
        const image = join(import.meta.dirname, '../../examples/chelsea.png');
        const code = await main(['explain', image, '--layers', 'layer4', '--no-guided', '--threads', '1', '--json', '--out', out], {
          stdout: (t) => void (stdout += t),
          stderr: (t) => void (stderr += t),
        });
        return { code, stderr, report: JSON.parse(stdout) };
      };
      const before = requests;
      const first = await run();
      expect(first.code).toBe(0);
      expect(first.report.results[0].ok).toBe(true);
      expect(first.stderr).toMatch(/downloading ResNet34 weights/);
      expect(requests).toBe(before + 1);
      expect(leftovers(cacheDir).sort()).toEqual([cacheName, `${cacheName}.sha256`]);
      const second = await run();
      expect(second.code).toBe(0);
      expect(requests).toBe(before + 1);
      // Same weights, same image: the same explained class both times.
      expect(second.report.results[0].target).toEqual(first.report.results[0].target);
    } finally {
      for (const [k, v] of [['GRADCAM_HUB_URL', saved.hub], ['GRADCAM_CACHE', saved.cache], ['GRADCAM_WEIGHTS_SHA256', saved.sha]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(cacheDir, { recursive: true });
      rmSync(out, { recursive: true });
    }
  });
});
