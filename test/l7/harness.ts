// Test harness for the mode-http engine: a loopback net.Server calling serveHttp1 on a plan
// compiled by compile.ts from a hand-built config model, HTTP members that record what they
// receive, and a raw client that reads responses byte-exactly off a kept-alive connection.

import http from 'node:http';
import net from 'node:net';
import type {
  Acl,
  Backend,
  Condition,
  Frontend,
  ProxyConfig,
  ProxyOptions,
  SampleFetch,
  Server,
} from '../../proxy-core/config/model.ts';
import { compilePlan, countSlots } from '../../proxy-core/compile/compile.ts';
import type { Plan } from '../../proxy-core/compile/plan.ts';
import { allocateCounters, Counters } from '../../proxy-core/runtime/counters.ts';
import type { WorkerEnv } from '../../proxy-core/runtime/env.ts';
import { serveHttp1 } from '../../proxy-core/l7/http1.ts';
import { acceptWithOnread } from '../../proxy-core/runtime/client-read.ts';
import { closeIdle } from '../../proxy-core/l7/pool.ts';

// ------------------------------------------------------------------- config builders

let line = 0;
export const where = () => ({ file: 'l7-test.cfg', line: ++line });

export function options(o: Partial<ProxyOptions> = {}): ProxyOptions {
  return { other: {}, ...o };
}

export function server(name: string, port: number, o: Partial<Server> = {}): Server {
  return {
    name,
    address: '127.0.0.1',
    port,
    weight: 1,
    backup: false,
    disabled: false,
    check: { enabled: false, ssl: false },
    where: where(),
    ...o,
  };
}

export function backend(name: string, servers: Server[], o: Partial<Backend> = {}): Backend {
  return {
    name,
    mode: 'http',
    balance: { algorithm: 'roundrobin', args: [] },
    servers,
    timeouts: { connect: 2000, server: 5000 },
    options: options(),
    log: { global: false, disabled: false, targets: [] },
    retries: 3,
    httpReuse: 'safe',
    acls: [],
    httpRequest: [],
    httpResponse: [],
    stickRules: [],
    httpCheckSend: [],
    fromListen: false,
    disabled: false,
    where: where(),
    ...o,
  };
}

export function frontend(name: string, o: Partial<Frontend> = {}): Frontend {
  return {
    name,
    mode: 'http',
    binds: [{ address: '127.0.0.1', port: 0, acceptProxy: false, options: {}, where: where() }],
    timeouts: { client: 5000 },
    options: options(),
    log: { global: false, disabled: false, targets: [] },
    acls: [],
    httpRequest: [],
    httpResponse: [],
    redirects: [],
    useBackends: [],
    tcpRequest: [],
    fromListen: false,
    disabled: false,
    where: where(),
    ...o,
  };
}

export function config(frontends: Frontend[], backends: Backend[], tune: Record<string, string> = {}): ProxyConfig {
  return {
    global: {
      daemon: false,
      statsSockets: [],
      logTargets: [],
      externalCheck: false,
      insecureForkWanted: false,
      tune,
      cpuMap: [],
      sslDefaults: {},
      where: where(),
    },
    peers: [],
    frontends,
    backends,
    userlists: [],
    warnings: [],
  };
}

/** `fetch(args)` with no converters. */
export function fetch(name: string, ...args: string[]): SampleFetch {
  return { name, args, converters: [] };
}

export function acl(name: string, f: SampleFetch, match: Acl['match'], patterns: string[], ignoreCase = false): Acl {
  return { name, fetch: f, match, ignoreCase, patterns, where: where() };
}

/** `if a b` / `if !a` / `unless a`: names joined by AND, '!' negates; '||' separates groups. */
export function cond(text: string, kind: 'if' | 'unless' = 'if'): Condition {
  const or = text.split('||').map((g) =>
    g
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => ({ negate: w.startsWith('!'), acl: w.replace(/^!/, '') })),
  );
  return { kind, or };
}

// ------------------------------------------------------------------------- the proxy

export interface TestProxy {
  port: number;
  plan: Plan;
  env: WorkerEnv & { tracked: number };
  counters: Counters;
  /** Sum of a total counter of slot `slot`. */
  total(slot: number, cell: number): number;
  close(): Promise<void>;
}

