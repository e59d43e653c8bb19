import { afterAll, beforeAll, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readExplainRequest } from '../../src/serve/request.js';
import { parseExplainParams } from '../../src/serve/params.js';
import { toHttpError } from '../../src/serve/errors.js';
import { multipart, send } from './http.js';

// Request parsing alone, behind a bare server: what came in (image bytes and parameters) or the error.
const limits = { maxBytes: 100_000, timeoutMs: 500 };
let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    let status = 200;
    let body: unknown;
    try {
      const r = await readExplainRequest(req, url.searchParams, limits);
      body = { bytes: Buffer.from(r.image).toString('latin1'), params: parseExplainParams(r.params) };
    } catch (err) {
      const e = toHttpError(err);
      status = e.status;
      body = { error: { code: e.code, message: e.message }, headers: e.headers };
    }
    res.writeHead(status, { 'content-type': 'application/json', ...(req.complete ? {} : { connection: 'close' }) }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const post = (path: string, type: string | undefined, body: Uint8Array | string) =>
  send({ port, method: 'POST', path, headers: type ? { 'content-type': type } : {}, body });

test('a raw PNG or JPEG body, with parameters in the query string', async () => {
  const r = await post('/explain?layers=a,%20b&target=tabby&guided=1&format=json&maps=f32&method=gradcam%2B%2B', 'image/png', 'PNGBYTES');
  expect(r.status).toBe(200);
  expect(r.json()).toEqual({
    bytes: 'PNGBYTES',
    params: { layers: ['a', 'b'], target: 'tabby', method: 'gradcam++', guided: true, format: 'json', maps: 'f32', figure: false, overlay: false },
  });
  expect((await post('/explain', 'image/jpeg; charset=binary', 'J')).json().params).toMatchObject({ format: 'png', maps: 'png', guided: false, method: 'gradcam' });
});

test('multipart: the file field image, other fields as parameters (a field wins over the query)', async () => {
  const image = Uint8Array.from([0, 255, 13, 10, 45, 45, 1]); // binary, with CRLF and dashes inside
  const m = multipart([
    { name: 'image', value: image, filename: 'x.png', type: 'image/png' },
    { name: 'target', value: '281' },
    { name: 'guided', value: 'on' },
  ]);
  const r = await post('/explain?target=1&format=json', m.type, m.body);
  expect(r.status).toBe(200);
  expect(Buffer.from(r.json().bytes, 'latin1')).toEqual(Buffer.from(image));
  expect(r.json().params).toMatchObject({ target: '281', guided: true, format: 'json' });
});

test('malformed or incomplete multipart bodies get 400; a non-image part 415', async () => {
  const good = multipart([{ name: 'image', value: 'x', filename: 'a.png' }]);
  const cases: [string, string, Buffer | string, number, string][] = [
    ['truncated', good.type, good.body.subarray(0, good.body.length - 20), 400, 'BAD_REQUEST'],
    ['garbage', good.type, 'this is not multipart', 400, 'BAD_REQUEST'],
    ['no boundary', 'multipart/form-data', good.body, 400, 'BAD_REQUEST'],
    ['no image field', multipart([{ name: 'target', value: '3' }]).type, multipart([{ name: 'target', value: '3' }]).body, 400, 'BAD_REQUEST'],
    ['image not a file', multipart([{ name: 'image', value: 'abc' }]).type, multipart([{ name: 'image', value: 'abc' }]).body, 400, 'BAD_REQUEST'],
    ['two images', good.type, multipart([{ name: 'image', value: 'x', filename: 'a.png' }, { name: 'image', value: 'y', filename: 'b.png' }]).body, 400, 'BAD_REQUEST'],
    ['gif part', good.type, multipart([{ name: 'image', value: 'GIF89a', filename: 'a.gif', type: 'image/gif' }]).body, 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ];
  for (const [what, type, body, status, code] of cases) {
    const r = await post('/explain', type, body);
    expect([what, r.status, r.json().error.code]).toEqual([what, status, code]);
  }
});

test('other content types get 415', async () => {
  for (const type of ['text/plain', 'image/gif', 'application/json', undefined]) {
    const r = await post('/explain', type, 'x');
    expect([type, r.status, r.json().error.code]).toEqual([type, 415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(r.json().error.message).toMatch(/image\/png, image\/jpeg, or multipart\/form-data/);
  }
});

test('bad parameters get 400 with the reason', async () => {
  const cases: [string, RegExp][] = [
    ['format=gif', /format must be one of png, json/],
    ['maps=jpg', /maps must be one of png, f32/],
    ['method=nope', /method must be one of gradcam/],
    ['guided=maybe', /guided must be 1\/0/],
    ['figure=1&format=json', /figure=1 needs format=png/],
    ['overlay=1', /overlay=1 needs format=json/],
    ['layer=x', /unknown parameter 'layer'/],
    ['target=1&target=2', /'target' is given more than once/],
    ['layers=,', /layers is empty/],
    ['target=', /target is empty/],
  ];
  for (const [query, message] of cases) {
    const r = await post(`/explain?${query}`, 'image/png', 'x');
    expect([query, r.status, r.json().error.code]).toEqual([query, 400, 'INVALID_INPUT']);
    expect(r.json().error.message).toMatch(message);
  }
});

test('a body over the limit gets 413: at once from Content-Length, or as soon as the limit is passed', async () => {
  const declared = await send({ port, method: 'POST', path: '/explain', headers: { 'content-type': 'image/png', 'content-length': 10_000_000 }, stream: () => {} });
  expect([declared.status, declared.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  // Chunked, no length: keep sending until the answer comes (bounded: 100 chunks of 16 kB, 16x the limit).
  let sent = 0;
  const chunked = await send({
    port,
    method: 'POST',
    path: '/explain',
    headers: { 'content-type': 'image/png', 'transfer-encoding': 'chunked' },
    stream: async (write, end, responded) => {
      for (let i = 0; i < 100 && !responded(); i++) {
        write(new Uint8Array(16_384));
        sent += 16_384;
        await new Promise((r) => setTimeout(r, 5));
      }
      end();
    },
  });
  expect([chunked.status, chunked.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  expect(sent).toBeLessThan(1_600_000);
});

test('a client that never finishes its body gets 408 once the body timeout passes', async () => {
  const t = performance.now();
  const r = await send({ port, method: 'POST', path: '/explain', headers: { 'content-type': 'image/png', 'content-length': 1000 }, stream: (write) => void write('only a few bytes') });
  expect([r.status, r.json().error.code]).toEqual([408, 'BODY_TIMEOUT']);
  expect(performance.now() - t).toBeGreaterThanOrEqual(limits.timeoutMs - 50);
});
