// proxy-core's mode-http request path alone: no kernel, no event loop, no other process.
//
// The keep-alive scenario of run.ts spends about four fifths of proxy-core's CPU where
// raw-pipe.ts spends it too (the reads, writes and epoll of the kernel, Node's callbacks into
// JavaScript), and the machine's noise moves a whole run by more than the fifth that is
// proxy-core's own: a change worth 2 % of it cannot be seen there. This runs that fifth alone.
// libuv's TCP handle is replaced by a JavaScript object with the same methods (before the
// engine's modules load, so runtime/raw-socket.ts takes it for the real one); the engine runs
// the bench's config (bench/templates/haproxy.cfg) from dist/, as `proxy-core` would, with the
// engine's Node options; each request is one read on a client handle (wrk's request bytes),
// which the engine forwards to a member handle, then one read there (nginx's response bytes),
// which it answers the client with. Everything of ours runs: the raw socket's read callback,
// the client read (lent to the engine), the parse, rules, balancer, pool and counters, the rewrite, and the
// writes down to the handle's writeBuffer().
//
//   node bench/hotpath.ts [--requests N] [--batches N] [--conns N] [--show-wire]
//
// Prints the time per request of each batch and their minimum and median; --show-wire first
// prints one request and one response as they reached the member and the client. Run it with the
// engine's options (it re-executes itself with them, as bin/proxy-core.js does). Compare two
// builds with bench/ab.ts's habit: alternate them, several times.

import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuilt, renderConfig } from './engines.ts';

const REPO = new URL('..', import.meta.url);

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: '200000' },
    batches: { type: 'string', default: '9' },
    conns: { type: 'string', default: '50' },
    'show-wire': { type: 'boolean', default: false },
  },
});
const REQUESTS = Number(opts.requests);
const BATCHES = Number(opts.batches);
const CONNS = Number(opts.conns);

// ---------------------------------------------------------------- the engine's Node options

{
  const { missingInThisProcess } = (await import(new URL('bin/engine-options.js', REPO).href)) as {
    missingInThisProcess(): { value: string }[];
  };
  const missing = missingInThisProcess();
  if (missing.length > 0) {
    process.execve!(process.execPath, [process.execPath, ...missing.map((o) => o.value), ...process.execArgv, ...process.argv.slice(1)], process.env);
  }
}

// ---------------------------------------------------------------- libuv's handle, in JS

interface StreamState {
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}
const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding.bind(process);
const stream = binding('stream_wrap') as unknown as StreamState;
const state = stream.streamBaseState;

type Req = { oncomplete: (status: number, handle?: unknown) => void };

/** Connects waiting for their completion (as libuv's would wait for the next loop turn). */
const connects: [Req, FakeTcp][] = [];
/** The member handle that was written to last: it answers next. */
let lastMember: FakeTcp | undefined;
let bytesToClients = 0;
let wire: string[] | undefined = opts['show-wire'] ? [] : undefined;

class FakeTcp {
  onread: (() => Buffer | undefined) | undefined = undefined;
  rawOwner: unknown = undefined;
  buf: Buffer | undefined = undefined;
  member = false;
  constructor(_type?: number) {}
  connect(req: Req): number {
    this.member = true;
    connects.push([req, this]);
    return 0;
  }
  connect6(req: Req): number {
    return this.connect(req);
  }
  setNoDelay(): number {
    return 0;
  }
  useUserBuffer(b: Buffer): void {
    this.buf = b;
  }
  readStart(): number {
    return 0;
  }
  readStop(): number {
    return 0;
  }
  writeBuffer(_req: unknown, data: Buffer): number {
    if (this.member) lastMember = this;
    else bytesToClients += data.length;
    if (wire !== undefined) wire.push(`${this.member ? 'to member' : 'to client'}:\n${data.toString('latin1')}`);
    state[stream.kLastWriteWasAsync] = 0;
    return 0;
  }
  writeUtf8String(req: unknown, s: string): number {
    return this.writeBuffer(req, Buffer.from(s));
  }
  shutdown(): number {
    return 0;
  }
  close(): void {}
  reset(): number {
    return 0;
  }
  getpeername(out: Record<string, unknown>): number {
    out.address = '127.0.0.1';
    out.family = 'IPv4';
    out.port = 40000;
    return 0;
  }
  getsockname(out: Record<string, unknown>): number {
    out.address = '127.0.0.1';
    out.family = 'IPv4';
    out.port = 8080;
    return 0;
  }
  /** The kernel had `bytes` for this socket: libuv's read callback, as Node makes it. */
  deliver(bytes: Buffer): void {
    bytes.copy(this.buf!, 0);
    state[stream.kReadBytesOrError] = bytes.length;
    const next = this.onread!();
    if (next !== undefined) this.buf = next;
  }
}