export async function startProxy(cfg: ProxyConfig): Promise<TestProxy> {
  const slots = countSlots(cfg);
  const counters = new Counters(allocateCounters(slots, 1), slots, 0);
  const plan = compilePlan(cfg, counters, 1, true);
  const sockets = new Set<net.Socket>();
  const env = {
    plan,
    stopping: false,
    index: 0,
    tracked: 0,
    track(_s: net.Socket) {
      env.tracked++;
    },
    untrack(_s: net.Socket) {
      env.tracked--;
    },
  };
  const fe = plan.frontends[0]!;
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  const port = await listen(server);
  // Accepted as the worker's listeners accept them (client-read.ts).
  const accepted = acceptWithOnread(
    server,
    (sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      serveHttp1(sock, fe, env);
    },
    () => {},
  );
  if (!accepted) throw new Error('acceptWithOnread unavailable');
  return {
    port,
    plan,
    env,
    counters,
    total: (slot, cell) => counters.sum(slot, cell),
    close: async () => {
      for (const s of sockets) s.destroy();
      closeIdle();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export function listen(server: net.Server | http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

// --------------------------------------------------------------------------- members

export interface Received {
  method: string;
  url: string;
  httpVersion: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** Index of the member TCP connection it arrived on (0-based, per member). */
  conn: number;
}

export interface HttpMember {
  name: string;
  port: number;
  server: http.Server;
  received: Received[];
  /** TCP connections accepted so far. */
  connections: number;
  /** TCP connections open now. */
  open(): number;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, r: Received) => void;

/** node:http member answering `200 <name> <method> <url>` unless `handler` answers. */
export async function startHttpMember(name: string, handler?: Handler): Promise<HttpMember> {
  const sockets = new Set<net.Socket>();
  const connIds = new WeakMap<net.Socket, number>();
  const m: HttpMember = {
    name,
    port: 0,
    server: undefined as unknown as http.Server,
    received: [],
    connections: 0,
    open: () => sockets.size,
    close: () => Promise.resolve(),
  };
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
        conn: connIds.get(req.socket) ?? -1,
      };
      m.received.push(r);
      if (handler) return handler(req, res, body, r);
      const text = `${name} ${req.method} ${req.url}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.on('connection', (s: net.Socket) => {
    connIds.set(s, m.connections++);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  m.server = server;
  m.port = await listen(server);
  m.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  };
  return m;
}

export interface RawMember {
  port: number;
  connections: number;
  /** Bytes received, per connection. */
  data: string[];
  /** How the proxy closed each connection, once it did: a FIN or a reset. */
  ends: ('fin' | 'reset')[];
  close(): Promise<void>;
}

/** A raw TCP member: `onData(socket, allBytesSoFar, connIndex)` decides what to answer. */
export async function startRawMember(onData: (s: net.Socket, got: string, conn: number) => void): Promise<RawMember> {
  const sockets = new Set<net.Socket>();
  const m: RawMember = { port: 0, connections: 0, data: [], ends: [], close: () => Promise.resolve() };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const id = m.connections++;
    m.data[id] = '';
    sockets.add(s);
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') m.ends[id] ??= 'reset';
    });
    s.on('end', () => (m.ends[id] ??= 'fin'));
    s.on('close', () => sockets.delete(s));
    s.on('data', (d: Buffer) => {
      m.data[id] += d.toString('latin1');
      onData(s, m.data[id]!, id);
    });
  });
  m.port = await listen(server);
  m.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  };
  return m;
}

/** A port where nothing listens (bound then closed). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---------------------------------------------------------------------------- client

export interface Response {
  status: number;
  /** Status line and headers exactly as received (up to and including the empty line). */
  head: string;
  /** Header names lowercased → values (repeated names joined with ', '). */
  headers: Record<string, string>;
  body: string;
  /** The whole response as received. */
  raw: string;
}

/** A raw HTTP/1.x client on one TCP connection; reads responses one by one, byte-exactly. */
export class Client {
  readonly socket: net.Socket;
  private buf = '';
  private closed = false;
  private waiters: (() => void)[] = [];
  readonly closedPromise: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on('error', () => {});
    // The proxy closing its side (FIN) is what a client sees of a close: the test client
    // allows half-open connections, so 'end' is the signal, then it closes too.
    this.closedPromise = new Promise((r) => {
      const done = () => {
        if (!this.closed) {
          this.closed = true;
          this.wake();
          r();
        }
      };
      socket.on('end', () => {
        done();
        socket.end();
      });
      socket.on('close', done);
    });
  }

  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      s.once('connect', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async more(deadline: number): Promise<void> {
    if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf)}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timeout waiting for a response; unread: ${JSON.stringify(this.buf)}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Read one response. `head`: the request was HEAD (no body whatever the headers say). */
  async response(opts: { head?: boolean; timeoutMs?: number } = {}): Promise<Response> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    let end: number;
    while ((end = this.buf.indexOf('\r\n\r\n')) < 0) await this.more(deadline);
    const head = this.buf.slice(0, end + 4);
    const lines = head.split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      if (!l) continue;
      const c = l.indexOf(':');
      const k = l.slice(0, c).toLowerCase();
      const v = l.slice(c + 1).trim();
      headers[k] = headers[k] !== undefined ? `${headers[k]}, ${v}` : v;
    }
    let pos = end + 4;
    let body = '';
    const noBody = opts.head || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
      // nothing
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      for (;;) {
        let nl: number;
        while ((nl = this.buf.indexOf('\r\n', pos)) < 0) await this.more(deadline);
        const size = parseInt(this.buf.slice(pos, nl), 16);
        if (size === 0) {
          let fin: number;
          while ((fin = this.buf.indexOf('\r\n\r\n', nl)) < 0) {
            if (this.buf.startsWith('\r\n', nl + 2)) break;
            await this.more(deadline);
          }
          fin = this.buf.indexOf('\r\n\r\n', nl);
          pos = fin + 4;
          break;
        }
        while (this.buf.length < nl + 2 + size + 2) await this.more(deadline);
        body += this.buf.slice(nl + 2, nl + 2 + size);
        pos = nl + 2 + size + 2;
      }
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      while (this.buf.length < pos + n) await this.more(deadline);
      body = this.buf.slice(pos, pos + n);
      pos += n;
    } else {
      // Until close.
      while (!this.closed) await this.more(deadline).catch(() => undefined);
      body = this.buf.slice(pos);
      pos = this.buf.length;
    }
    const raw = this.buf.slice(0, pos);
    this.buf = this.buf.slice(pos);
    return { status, head, headers, body, raw };
  }

  /** Resolves once the proxy closed the connection (rejects after `timeoutMs`). */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => setTimeout(() => reject(new Error('connection still open')), timeoutMs)),
    ]);
  }

  /** Bytes received and not consumed by response(). */
  get unread(): string {
    return this.buf;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request on a new connection; returns the response and closes. */
export async function oneShot(port: number, request: string, opts: { head?: boolean } = {}): Promise<Response> {
  const c = await Client.connect(port);
  try {
    c.send(request);
    return await c.response(opts);
  } finally {
    c.close();
  }
}

/** Wait until `check` holds (bounded polling). */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
