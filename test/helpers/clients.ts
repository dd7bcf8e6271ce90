// Small clients for proxy-core tests: one-shot TCP exchanges, a persistent line client
// (the mode-tcp equivalent of a keep-alive connection), and HTTP/1.1 requests.

import http from 'node:http';
import net from 'node:net';

/**
 * Connect, send `payload`, half-close, read until the server closes; resolves the bytes read.
 * `end: false` sends without half-closing: the server is the one to close (after an answer
 * that ends the connection, or a timeout), then this side ends too.
 */
export function tcpExchange(port: number, payload: string, opts: { host?: string; timeoutMs?: number; end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: opts.host ?? '127.0.0.1', allowHalfOpen: true });
    let out = '';
    sock.setTimeout(opts.timeoutMs ?? 10_000, () => sock.destroy(new Error(`timeout; got so far: ${JSON.stringify(out)}`)));
    sock.on('connect', () => (opts.end === false ? sock.write(payload) : sock.end(payload)));
    sock.on('end', () => sock.end());
    sock.on('data', (d) => (out += d));
    sock.on('error', reject);
    sock.on('close', (hadError) => {
      if (!hadError) resolve(out);
    });
  });
}

/** Resolves true when a connection to `port` is refused (nothing listens there). */
export function refused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    sock.on('connect', () => {
      // RST, not FIN: the probe must not look like a client waiting for an answer.
      sock.resetAndDestroy();
      resolve(false);
    });
    sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** A persistent TCP connection exchanging lines: request(x) sends `x\n`, resolves the next answered line. */
export class LineClient {
  readonly socket: net.Socket;
  #buf = '';
  #waiters: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  #error: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buf += d;
      let nl: number;
      while ((nl = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        this.#waiters.shift()?.resolve(line);
      }
    });
    const fail = (e: Error) => {
      this.#error ??= e;
      for (const w of this.#waiters.splice(0)) w.reject(this.#error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host });
      s.once('connect', () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  request(line: string, timeoutMs = 10_000): Promise<string> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${line}`)), timeoutMs);
      this.#waiters.push({
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(line + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP/1.1 request; `agent` decides keep-alive (default: a new connection, closed after). */
export function httpRequest(
  port: number,
  opts: { path?: string; method?: string; headers?: Record<string, string>; body?: string; agent?: http.Agent | false; host?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: opts.host ?? '127.0.0.1',
        port,
        path: opts.path ?? '/',
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: opts.agent ?? false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The member names that answered `n` one-line TCP exchanges (members reply `name:…`). */
export async function answersFrom(port: number, n: number): Promise<Set<string>> {
  const names = new Set<string>();
  for (let i = 0; i < n; i++) names.add((await tcpExchange(port, `q${i}\n`)).split(':')[0]!);
  return names;
}
