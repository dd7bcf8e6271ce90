// Per-worker pools of idle keep-alive connections to members, and the one timer of the
// mode-http engine.
//
// Pools are keyed by member address `host:port`, not by plan object, so idle connections
// survive a reload. A member connection is wrapped once in an Upstream whose listeners are
// attached for its whole life and dispatch to its current owner (the client connection
// using it) or, while idle, keep the pool clean: an idle connection that closes, errors or
// sends anything is dropped. So taking and returning a connection adds no listeners.
//
// How many idle connections a member keeps follows HAProxy: no more than the recent need.
// Per member and worker, the connections in use are counted; a connection coming back is
// kept only while in-use + idle stays within the most used at once recently (this period's
// peak, or the estimate carried from earlier periods) plus one spare. A workload that never
// reuses (a new client connection per request under `http-reuse safe`) so keeps almost
// nothing idle, while keep-alive traffic keeps what it cycles through. Every idle
// connection holds a read buffer (member-read.ts): this bounds that memory too.
//
// Timeouts use no timer per socket: connections register with the ticker, which calls
// them every TICK_MS with the time; each compares its own deadlines (plain fields bumped on
// activity). The ticker also purges idle pooled connections.

import type net from 'node:net';
import { setReader, type MemberReader } from '../balance/member-read.ts';
import type { MemberPlan } from '../compile/plan.ts';
import { LinkList, type Link } from '../runtime/links.ts';
import { ReusedView } from '../runtime/views.ts';

/** Receives the events of the member connection it currently uses. */
export interface UpstreamOwner {
  /** Bytes from the member; true when `chunk` is still referenced after the call (member-read.ts). */
  onUpData(up: Upstream, chunk: Buffer): boolean;
  onUpEnd(up: Upstream): void;
  onUpClose(up: Upstream, error: Error | undefined): void;
  onUpDrain(up: Upstream): void;
}

/** How long an idle member connection is kept (HAProxy purges idle ones on a similar scale). */
export const POOL_IDLE_MS = 5000;
/** Idle connections kept per member and worker at most, whatever the need. */
export const POOL_MAX_PER_MEMBER = 512;
/** Idle connections kept beyond the estimated need. */
const POOL_SPARE = 1;

/** One member connection, for its whole life. */
export class Upstream implements MemberReader {
  readonly socket: net.Socket;
  readonly key: string;
  owner: UpstreamOwner | undefined = undefined;
  /** Requests sent on it so far. */
  uses = 0;
  idleSince = 0;
  inPool = false;
  /** Counted in its member's `used` (carrying a request, not idle in the pool). */
  inUse = false;
  closed = false;
  private error: Error | undefined = undefined;

  /** Its member's connections in this worker (found once: no map lookup per request). */
  readonly bucket: Bucket;
  /**
   * The view of its read buffer last sent on to a client (the mode-http engine's edited
   * response heads): the next response of the same size in the same place takes it again.
   * Kept here, with the buffer it is of, rather than with the client, whose responses come
   * from whichever pooled connection served each.
   */
  readonly sentView = new ReusedView();

  constructor(socket: net.Socket, key: string) {
    this.socket = socket;
    this.key = key;
    this.bucket = bucketOf(key);
    socket.setNoDelay(true);
    setReader(socket, this);
    socket.on('end', () => {
      this.ended = true;
      const o = this.owner;
      if (o) o.onUpEnd(this);
      else this.destroy();
    });
    socket.on('drain', () => this.owner?.onUpDrain(this));
    socket.on('error', (err: Error) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.closed = true;
      if (this.inPool) unpool(this);
      if (this.inUse) notInUse(this);
      const o = this.owner;
      this.owner = undefined;
      o?.onUpClose(this, this.error);
    });
  }

  memberBytes(_socket: net.Socket, chunk: Buffer): boolean {
    const o = this.owner;
    if (o) return o.onUpData(this, chunk);
    this.destroy(); // bytes on an idle connection: nothing may arrive there
    return false;
  }

  /** Usable for a new request: not closed or ended by either side, nothing left to write. */
  get alive(): boolean {
    const s = this.socket;
    return !this.closed && !this.ended && !s.destroyed && s.writableLength === 0;
  }

  /** The member sent its FIN (an idle connection is dropped then; a busy one ends its exchange). */
  ended = false;

  destroy(): void {
    if (this.inPool) unpool(this);
    this.owner = undefined;
    this.socket.destroy();
  }

  /**
   * Close a clean idle connection (nothing owed either way) with a reset, as HAProxy does
   * with the server connections it drops (SO_LINGER 0): the closing side of a FIN keeps the
   * port in TIME_WAIT for a minute, and a connection per request fills the ephemeral range
   * with them (measured: 23,500 after 8 s of one connection per request against HAProxy's
   * none), which makes every new connect() search longer for a port.
   */
  discard(): void {
    if (!this.alive) return this.destroy();
    if (this.inPool) unpool(this);
    this.owner = undefined;
    this.socket.resetAndDestroy();
  }
}

/**
 * A member's connections in this worker. A bucket is dropped once nothing uses it (purge());
 * an Upstream keeps its own, which cannot be dropped while the Upstream is in use or idle in
 * it, and a member plan's cached one is found again when it was dropped (`dropped`).
 */
interface Bucket {
  dropped: boolean;
  /** Idle connections, oldest first. */
  idle: Upstream[];
  /** Connections carrying a request now. */
  used: number;
  /** Most used at once in this purge period. */
  peak: number;
  /** Estimated need, from earlier periods' peaks. */
  need: number;
}

