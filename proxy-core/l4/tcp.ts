// Mode tcp: one client connection piped to one member connection, both ways.
//
//   accept ─ count (global, frontend) ─ startSession(default backend) ─ pipe ⇄ ─ close both
//
// - Backpressure: a side that cannot take more pauses the other side's reading until 'drain'.
// - Half-close: a FIN from one side is forwarded (end()) to the other while the other
//   direction keeps flowing; the pair is done when both directions have ended. Sockets must
//   allow half-open connections (the worker's net.Server is created with allowHalfOpen: true;
//   it is set again here for safety).
// - Timeouts are inactivity timeouts per side: `timeout client` on the client, `timeout
//   server` on the member, both replaced by `timeout tunnel` once connected when it is set;
//   once either direction is shut down, `timeout client-fin` / `timeout server-fin` take
//   over on their side when set. A timeout closes both sides.
// - Counting: sessions on the global and frontend slots for the client connection, the
//   member/backend session through startSession/endSession, bytes in (client → member) and
//   out (member → client) on frontend, backend and member, client/server aborts
//   (errors and timeouts) on backend and member.
//
// Per connection: one TcpSession (the session's owner, told directly when the member is
// connected, and the reader of the member's bytes: member-read.ts); socket events go to
// module-level functions that find the session on the socket, so no closure is built per
// event or per connection.

import { performance } from 'node:perf_hooks';
import type net from 'node:net';
import type { BackendPlan, FrontendPlan, MemberPlan, Plan } from '../compile/plan.ts';
import { setReader, type MemberReader } from '../balance/member-read.ts';
import { endSession, startSession, type PendingSession, type SessionError, type SessionOwner } from '../balance/session.ts';
import { T, type Counters } from '../runtime/counters.ts';
import { setClientReader, type ClientReader } from '../runtime/client-read.ts';
import type { WorkerEnv } from '../runtime/env.ts';

const kTcp = Symbol('amphora.tcp');
type TcpSocket = net.Socket & { [kTcp]?: TcpSession };

/** Serve one accepted mode-tcp client connection on frontend `fe`. */
export function serveTcp(client: net.Socket, fe: FrontendPlan, env: WorkerEnv): void {
  const plan = env.plan;
  // The frontend must belong to the plan whose counters are used; after a reload the
  // worker may hand a frontend of the previous plan: take this plan's one by name.
  const current = plan.frontendsByName.get(fe.name);
  if (current === undefined) {
    client.destroy();
    return;
  }
  const s = new TcpSession(client as TcpSocket, current, plan, env);
  env.track(client);
  s.begin();
}

class TcpSession implements SessionOwner, MemberReader, ClientReader {
  readonly client: TcpSocket;
  readonly fe: FrontendPlan;
  readonly plan: Plan;
  readonly counters: Counters;
  readonly env: WorkerEnv;
  be: BackendPlan | undefined = undefined;
  member: MemberPlan | undefined = undefined;
  server: TcpSocket | undefined = undefined;
  /** The member connection being opened (cancelled when the client goes first). */
  connecting: PendingSession | undefined = undefined;
  /** 'end' received from each side (its FIN, forwarded to the other). */
  clientEnded = false;
  serverEnded = false;
  clientClosed = false;
  serverClosed = false;
  /** An abort was counted already (errors and timeouts count once per connection). */
  aborted = false;
  /** performance.now() at accept, queue and connect times (ms): qtime / ctime / ttime. */
  tStart = 0;
  queuedMs = 0;
  connectMs = 0;

  constructor(client: TcpSocket, fe: FrontendPlan, plan: Plan, env: WorkerEnv) {
    this.client = client;
    this.fe = fe;
    this.plan = plan;
    this.counters = plan.counters;
    this.env = env;
  }

  begin(): void {
    const c = this.counters;
    const client = this.client;
    this.tStart = performance.now();
    c.enter(this.plan.globalSlot);
    c.enter(this.fe.slot);
    client[kTcp] = this;
    client.allowHalfOpen = true;
    client.setNoDelay(true);
    // Nothing is read from the client until the member is connected: a socket stays paused
    // until it gets a 'data' listener, so early bytes (and the client's FIN) wait in place.
    client.on('error', onClientError);
    client.on('close', onClientClose);
    client.on('timeout', onClientTimeout);
    if (this.fe.timeouts.client > 0) client.setTimeout(this.fe.timeouts.client);

    const be = this.fe.defaultBackend;
    if (be === undefined) {
      // No backend to send it to: HAProxy closes the connection.
      client.destroy();
      return;
    }
    this.be = be;
    const ctx = { src: client.remoteAddress ?? '', dstPort: client.localPort };
    // May answer before it returns (then nothing is pending).
    this.connecting = startSession(be, ctx, c, this);
  }

  /** Every tcp connection gets its own member connection. */
  idleFor(): undefined {
    return undefined;
  }

  sessionFailed(_error: SessionError): void {
    // No member (none usable, queue timeout, connect failures): HAProxy closes.
    this.connecting = undefined;
    this.client.destroy();
  }

