import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
// The pool starts worker threads from the built files, so the server is tested from the build too (npm run build).
import { createExplainerPool, decodeImage, resizeRgbPillowBilinear, softmax, topK, type ExplainerPool } from '../../dist/index.js';
import { createGradcamServer, SERVE_TASKS, type GradcamServer } from '../../dist/serve/server.js';
import { ASSETS, hasMobilenet, missingReason } from '../helpers/assets.js';
import { multipart, send, type TestResponse } from './http.js';
import { parsePrometheus } from './prometheus.js';
import { threadsOf } from '../helpers/pool-threads.js';

const MODEL = join(ASSETS, 'models/mobilenet_v1_0.75_224/model.json');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hasMobilenet)(`gradcam serve on a pool of one MobileNet worker (${missingReason})`, () => {
  const coffee = readFileSync(join(ASSETS, 'images/coffee.png'));
  let pool: ExplainerPool;
  let labels: readonly string[];
  const log: string[] = [];
  // Two servers on one pool: `fast` resizes to 224x224 as by default; `slow` explains at 384 (about a
  // second with guided on), so that a request is surely still running while the test looks at the queue.
  let fast: GradcamServer;
  let slow: GradcamServer;
  let fastPort: number;
  let slowPort: number;

  beforeAll(async () => {
    pool = await createExplainerPool({ size: 1, model: MODEL, preprocess: 'tf', tasks: SERVE_TASKS });
    labels = JSON.parse(readFileSync(join(ASSETS, 'models/mobilenet_v1_0.75_224/metadata.json'), 'utf8')).labels;
    const model = { labels, numClasses: 1000 };
    fast = createGradcamServer({ pool, model, queue: 2, maxBodyBytes: 2_000_000, bodyTimeoutMs: 1500, log: (l) => log.push(l) });
    slow = createGradcamServer({ pool, model, queue: 1, size: 384 });
    fastPort = (await fast.listen(0, '127.0.0.1')).port;
    slowPort = (await slow.listen(0, '127.0.0.1')).port;
  });
  afterAll(async () => {
    await Promise.all([fast?.close(), slow?.close()]);
    await pool?.dispose();
  });

  const get = (path: string, port = fastPort) => send({ port, path });
  const post = (path: string, body: Uint8Array | string, type = 'image/png', port = fastPort) =>
    send({ port, method: 'POST', path, headers: { 'content-type': type }, body });
  const expectError = (r: TestResponse, status: number, code: string) => {
    expect([r.status, r.headers['content-type']]).toEqual([status, 'application/json; charset=utf-8']);
    expect(r.json().error.code).toBe(code);
    expect(typeof r.json().error.message).toBe('string');
  };
  const readyz = async (port: number) => (await get('/readyz', port)).json();
  /** Polls until `ok` (bounded: 2000 x 5 ms). */
  const until = async (ok: () => Promise<boolean>) => {
    for (let i = 0; i < 2000 && !(await ok()); i++) await sleep(5);
    expect(await ok()).toBe(true);
  };

  test('GET /healthz, /readyz, / (the form); unknown paths 404, wrong methods 405, all as JSON', async () => {
    expect([(await get('/healthz')).status, (await get('/healthz')).json()]).toEqual([200, { status: 'ok' }]);
    const ready = await get('/readyz');
    expect([ready.status, ready.json().ready]).toEqual([200, true]);
    const page = await get('/');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body.toString()).toMatch(/<form[^>]*>[\s\S]*name="image" type="file"/);
    expect(page.body.toString()).toContain("fetch('explain?format=json&overlay=1'");
    expectError(await get('/nope'), 404, 'NOT_FOUND');
    const wrong = await get('/explain');
    expectError(wrong, 405, 'METHOD_NOT_ALLOWED');
    expect(wrong.headers.allow).toBe('POST');
    expectError(await post('/healthz', 'x'), 405, 'METHOD_NOT_ALLOWED');
    // Malformed HTTP: a request target that is no URL, and a request line that is no HTTP.
    for (const raw of ['GET http://[x/ HTTP/1.1\r\nHost: a\r\n\r\n', 'NOT HTTP AT ALL\r\n\r\n']) {
      const answer = await new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = connect(fastPort, '127.0.0.1', () => socket.end(raw));
        socket.on('data', (d) => (text += d)).on('end', () => resolve(text)).on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('BAD_REQUEST');
    }
    expect((await get('/healthz')).status).toBe(200);
  });

  test('format=json: top-5, target and the maps, equal to the pool explaining the same resized image', async () => {
    const modelImage = resizeRgbPillowBilinear(await decodeImage(coffee), 224, 224);
    const expected = await pool.explain(modelImage, { guided: true });
    const r = await post('/explain?format=json&maps=f32&guided=1', coffee);
    expect(r.status).toBe(200);
    const body = r.json();
    const top5 = topK(expected.logits, 5, labels);
    expect(body.top5).toEqual(top5.map((p) => ({ index: p.index, label: p.label, probability: p.probability })));
    expect(body.target).toEqual(body.top5[0]);
    expect(body.target.label).toBe('espresso');
    expect([body.width, body.height]).toEqual([224, 224]);
    const [layer] = Object.keys(expected.cams);
    expect(Object.keys(body.maps)).toEqual([layer]);
    const f32 = (b64: string) => new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer);
    expect(f32(body.maps[layer!])).toEqual(expected.cams[layer!]!.map);
    expect(f32(body.guided[layer!])).toEqual(expected.guidedGradCam![layer!]);
    expect(body.ms).toBeGreaterThan(0);
    // maps=png (the default): each map as a 224x224 PNG heatmap.
    const png = (await post('/explain?format=json', coffee)).json();
    const heat = PNG.sync.read(Buffer.from(png.maps[layer!], 'base64'));
    expect([heat.width, heat.height]).toEqual([224, 224]);
    expect(png.guided).toBeUndefined();
    // A target outside the top-5 gets its own probability.
    const goldfish = (await post('/explain?format=json&target=1', coffee)).json().target;
    expect(goldfish).toEqual({ index: 1, label: 'goldfish, Carassius auratus', probability: softmax(expected.logits)[1] });
  });

  test('format=png: the overlay at the upload size; figure=1 the figure; multipart as raw; target by name or index', async () => {
    const overlay = await post('/explain', coffee);
    expect([overlay.status, overlay.headers['content-type']]).toEqual([200, 'image/png']);
    const o = PNG.sync.read(overlay.body);
    expect([o.width, o.height]).toEqual([600, 400]);
    const figure = PNG.sync.read((await post('/explain?figure=1&guided=1', coffee)).body);
    expect(figure.height).toBe(44 + 26 + 224 + 12 + 224 + 12);
    const m = multipart([{ name: 'image', value: coffee, filename: 'coffee.png', type: 'image/png' }, { name: 'format', value: 'json' }, { name: 'target', value: 'cup' }]);
    const form = await post('/explain', m.body, m.type);
    expect(form.status).toBe(200);
    expect(form.json().target).toMatchObject({ index: 968, label: 'cup' });
    expect((await post('/explain?format=json&target=967', coffee)).json().target.label).toBe('espresso');
    // A multipart upload gives the same bytes back as a raw one.
    const raw = await post('/explain?target=cup', coffee);
    const m2 = multipart([{ name: 'image', value: coffee, filename: 'c.png' }, { name: 'target', value: 'cup' }]); // a file part without a type
    const viaForm = await post('/explain', m2.body, m2.type);
    expect(viaForm.body.equals(raw.body)).toBe(true);
  });

  test("/metrics: each worker's tensors after a request; requests of every kind leave them as they were", async () => {
    const tensors = async () => {
      const m = parsePrometheus((await get('/metrics')).body.toString());
      return [...m].filter(([k]) => k.startsWith('gradcam_worker_tensors{')).map(([, v]) => v);
    };
    await post('/explain?format=json&maps=f32', coffee);
    const before = await tensors();
    expect(before).toHaveLength(1);
    expect(before[0]).toBeGreaterThan(0);
    for (const q of ['format=json&maps=f32&guided=1', 'format=json&overlay=1', '', 'figure=1&guided=1', 'format=json&method=gradcam%2B%2B']) {
      expect((await post(`/explain?${q}`, coffee)).status).toBe(200);
      expect(await tensors()).toEqual(before);
    }
  });

  test('bad images and bad parameters get 400 with the engine codes; a 60 MP header 413 before decoding', async () => {
    expectError(await post('/explain', 'not an image'), 400, 'IMAGE_DECODE_ERROR');
    expectError(await post('/explain', coffee.subarray(0, 2000)), 400, 'IMAGE_DECODE_ERROR');
    expectError(await post('/explain?layers=conv_nope', coffee), 400, 'LAYER_NOT_FOUND');
    expectError(await post('/explain?target=1000', coffee), 400, 'TARGET_OUT_OF_RANGE');
    const unknown = await post('/explain?target=espreso', coffee);
    expectError(unknown, 400, 'INVALID_INPUT');
    expect(unknown.json().error.message).toMatch(/close matches: 'espresso' \(967\)/);
    expectError(await post('/explain', coffee, 'image/gif'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await post('/explain', new Uint8Array(2_000_001)), 413, 'PAYLOAD_TOO_LARGE');
    // 10000 x 6000 in the header, and nothing after it: decoding would fail, so a 413 means the header decided.
    const png = Buffer.alloc(33);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    png.writeUInt32BE(10_000, 16);
    png.writeUInt32BE(6_000, 20);
    const bigPng = await post('/explain', png);
    expectError(bigPng, 413, 'IMAGE_TOO_LARGE');
    expect(bigPng.json().error.message).toMatch(/10000x6000 = 60000000 pixels, above the limit of 50000000/);
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0x17, 0x70, 0x27, 0x10, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]); // SOF0 6000 x 10000
    expectError(await post('/explain', jpeg, 'image/jpeg'), 413, 'IMAGE_TOO_LARGE');
  });

  test('an image explained at its own size beyond what fits the wasm heap: 413 OUT_OF_MEMORY, before any compute', async () => {
    const native = createGradcamServer({ pool, model: { labels, numClasses: 1000 }, size: 'native' });
    const port = (await native.listen(0, '127.0.0.1')).port;
    try {
      const big = new PNG({ width: 2400, height: 1800 }); // 4.3 MP; a MobileNet call fits about 2.4 MP
      big.data.fill(200);
      const r = await post('/explain', PNG.sync.write(big), 'image/png', port);
      expectError(r, 413, 'OUT_OF_MEMORY');
      expect((await post('/explain?format=json', coffee)).status).toBe(200);
    } finally {
      await native.close();
    }
  });

  test('a full queue answers 503 with Retry-After; every queued request is served; /readyz says not ready meanwhile', async () => {
    const running = post('/explain?guided=1', coffee, 'image/png', slowPort);
    await until(async () => (await readyz(slowPort)).running === 1);
    const queued = post('/explain?format=json', coffee, 'image/png', slowPort);
    await until(async () => (await readyz(slowPort)).queued === 1);
    const notReady = await get('/readyz', slowPort);
    expect([notReady.status, notReady.json().status]).toEqual([503, 'queue full']);
    const refused = await post('/explain', coffee, 'image/png', slowPort);
    expectError(refused, 503, 'QUEUE_FULL');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
    expect((await get('/readyz', slowPort)).status).toBe(200);
  });

  test('a worker killed mid-request: 500 with WORKER_EXITED, the worker is replaced, the server goes on', async () => {
    const restarts = pool.stats().restarts;
    const call = post('/explain?guided=1', coffee, 'image/png', slowPort);
    await until(async () => (await readyz(slowPort)).running === 1); // the call is on the worker
    await Promise.all(threadsOf(pool).map((t) => t?.kill()));
    expectError(await call, 500, 'WORKER_EXITED');
    expect(pool.stats().restarts).toBe(restarts + 1);
    expect((await post('/explain?format=json', coffee)).json().target.label).toBe('espresso');
  });

  test('a request over its compute timeout gets 504 and frees its worker, which is replaced', async () => {
    // Time in the queue is not counted: the gate hands a request to the pool only when a worker is free.
    const short = createGradcamServer({ pool, model: { labels, numClasses: 1000 }, size: 512, timeoutMs: 100 });
    const port = (await short.listen(0, '127.0.0.1')).port;
    try {
      const restarts = pool.stats().restarts;
      const timedOut = await post('/explain?guided=1', coffee, 'image/png', port);
      expectError(timedOut, 504, 'TIMEOUT');
      expect(timedOut.json().error.message).toMatch(/100 ms/);
      expect(pool.stats().restarts).toBe(restarts + 1);
      expect((await post('/explain?format=json', coffee)).json().target.label).toBe('espresso');
    } finally {
      await short.close();
    }
  });

  test('a client that never finishes its body gets 408; it holds no worker meanwhile', async () => {
    const t = performance.now();
    const stalled = send({ port: fastPort, method: 'POST', path: '/explain', headers: { 'content-type': 'image/png', 'content-length': coffee.length }, stream: (write) => void write(coffee.subarray(0, 1000)) });
    expect((await post('/explain?format=json', coffee)).status).toBe(200);
    expectError(await stalled, 408, 'BODY_TIMEOUT');
    expect(performance.now() - t).toBeGreaterThanOrEqual(1400);
  });

  test('/metrics: requests by status, latency histogram, queue, restarts and RSS; one log line per request', async () => {
    const before = log.length;
    await get('/healthz');
    await post('/explain', 'x');
    await get('/missing');
    expect(log.length).toBe(before + 3);
    expect(log.slice(before).map((l) => l.split(' ').slice(2, 5).join(' '))).toEqual(['GET /healthz 200', 'POST /explain 400', 'GET /missing 404']);
    expect(log.at(-2)).toMatch(/^\S+Z 127\.0\.0\.1 POST \/explain 400 \d+ms \d+B IMAGE_DECODE_ERROR$/);
    const s = parsePrometheus((await get('/metrics')).body.toString());
    const requests = (status: number, route = '/explain') => s.get(`gradcam_http_requests_total{route="${route}",status="${status}"}`) ?? 0;
    expect(requests(200)).toBeGreaterThanOrEqual(8);
    for (const status of [400, 408, 413, 415]) expect(requests(status)).toBeGreaterThanOrEqual(1);
    expect(requests(404, 'other')).toBeGreaterThanOrEqual(2);
    expect(s.get('gradcam_http_request_duration_seconds_count{route="/explain"}')).toBe([...s].filter(([k]) => k.startsWith('gradcam_http_requests_total{route="/explain"')).reduce((n, [, v]) => n + v, 0));
    expect(s.get('gradcam_worker_restarts_total')).toBe(pool.stats().restarts);
    expect(s.get('gradcam_workers')).toBe(1);
    expect(s.get('gradcam_queue_depth')).toBe(0);
    expect(s.get('process_resident_memory_bytes')).toBeGreaterThan(50e6);
  });
});