const buckets = new Map<string, Bucket>();
/** The Upstream of a socket, kept on the socket itself (one property, no map lookup). */
const kUpstream = Symbol('amphora.upstream');
type UpSocket = net.Socket & { [kUpstream]?: Upstream };

/** The pool fields a member plan carries, set here on first use. */
type PooledMember = MemberPlan & { poolKey?: string; poolBucket?: Bucket };

/** Pool key of a member (`host:port`), computed once per member plan. */
export function memberKey(m: MemberPlan): string {
  return ((m as PooledMember).poolKey ??= `${m.host}:${m.port ?? 0}`);
}

function bucketOf(key: string): Bucket {
  let b = buckets.get(key);
  if (b === undefined) {
    b = { dropped: false, idle: [], used: 0, peak: 0, need: 0 };
    buckets.set(key, b);
  }
  return b;
}

/** The bucket of member `m`, cached on the plan while it lives. */
function memberBucket(m: MemberPlan): Bucket {
  const pm = m as PooledMember;
  const b = pm.poolBucket;
  if (b !== undefined && !b.dropped) return b;
  return (pm.poolBucket = bucketOf(memberKey(m)));
}

function inUse(up: Upstream): void {
  up.inUse = true;
  const b = up.bucket;
  if (++b.used > b.peak) b.peak = b.used;
}

function notInUse(up: Upstream): void {
  up.inUse = false;
  up.bucket.used--;
}

/** The Upstream of a member socket, wrapping it (and counting it in use) the first time. */
export function upstreamOf(socket: net.Socket, key: string): Upstream {
  const s = socket as UpSocket;
  let up = s[kUpstream];
  if (up === undefined) {
    up = new Upstream(socket, key);
    s[kUpstream] = up;
    inUse(up);
  }
  return up;
}

/**
 * Take an idle connection to member `m` (most recently used first). `proven`: only one that
 * already carried a request and was kept alive after it (http-reuse aggressive).
 */
export function takeIdle(m: MemberPlan, proven: boolean): Upstream | undefined {
  const list = memberBucket(m).idle;
  for (let i = list.length - 1; i >= 0; i--) {
    const up = list[i]!;
    if (proven && up.uses < 2) continue;
    if (i === list.length - 1) list.pop();
    else list.splice(i, 1);
    up.inPool = false;
    if (up.alive) {
      inUse(up);
      return up;
    }
    up.destroy();
  }
  return undefined;
}

/**
 * Return a connection that finished its exchange cleanly: kept idle when alive and the
 * member's recent need leaves room for it (see the top of this file), else closed.
 */
export function release(up: Upstream, now: number): void {
  up.owner = undefined;
  if (up.inUse) notInUse(up);
  const b = up.bucket;
  if (!up.alive) {
    up.destroy();
    return;
  }
  if (b.idle.length >= POOL_MAX_PER_MEMBER || b.idle.length + b.used >= Math.max(b.peak, b.need) + POOL_SPARE) {
    up.discard();
    return;
  }
  up.idleSince = now;
  up.inPool = true;
  b.idle.push(up);
}

function unpool(up: Upstream): void {
  up.inPool = false;
  const list = up.bucket.idle;
  const i = list.indexOf(up);
  if (i >= 0) list.splice(i, 1);
}

/** Close every idle connection (worker stop). */
export function closeIdle(): void {
  for (const b of [...buckets.values()]) for (const up of [...b.idle]) up.discard();
}

/** Once per purge period: idle connections past POOL_IDLE_MS close; the need estimates move on. */
function purge(now: number): void {
  for (const [key, b] of buckets) {
    // Oldest first: the front of each list.
    const list = b.idle;
    while (list.length > 0 && now - list[0]!.idleSince >= POOL_IDLE_MS) list[0]!.discard();
    // HAProxy's estimate: this period's peak, or half-way down from the previous estimate.
    b.need = Math.max(b.peak, (b.need + b.peak) >> 1);
    b.peak = b.used;
    if (b.used === 0 && list.length === 0 && b.need === 0) {
      b.dropped = true;
      buckets.delete(key);
    }
  }
}

// --------------------------------------------------------------------------- ticker

/** Something with deadlines, checked by the ticker. */
export interface Ticking extends Link {
  onTick(now: number): void;
}

export const TICK_MS = 100;

/** Not a Set: see runtime/links.ts. */
const ticking = new LinkList<Ticking>();
let timer: NodeJS.Timeout | undefined;
let lastPurge = 0;
/** The time as of the last tick (or the ticker's start): deadlines are coarse, reading it is free. */
let clock = Date.now();

/** Coarse current time in ms (at most TICK_MS behind while connections exist). */
export function now(): number {
  return clock;
}

function tick(): void {
  const t0 = (clock = Date.now());
  ticking.forEach((t) => t.onTick(t0));
  if (t0 - lastPurge >= 1000) {
    lastPurge = t0;
    purge(t0);
  }
  if (ticking.size === 0 && buckets.size === 0) stopTicker();
}

function startTicker(): void {
  if (timer) return;
  clock = Date.now();
  timer = setInterval(tick, TICK_MS);
  timer.unref();
}

function stopTicker(): void {
  if (timer) clearInterval(timer);
  timer = undefined;
}

export function watch(t: Ticking): void {
  ticking.push(t);
  startTicker();
}

export function unwatch(t: Ticking): void {
  ticking.remove(t);
}