const realTcp = binding('tcp_wrap');
const fakeTcpWrap = { ...realTcp, TCP: FakeTcp };
const realBinding = (process as unknown as { binding: unknown }).binding;
(process as unknown as { binding(name: string): unknown }).binding = (name: string) => (name === 'tcp_wrap' ? fakeTcpWrap : binding(name));

// ---------------------------------------------------------------- the engine, from dist/

await ensureBuilt();
const dist = (p: string) => new URL(`dist/proxy-core/${p}.js`, REPO).href;
const { loadConfig } = await import(dist('config/load'));
const { compilePlan, countSlots } = await import(dist('compile/compile'));
const { Counters, allocateCounters } = await import(dist('runtime/counters'));
const { acceptWithOnread } = await import(dist('runtime/client-read'));
const { serveHttp1 } = await import(dist('l7/http1'));
const { rawSocketsAvailable } = await import(dist('runtime/raw-socket'));
(process as unknown as { binding: unknown }).binding = realBinding;
if (!rawSocketsAvailable) throw new Error('hotpath: runtime/raw-socket.ts did not take the handle bindings');

// Nothing listens or connects: the ports are only numbers in the config.
const dir = mkdtempSync(join(tmpdir(), 'amphora-hotpath-'));
const cfgPath = join(dir, 'haproxy.cfg');
writeFileSync(cfgPath, renderConfig({ statsSocket: join(dir, 'stats.sock'), nbthread: 1, httpPort: 8080, tcpPort: 8081, memberPorts: [8001, 8002] }));
const loaded = loadConfig([cfgPath]);
rmSync(dir, { recursive: true, force: true });
if (loaded.config === undefined) throw new Error(`hotpath: config: ${JSON.stringify(loaded.errors)}`);
const cfg = loaded.config;
const slots = countSlots(cfg);
// Gauges updated without Atomics, as the supervisor makes them for nbthread 1 (one thread).
const plan = compilePlan(cfg, new Counters(allocateCounters(slots, 1), slots, 0, false), 1, true);
const fe = plan.frontends.find((f: { mode: string }) => f.mode === 'http');
const env = { plan, stopping: false, index: 0, track() {}, untrack() {} };

const server = {
  _handle: { onconnection: ((): void => {}) as (status: number, h: unknown) => void, setNoDelay: () => 0 },
  address: () => ({ address: '127.0.0.1', family: 'IPv4', port: 8080 }),
};
const clients: FakeTcp[] = [];
if (!acceptWithOnread(server, (s: unknown) => serveHttp1(s, fe, env), (e: Error) => { throw e; })) throw new Error('hotpath: acceptWithOnread refused the fake server');
for (let i = 0; i < CONNS; i++) {
  const h = new FakeTcp();
  server._handle.onconnection(0, h);
  clients.push(h);
}

// wrk's request and nginx's answer to it (bench/templates/nginx.conf, `/small`).
const REQUEST = Buffer.from('GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n', 'latin1');
const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 04 Dec 2026 20:00:00 GMT\r\nContent-Type: application/octet-stream\r\n' +
    'Content-Length: 13\r\nLast-Modified: Fri, 04 Dec 2026 19:00:00 GMT\r\nConnection: keep-alive\r\nETag: "6751f3c0-d"\r\n' +
    'Accept-Ranges: bytes\r\n\r\nhello world!\n',
  'latin1',
);

function one(client: FakeTcp): void {
  lastMember = undefined;
  client.deliver(REQUEST);
  while (connects.length > 0) {
    const [req, h] = connects.shift()!;
    req.oncomplete(0, h);
  }
  const m = lastMember as FakeTcp | undefined;
  if (m === undefined) throw new Error('hotpath: the request reached no member');
  m.deliver(RESPONSE);
}

function batch(n: number): number {
  const before = bytesToClients;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) one(clients[i % CONNS]!);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  if (bytesToClients - before < n * 13) throw new Error('hotpath: responses did not reach the clients');
  return ns;
}

// Warm-up (optimisation), then the batches, each after a turn of the event loop (timers, GC tasks).
batch(REQUESTS);
if (wire !== undefined) {
  wire.length = 0;
  one(clients[0]!);
  console.log(wire.join('\n'));
  wire = undefined;
}
const per: number[] = [];
for (let b = 0; b < BATCHES; b++) {
  await new Promise((r) => setImmediate(r));
  per.push(batch(REQUESTS));
}
const sorted = [...per].sort((a, b) => a - b);
console.log(`ns per request, ${BATCHES} batches of ${REQUESTS} over ${CONNS} connections: ${per.map((x) => x.toFixed(0)).join(' ')}`);
console.log(`min ${sorted[0]!.toFixed(0)}  median ${sorted[sorted.length >> 1]!.toFixed(0)}`);
process.exit(0);
