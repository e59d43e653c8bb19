// The load generator's connection: one keep-alive TCP connection that sends a prebuilt HTTP/1.1 request and
// reads only what it needs of the answer (status line, Content-Length, Connection), counting the body's
// bytes without keeping them. It runs on the same cores as the server, so it should cost little: Node's
// http client (an Agent, a parser and a message object per answer, the body's chunks kept) cost ~2 ms of
// CPU per 270 KB answer. bench/serve.js only.
import { connect } from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');

/** A request's bytes: method, path, Host, Content-Type and Content-Length, then the body. */
export function requestBytes(host, port, method, path, type, body) {
  const head = `${method} ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export class RawConnection {
  constructor(host, port, timeoutMs) {
    Object.assign(this, { host, port, timeoutMs, socket: undefined, pending: undefined });
  }

  /** Sends `bytes` (one request) and resolves with the answer's status code, or 'error' (connection failed, closed or timed out). */
  request(bytes) {
    return new Promise((resolve) => {
      const socket = this.socket ?? this.open();
      const timer = setTimeout(() => this.fail(), this.timeoutMs);
      this.pending = { resolve, timer, head: [], status: 0, left: -1, close: false };
      socket.write(bytes);
    });
  }

  close() {
    this.socket?.destroy();
    this.socket = undefined;
  }

  open() {
    // Events of a connection already replaced (closed after a `Connection: close` answer) are ignored.
    const mine = (f) => (...a) => this.socket === socket && f(...a);
    // Reads land in one buffer of the connection's own (onread) instead of a fresh 64 KB buffer per read.
    const onread = { buffer: Buffer.allocUnsafe(1 << 20), callback: mine((n, buffer) => void this.read(buffer.subarray(0, n))) };
    const socket = connect({ host: this.host, port: this.port, noDelay: true, onread });
    socket.on('error', mine(() => this.fail()));
    socket.on('close', mine(() => this.fail()));
    return (this.socket = socket);
  }

  read(chunk) {
    const p = this.pending;
    if (!p) return this.close(); // bytes nobody asked for: the next answer's parse would go wrong, so drop the connection
    if (p.left < 0) {
      // Usually the whole head is in the first read, read in place; only a head split across reads is
      // kept, as a copy (the read buffer is reused). Copying every first read (most of a 270 KB answer)
      // cost the generator ~0.4 ms of CPU per answer, the copy and its garbage collection.
      const head = p.head.length === 0 ? chunk : Buffer.concat([...p.head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end < 0) return void p.head.push(Buffer.from(chunk));
      const text = head.subarray(0, end).toString('latin1');
      p.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      p.left = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0) - (head.length - end - 4);
      p.close = /\r\nconnection: *close/i.test(text);
    } else {
      p.left -= chunk.length;
    }
    if (p.left > 0) return;
    this.settle(p.left === 0 ? p.status : 'error');
    if (p.close || p.left < 0) this.close();
  }

  fail() {
    this.close();
    if (this.pending) this.settle('error');
  }

  settle(status) {
    const p = this.pending;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve(status);
  }
}