  sessionReady(member: MemberPlan, socket: net.Socket, _reused: boolean, queuedMs: number): void {
    this.connecting = undefined;
    this.queuedMs = queuedMs;
    this.connectMs = Math.max(0, performance.now() - this.tStart - queuedMs);
    this.counters.sessionStarted(this.be!.slot, this.tStart);
    this.counters.sessionStarted(member.slot, this.tStart);
    const server = socket as TcpSocket;
    this.member = member;
    this.server = server;
    if (this.clientClosed || server.destroyed) {
      if (!this.clientClosed) this.client.destroy();
      server.destroy();
      this.serverClosed = true;
      endSession(member, this.counters);
      return;
    }
    const client = this.client;
    const be = this.be!;
    server[kTcp] = this;
    server.on('end', onServerEnd);
    server.on('drain', onServerDrain);
    server.on('error', onServerError);
    server.on('close', onServerClose);
    server.on('timeout', onServerTimeout);
    const tunnel = be.timeouts.tunnel;
    client.setTimeout(tunnel > 0 ? tunnel : this.fe.timeouts.client);
    server.setTimeout(tunnel > 0 ? tunnel : be.timeouts.server);
    setClientReader(client, this);
    client.on('end', onClientEnd);
    client.on('drain', onClientDrain);
    setReader(server, this);
    // A client that sent its FIN while the member was being connected had its 'end' emitted
    // already, before this listener existed (its bytes were handed over just above): pass the
    // FIN on now.
    if (client.readableEnded) onClientEnd.call(client);
  }

  /** Client bytes, to the member. */
  clientBytes(socket: net.Socket, chunk: Buffer): void {
    this.count(T.bin, chunk.length);
    const server = this.server!;
    if (!server.destroyed && !server.write(chunk)) socket.pause();
  }

  /** Member bytes, to the client; true while the client socket still holds them (queued). */
  memberBytes(socket: net.Socket, chunk: Buffer): boolean {
    this.count(T.bout, chunk.length);
    const client = this.client;
    if (client.destroyed) return false;
    if (!client.write(chunk)) socket.pause();
    return client.writableLength > 0;
  }

  /** Bytes in (bin) or out (bout) on frontend, backend and member. */
  private count(cell: number, n: number): void {
    const c = this.counters;
    c.add(this.fe.slot, cell, n);
    c.add(this.be!.slot, cell, n);
    c.add(this.member!.slot, cell, n);
  }

  /** One direction is shut down: the fin timeouts, when set, replace the others. */
  halfClosed(): void {
    const clientFin = this.fe.timeouts.clientFin;
    const serverFin = this.be!.timeouts.serverFin;
    if (clientFin > 0) this.client.setTimeout(clientFin);
    if (serverFin > 0) this.server!.setTimeout(serverFin);
  }

  /** Count an abort once, on backend and member (HAProxy's cli_abrt / srv_abrt). */
  abort(cell: number): void {
    if (this.aborted || this.member === undefined) return;
    this.aborted = true;
    this.counters.add(this.be!.slot, cell);
    this.counters.add(this.member.slot, cell);
  }
}

// --------------------------------------------------------------------- client events

function onClientEnd(this: TcpSocket): void {
  const s = this[kTcp]!;
  s.clientEnded = true;
  s.server!.end();
  s.halfClosed();
}

function onClientDrain(this: TcpSocket): void {
  const server = this[kTcp]!.server;
  if (server !== undefined && !server.destroyed) server.resume();
}

function onClientError(this: TcpSocket): void {
  this[kTcp]!.abort(T.cliAbrt);
}

function onClientTimeout(this: TcpSocket): void {
  const s = this[kTcp]!;
  s.abort(T.cliAbrt);
  this.destroy();
  if (s.server !== undefined) s.server.destroy();
}

function onClientClose(this: TcpSocket, hadError: boolean): void {
  const s = this[kTcp]!;
  s.clientClosed = true;
  const c = s.counters;
  c.leave(s.plan.globalSlot);
  c.leave(s.fe.slot);
  s.env.untrack(this);
  if (s.connecting !== undefined) {
    s.connecting.cancel();
    s.connecting = undefined;
    return;
  }
  const server = s.server;
  if (server === undefined || s.serverClosed) return;
  // A clean close has both directions ended and the member finishing its own close; any
  // other close (error, reset, timeout) takes the member side down with it.
  if (hadError || !(s.clientEnded && s.serverEnded)) {
    s.abort(T.cliAbrt);
    server.destroy();
  }
}

// --------------------------------------------------------------------- server events

function onServerEnd(this: TcpSocket): void {
  const s = this[kTcp]!;
  s.serverEnded = true;
  s.client.end();
  s.halfClosed();
}

function onServerDrain(this: TcpSocket): void {
  const client = this[kTcp]!.client;
  if (!client.destroyed) client.resume();
}

function onServerError(this: TcpSocket): void {
  this[kTcp]!.abort(T.srvAbrt);
}

function onServerTimeout(this: TcpSocket): void {
  const s = this[kTcp]!;
  s.abort(T.srvAbrt);
  this.destroy();
  s.client.destroy();
}

function onServerClose(this: TcpSocket, hadError: boolean): void {
  const s = this[kTcp]!;
  s.serverClosed = true;
  // The session's times (no response time in mode tcp, as HAProxy), then its end.
  const t = performance.now() - s.tStart;
  s.counters.addTimes(s.be!.slot, s.queuedMs, s.connectMs, 0, t);
  s.counters.addTimes(s.member!.slot, s.queuedMs, s.connectMs, 0, t);
  endSession(s.member!, s.counters);
  if (s.clientClosed) return;
  if (hadError || !(s.clientEnded && s.serverEnded)) {
    s.abort(T.srvAbrt);
    s.client.destroy();
  }
}
