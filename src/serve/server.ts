import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ExplainerPool } from '../pool/index.js';
import type { ModelSize } from '../cli/model-args.js';
import { ClientGoneError } from './body.js';
import { HttpError, toHttpError } from './errors.js';
import { explain, type ExplainContext, type ModelInfo } from './explain.js';
import { createGate } from './gate.js';
import { Metrics } from './metrics.js';
import { FORM_PAGE } from './page.js';
import { json, type Reply } from './reply.js';
import { release } from './release.js';

/** The module of the server's worker tasks: the pool must be created with `tasks: SERVE_TASKS`. */
export const SERVE_TASKS = new URL('./tasks.js', import.meta.url);

export interface ServeOptions {
  /** A pool created with `tasks: SERVE_TASKS`. */
  readonly pool: ExplainerPool;
  readonly model: ModelInfo;
  /** Requests that may wait for a worker (default 16); one more gets 503. */
  readonly queue?: number;
  /** Compute time per request (default 120 s); queue time does not count. */
  readonly timeoutMs?: number;
  /** Largest request body (default 32 MB). */
  readonly maxBodyBytes?: number;
  /** Time for the body to arrive (default 60 s). */
  readonly bodyTimeoutMs?: number;
  /** Largest image, width x height, refused from its header (default 50 MP). */
  readonly maxPixels?: number;
  /** How images are resized for the model (default 224x224). */
  readonly size?: ModelSize;
  /** One line per request; default: none. */
  readonly log?: (line: string) => void;
}

export interface GradcamServer {
  readonly http: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, answers every request already accepted (in flight or queued), then resolves. */
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, url: URL, signal: AbortSignal) => Promise<Reply> | Reply;

const KNOWN_ROUTE = /^\/(explain|healthz|readyz|metrics)?$/;

/** The HTTP service in front of an explainer pool: routing, the bounded queue, limits, metrics and logs. */
export function createGradcamServer(o: ServeOptions): GradcamServer {
  const gate = createGate(o.pool.size, o.queue ?? 16);
  const metrics = new Metrics();
  const bodyTimeoutMs = o.bodyTimeoutMs ?? 60_000;
  const ctx: ExplainContext = {
    pool: o.pool,
    gate,
    model: o.model,
    body: { maxBytes: o.maxBodyBytes ?? 32 * 1024 * 1024, timeoutMs: bodyTimeoutMs },
    maxPixels: o.maxPixels ?? 50_000_000,
    timeoutMs: o.timeoutMs ?? 120_000,
    size: o.size ?? 'square224',
    workerMemory: new Map(),
  };
  let closing = false;

  const routes: Record<string, Partial<Record<string, Handler>>> = {
    '/': { GET: () => ({ status: 200, type: 'text/html; charset=utf-8', body: FORM_PAGE }) },
    '/healthz': { GET: () => json(200, { status: 'ok' }) },
    '/readyz': {
      GET: () => {
        const ready = !closing && !gate.full;
        const why = closing ? 'shutting down' : gate.full ? 'queue full' : 'ready';
        return json(ready ? 200 : 503, { ready, status: why, running: gate.running, queued: gate.waiting });
      },
    },
    '/metrics': {
      GET: () => {
        const stats = o.pool.stats();
        const gauges = { queueDepth: gate.waiting, inFlight: gate.running, workers: stats.size, workerRestarts: stats.restarts, rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed, workerMemory: ctx.workerMemory };
        return { status: 200, type: 'text/plain; version=0.0.4; charset=utf-8', body: metrics.render(gauges) };
      },
    },
    '/explain': { POST: (req, url, signal) => explain(ctx, req, url.searchParams, signal) },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const start = performance.now();
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      // answered 400 below
    }
    const path = url?.pathname ?? String(req.url);
    const route = KNOWN_ROUTE.test(path) ? path : 'other';
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
      const status = res.writableFinished ? res.statusCode : 499; // 499: the client closed first (nginx's code)
      metrics.observe(route, status, (performance.now() - start) / 1000);
      const code = res.getHeader('x-error-code');
      o.log?.(`${new Date().toISOString()} ${req.socket.remoteAddress ?? '-'} ${req.method} ${path} ${status} ${Math.round(performance.now() - start)}ms ${res.getHeader('content-length') ?? 0}B${code ? ` ${code}` : ''}`);
    });
    let reply: Reply;
    try {
      if (!url) throw new HttpError(400, 'BAD_REQUEST', `malformed request target '${req.url}'`);
      const methods = routes[path];
      const handler = methods?.[req.method === 'HEAD' ? 'GET' : req.method ?? ''];
      if (!methods) throw new HttpError(404, 'NOT_FOUND', `no such endpoint: ${path}`);
      if (!handler) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}`, { Allow: Object.keys(methods).join(', ') });
      reply = await handler(req, url, gone.signal);
    } catch (err) {
      if (err instanceof ClientGoneError || gone.signal.aborted) {
        res.destroy();
        return;
      }
      const e = toHttpError(err);
      reply = json(e.status, { error: { code: e.code, message: e.message } }, { ...e.headers, 'X-Error-Code': e.code });
    }
    send(req, res, reply);
  }

  function send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    const chunks = typeof reply.body === 'string' ? [Buffer.from(reply.body)] : reply.body instanceof Uint8Array ? [reply.body] : reply.body;
    res.statusCode = reply.status;
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    res.setHeader('Content-Type', reply.type);
    res.setHeader('Content-Length', chunks.reduce((n, c) => n + c.byteLength, 0));
    res.setHeader('Cache-Control', 'no-store');
    // A body not read to its end (a refused upload) or a server going down ends the connection.
    if (closing || !req.complete) res.shouldKeepAlive = false;
    // Chunks as they are (no copy of a large body into one buffer); Node corks the writes of one tick.
    for (const c of chunks.slice(0, -1)) res.write(c);
    // Once written, a worker's answer is freed at once (release.ts); an answer not written is left to the GC.
    res.end(chunks.at(-1), () => release(reply.owned ?? []));
  }

  // handle() answers every error itself; a failure in answering (a socket gone) must not end the process.
  const http = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  // Our own body timer answers a slow upload with 408 first; Node's are the backstop.
  http.requestTimeout = bodyTimeoutMs + 10_000;
  http.headersTimeout = Math.min(60_000, http.requestTimeout);
  http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // As Node's own handler: answer only on a socket that has not written anything yet.
    if (!socket.writable || socket.bytesWritten > 0 || err.code === 'ECONNRESET') return void socket.destroy();
    const [status, text] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    const body = JSON.stringify({ error: { code: 'BAD_REQUEST', message: `malformed HTTP request: ${err.code ?? err.message}` } });
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });

  return {
    http,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          resolve(http.address() as AddressInfo);
        });
      });
    },
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      await closed;
      await gate.idle();
    },
  };
}
