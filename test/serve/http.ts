import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface TestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  json(): any;
}

export interface TestRequest {
  readonly port: number;
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string | number>;
  /** Sent at once; or `stream` writes the body itself and ends it (or not). */
  readonly body?: Uint8Array | string;
  readonly stream?: (write: (chunk: Uint8Array | string) => boolean, end: () => void, responded: () => boolean) => void | Promise<void>;
  readonly agent?: false;
}

/** One HTTP request to 127.0.0.1 with Node's client (full control of the body, unlike fetch). */
export function send(r: TestRequest): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    let responded = false;
    const req = httpRequest({ host: '127.0.0.1', port: r.port, method: r.method ?? 'GET', path: r.path, headers: r.headers, agent: r.agent ?? false }, (res) => {
      responded = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) });
      });
      res.on('error', reject);
    });
    // A server that answers before reading the whole body may close the connection under our writes.
    req.on('error', (err) => (responded ? undefined : reject(err)));
    if (r.stream) {
      req.flushHeaders();
      void r.stream((c) => req.write(c), () => req.end(), () => responded);
    } else req.end(r.body);
  });
}

/** A multipart/form-data body built by hand, so that tests can also break it. */
export function multipart(parts: { name: string; value: Uint8Array | string; filename?: string; type?: string }[], boundary = 'gradcam-test-boundary') {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
    chunks.push(Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}
