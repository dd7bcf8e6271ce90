// Loopback harness for mode-tcp tests: members that say who they are, a proxy that runs
// serveTcp() on a plan compiled from a config model, clients that read what came back.
// Everything started here is registered and stopped by stopAll() (call it in afterEach).

import net from 'node:net';
import { compilePlan, countSlots } from '../../proxy-core/compile/compile.ts';
import type { Plan } from '../../proxy-core/compile/plan.ts';
import type { ProxyConfig } from '../../proxy-core/config/model.ts';
import { serveTcp } from '../../proxy-core/l4/tcp.ts';
import { acceptWithOnread } from '../../proxy-core/runtime/client-read.ts';
import { allocateCounters, Counters } from '../../proxy-core/runtime/counters.ts';
import type { WorkerEnv } from '../../proxy-core/runtime/env.ts';

const HOST = '127.0.0.1';
const cleanups: (() => Promise<void> | void)[] = [];

export async function stopAll(): Promise<void> {
  const all = cleanups.splice(0).reverse();
  for (const c of all) await c();
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port));
  });
}

/**
 * How a member treats a connection:
 * - greet: write its name and close (a short session);
 * - hold: write its name and keep the connection until the client ends it;
 * - reply: read until the client's FIN, then answer `name:<what it read>` and close;
 * - silent: say nothing, close only when the client does;
 * - deaf: say nothing and never close (ignores the client's FIN).
 */
export type Behaviour = 'greet' | 'hold' | 'reply' | 'silent' | 'deaf';

export interface Member {
  name: string;
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  /** Connections currently open. */
  open: Set<net.Socket>;
  /** Chunks received on each connection, in order of arrival. */
  received: Buffer[][];
  /** Text received on connection `i`. */
  got(i: number): string;
  /** Bytes received on connection `i`. */
  bytes(i: number): number;
  /** Stop/restart reading on every open connection (a slow member). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startMember(name: string, behaviour: Behaviour): Promise<Member> {
  const open = new Set<net.Socket>();
  let paused = false;
  const m: Member = {
    name,
    port: 0,
    accepted: 0,
    open,
    received: [],
    got: (i) => Buffer.concat(m.received[i] ?? []).toString(),
    bytes: (i) => (m.received[i] ?? []).reduce((n, b) => n + b.length, 0),
    pause() {
      paused = true;
      for (const s of open) s.pause();
    },
    resume() {
      paused = false;
      for (const s of open) s.resume();
    },
    close: async () => {},
  };
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    m.accepted++;
    open.add(sock);
    const chunks: Buffer[] = [];
    m.received.push(chunks);
    sock.on('error', () => {});
    sock.on('close', () => open.delete(sock));
    sock.on('data', (d: Buffer) => chunks.push(d));
    if (paused) sock.pause();
    sock.on('end', () => {
      if (behaviour === 'reply') sock.end(`${name}:${Buffer.concat(chunks).toString()}`);
      else if (behaviour !== 'deaf') sock.end();
    });
    if (behaviour === 'greet') sock.end(`${name}`);
    else if (behaviour === 'hold') sock.write(`${name}`);
  });
  m.port = await listen(server);
  m.close = () => closeServer(server, open);
  cleanups.push(m.close);
  return m;
}

/** A port nothing listens on (bound, then closed): connections to it are refused. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Proxy {
  port: number;
  plan: Plan;
  counters: Counters;
  env: WorkerEnv;
  /** Client connections the proxy currently tracks. */
  tracked: Set<net.Socket>;
}

/** Compile as the supervisor (init) or a worker would; `workers` sizes a new buffer. */
export function compile(config: ProxyConfig, init = true, buffer?: SharedArrayBuffer, workers = 1): Plan {
  const slots = countSlots(config);
  const counters = new Counters(buffer ?? allocateCounters(slots, workers), slots, 0);
  return compilePlan(config, counters, 1, init);
}

/** Serve `config`'s first frontend with serveTcp() on a loopback port. */
export async function startProxy(config: ProxyConfig): Promise<Proxy> {
  const plan = compile(config);
  const tracked = new Set<net.Socket>();
  const env: WorkerEnv = {
    plan,
    stopping: false,
    track(socket) {
      tracked.add(socket);
    },
    untrack(socket) {
      tracked.delete(socket);
    },
    index: 0,
  };
  const server = net.createServer({ allowHalfOpen: true });
  const port = await listen(server);
  // Accepted as the worker's listeners accept them (client-read.ts).
  if (!acceptWithOnread(server, (sock) => serveTcp(sock, env.plan.frontends[0]!, env), () => {})) throw new Error('acceptWithOnread unavailable');
  cleanups.push(() => closeServer(server, tracked));
  return { port, plan, counters: plan.counters, env, tracked };
}

export interface Exchange {
  /** Everything read until the proxy closed the connection. */
  data: string;
  /** The socket closed with an error (reset) rather than a FIN. */
  error: boolean;
}

/** Connect, optionally send and half-close, read until the connection closes. */
export function exchange(port: number, o: { send?: string; localAddress?: string; end?: boolean } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port, localAddress: o.localAddress });
    const chunks: Buffer[] = [];
    let error = false;
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => (error = true));
    sock.on('close', () => resolve({ data: Buffer.concat(chunks).toString(), error }));
    if (o.send !== undefined) sock.write(o.send);
    if (o.end) sock.end();
  });
}

/** Open a connection and wait until `expect` bytes arrived; the caller closes it. */
export function hold(port: number, expect: number, localAddress?: string): Promise<{ sock: net.Socket; data: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port, localAddress });
    let data = '';
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      data += d.toString();
      if (data.length >= expect) resolve({ sock, data });
    });
    sock.on('close', () => reject(new Error(`closed after '${data}'`)));
    cleanups.push(() => {
      sock.destroy();
    });
  });
}

/** Poll `cond` every 10 ms, at most `ms`; throws with `what` if it never holds. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Run `n` exchanges, `parallel` at a time; returns the replies in order. */
export async function many(n: number, parallel: number, run: (i: number) => Promise<string>): Promise<string[]> {
  const out: string[] = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await run(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return out;
}

export function tally(replies: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of replies) t[r] = (t[r] ?? 0) + 1;
  return t;
}
