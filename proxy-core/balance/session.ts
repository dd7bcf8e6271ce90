// Server-side session setup, shared by mode tcp (l4/tcp.ts) and mode http (l7/): HAProxy's
// backend.c + queue.c + the connect retries of stream.c, for one backend.
//
//   pick a member (balancer) ─ has room? ──yes──▶ take a slot ─▶ pooled socket or connect
//        │ nothing usable → 'no-server'   │ no: queue (timeout queue)       │ refused / timeout connect
//        ▼                                ▼                                 ▼
//                                   woken when any thread frees a slot     retry the same member
//                                                                          `retries` times (turn-around
//                                                                          delay), the last one on another
//                                                                          member with `option redispatch`
//
// Slots: a member's `scur` gauge is taken with a compare-and-swap against its maxconn, so
// worker threads never push a member past it together. The backend's `scur` counts the
// sessions that hold a member. The caller ends a successful session with endSession(),
// which frees the slot and wakes queued requests in every thread: the backend's `wake` gauge
// is bumped and notified (Atomics.waitAsync in each thread that has waiters), and waiters
// of this thread are served at once without waiting for the notification.
//
// Hot path: startSession() tells its owner directly (two methods, no promise, no result
// object). A pooled connection is handed over before startSession() returns, with nothing
// allocated; otherwise one Attempt carries the connect or the wait in the queue, and socket
// events go to module-level functions that find the attempt on the socket.

import { performance } from 'node:perf_hooks';
import type net from 'node:net';
import type { BackendPlan, MemberPlan } from '../compile/plan.ts';
import { G, GAUGES_PER_SLOT, T, type Counters } from '../runtime/counters.ts';
import type { PickContext } from './balancer.ts';
import { connectMember } from './member-read.ts';
import { anyUsable } from './usable.ts';

export type SessionError = 'no-server' | 'queue-timeout' | 'connect-failed' | 'aborted';

export type SessionResult = { member: MemberPlan; socket: net.Socket; reused: boolean } | { error: SessionError };

/** Who waits for a server-side session: told exactly once, by sessionReady or sessionFailed. */
export interface SessionOwner {
  /** A pooled connection to `m` to use as is, or undefined for a new connection. */
  idleFor(m: MemberPlan): net.Socket | undefined;
  /**
   * The session is open on `member` over `socket` (connected, no timeout set, a harmless
   * 'error' listener of ours attached). A new connection's bytes go to the reader given to
   * setReader() (member-read.ts), not to 'data' listeners. The owner must call endSession(member, counters)
   * exactly once when the session ends. `queuedMs`: how long the request waited in the queue
   * (0 when it did not), for the qtime / ctime statistics.
   */
  sessionReady(member: MemberPlan, socket: net.Socket, reused: boolean, queuedMs: number): void;
  /** No session: nothing is held (no endSession then). */
  sessionFailed(error: SessionError): void;
}

/** A session still being opened (connecting, waiting to retry, or queued). */
export interface PendingSession {
  /** Drop it: slots are given back and the owner is not told anything any more. */
  cancel(): void;
}

/** Longest a queue sleeps without looking (a member coming up does not notify). */
const QUEUE_POLL_MS = 1000;
/** HAProxy's turn-around delay before retrying the same server: min(timeout connect, 1 s). */
const TURN_AROUND_MS = 1000;

const kAttempt = Symbol('amphora.attempt');
type AttemptSocket = net.Socket & { [kAttempt]?: Attempt | undefined };

/**
 * Open a server-side session on `be` for one request (or one tcp connection) and tell
 * `owner` how it went. The owner may be told before this returns (a pooled connection, no
 * usable member): then the result is undefined. Otherwise the pending session is returned.
 *
 * `ctx` is read again on retries and redispatch (its `avoid` is set and restored meanwhile).
 * A connection from `owner.idleFor(member)` is used as is (`reused: true`; counting
 * connReuse is the owner's job).
 */
export function startSession(be: BackendPlan, ctx: PickContext, counters: Counters, owner: SessionOwner): PendingSession | undefined {
  const m = pickAndReserve(be, ctx, counters);
  if (m !== undefined) {
    counters.enter(be.slot);
    const pooled = owner.idleFor(m);
    if (pooled !== undefined) {
      owner.sessionReady(m, pooled, true, 0);
      return undefined;
    }
    const a = new Attempt(be, ctx, counters, owner);
    a.member = m;
    a.dial();
    return a.done ? undefined : a;
  }
  if (!anyUsable(be.members, counters.gauges)) {
    // As HAProxy: the session entered the backend and failed to connect there.
    counters.started(be.slot);
    counters.add(be.slot, T.econ);
    owner.sessionFailed('no-server');
    return undefined;
  }
  const a = new Attempt(be, ctx, counters, owner);
  const target = be.balancer.bound?.(ctx);
  if (target !== undefined) {
    if (target.maxqueue > 0 && counters.gauge(target.slot, G.qcur) >= target.maxqueue) {
      // The member's queue is full: the request goes to another member (HAProxy's maxqueue:
      // redispatch, persistence broken), now if one has room, else in the backend's queue.
      a.avoiding = target;
      a.savedAvoid = ctx.avoid;
      ctx.avoid = target;
      const other = pickAndReserve(be, ctx, counters);
      if (other !== undefined) {
        ctx.avoid = a.savedAvoid;
        a.avoiding = undefined;
        a.start(other);
        return a.done ? undefined : a;
      }
    } else {
      a.target = target;
    }
  }
  queueOf(be, counters).add(a);
  return a.done ? undefined : a;
}

/**
 * The promise form of startSession(), for callers off the hot path: resolves with the
 * session or the error; `signal` cancels a pending session ({ error: 'aborted' }).
 */
export function openSession(
  be: BackendPlan,
  ctx: PickContext,
  counters: Counters,
  idle?: (m: MemberPlan) => net.Socket | undefined,
  signal?: AbortSignal,
): Promise<SessionResult> {
  if (signal?.aborted) return Promise.resolve(ABORTED);
  const { promise, resolve } = Promise.withResolvers<SessionResult>();
  const owner: SessionOwner = {
    idleFor: (m) => idle?.(m),
    sessionReady: (member, socket, reused) => {
      signal?.removeEventListener('abort', onAbort);
      resolve({ member, socket, reused });
    },
    sessionFailed: (error) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(error === 'aborted' ? ABORTED : { error });
    },
  };
  let pending: PendingSession | undefined;
  function onAbort(): void {
    pending?.cancel();
    resolve(ABORTED);
  }
  signal?.addEventListener('abort', onAbort);
  pending = startSession(be, ctx, counters, owner);
  return promise;
}

/** End a session that startSession() opened: free the member slot and wake queued requests. */
export function endSession(member: MemberPlan, counters: Counters): void {
  counters.leave(member.slot);
  counters.leave(member.backend.slot);
  slotFreed(member.backend, counters);
}

const ABORTED: SessionResult = { error: 'aborted' };

// --------------------------------------------------------------------------- the attempt

/** One request's way to a member when it is not served at once: connecting, retrying, queued. */
class Attempt implements PendingSession {
  readonly be: BackendPlan;
  readonly ctx: PickContext;
  readonly counters: Counters;
  readonly owner: SessionOwner;
  /** Member whose slot this attempt holds (undefined while unassigned or queued). */
  member: MemberPlan | undefined = undefined;
  /** Connection in progress. */
  socket: AttemptSocket | undefined = undefined;
  /** Turn-around timer before a retry. */
  timer: NodeJS.Timeout | undefined = undefined;
  /** Connection attempts still allowed after the current one. */
  retriesLeft: number;
  /** Waiting in this thread's queue of the backend. */
  queued = false;
  /** When waiting in the queue ends (performance.now() ms; Infinity = no timeout queue). */
  deadline = Infinity;
  /** When the attempt entered the queue, then how long it waited there (ms). */
  queuedAt = 0;
  queuedMs = 0;
  /** Hash balancers: the member whose queue this request waits in (counted in its qcur). */
  target: MemberPlan | undefined = undefined;
  /** The member whose full queue sent this request elsewhere: ctx.avoid while queued, then `savedAvoid` again. */
  avoiding: MemberPlan | undefined = undefined;
  savedAvoid: MemberPlan | undefined = undefined;
  /** The owner was told (or the attempt was cancelled): late events are ignored. */
  done = false;

  constructor(be: BackendPlan, ctx: PickContext, counters: Counters, owner: SessionOwner) {
    this.be = be;
    this.ctx = ctx;
    this.counters = counters;
    this.owner = owner;
    this.retriesLeft = be.retries;
  }

  /** A member slot is held (out of the queue): count the session on the backend and go. */
  start(m: MemberPlan): void {
    this.member = m;
    if (this.queuedAt > 0) this.queuedMs = performance.now() - this.queuedAt;
    this.leftQueue();
    this.counters.enter(this.be.slot);
    this.connect();
  }

  /** A pooled connection to the member when the owner has one, else a new connection. */
  connect(): void {
    const pooled = this.owner.idleFor(this.member!);
    if (pooled !== undefined) return this.ready(pooled, true);
    this.dial();
  }

  /** A new connection to the member. */
  dial(): void {
    const m = this.member!;
    let s: AttemptSocket;
    try {
      s = connectMember(m.host, m.port ?? this.ctx.dstPort ?? 0);
    } catch {
      // Thrown at once for an address or port that cannot be connected to (no port known
      // for a member written without one): a failed attempt like any other.
      return this.failed();
    }
    s[kAttempt] = this;
    this.socket = s;
    s.on('error', onConnectError);
    s.once('connect', onConnect);
    const t = this.be.timeouts.connect;
    if (t > 0) {
      s.setTimeout(t);
      s.once('timeout', onConnectTimeout);
    }
  }

  connected(s: AttemptSocket): void {
    s[kAttempt] = undefined;
    this.socket = undefined;
    if (this.be.timeouts.connect > 0) {
      s.setTimeout(0);
      s.removeListener('timeout', onConnectTimeout);
    }
    this.ready(s, false);
  }

  /** The connection to `member` failed (refused, reset, timeout connect). */
  failed(): void {
    const be = this.be;
    const c = this.counters;
    const m = this.member!;
    if (this.retriesLeft <= 0) {
      c.add(m.slot, T.econ);
      c.add(be.slot, T.econ);
      this.release();
      return this.fail('connect-failed');
    }
    this.retriesLeft--;
    if (this.retriesLeft === 0 && be.redispatch) {
      // The last retry goes to another member when one can take it (HAProxy's default
      // `option redispatch` interval of -1), without the turn-around delay.
      const saved = this.ctx.avoid;
      this.ctx.avoid = m;
      const next = be.balancer.pick(this.ctx);
      this.ctx.avoid = saved;
      if (next !== undefined && next !== m && reserve(next, c)) {
        c.add(m.slot, T.wredis);
        c.add(be.slot, T.wredis);
        c.add(next.slot, T.lbtot);
        c.add(be.slot, T.lbtot);
        c.leave(m.slot);
        slotFreed(be, c);
        this.member = next;
        return this.connect();
      }
    }
    c.add(m.slot, T.wretr);
    c.add(be.slot, T.wretr);
    // HAProxy counts a session on the server for every connection attempt to it.
    c.add(m.slot, T.stot);
    const t = be.timeouts.connect;
    this.timer = setTimeout(onTurnAround, t > 0 && t < TURN_AROUND_MS ? t : TURN_AROUND_MS, this);
  }

  /** Give back the member and backend slots this attempt holds. */
  release(): void {
    const m = this.member;
    if (m === undefined) return;
    this.member = undefined;
    endSession(m, this.counters);
  }

  /** Out of the queue (served, expired, cancelled): the member queue count and ctx.avoid as they were. */
  leftQueue(): void {
    if (this.target !== undefined) {
      this.counters.dequeue(this.target.slot);
      this.target = undefined;
    }
    if (this.avoiding !== undefined) {
      if (this.ctx.avoid === this.avoiding) this.ctx.avoid = this.savedAvoid;
      this.avoiding = undefined;
    }
  }

  cancel(): void {
    if (this.done) return;
    this.done = true;
    if (this.queued) {
      queueOf(this.be, this.counters).remove(this);
      this.leftQueue();
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.socket;
    if (s !== undefined) {
      s[kAttempt] = undefined;
      this.socket = undefined;
      s.destroy();
    }
    this.release();
  }

  ready(socket: net.Socket, reused: boolean): void {
    if (this.done) return;
    this.done = true;
    this.timer = undefined;
    this.owner.sessionReady(this.member!, socket, reused, this.queuedMs);
  }

  fail(error: SessionError): void {
    if (this.done) return;
    this.done = true;
    this.timer = undefined;
    this.owner.sessionFailed(error);
  }
}

function onConnect(this: AttemptSocket): void {
  const a = this[kAttempt];
  if (a !== undefined) a.connected(this);
}

// Stays attached after success as well: an error emitted before the caller has attached its
// own listeners must not crash the thread (the caller still sees 'close' with hadError).
function onConnectError(this: AttemptSocket): void {
  const a = this[kAttempt];
  if (a === undefined) return;
  this[kAttempt] = undefined;
  a.socket = undefined;
  this.destroy();
  a.failed();
}

function onConnectTimeout(this: AttemptSocket): void {
  onConnectError.call(this);
}

function onTurnAround(a: Attempt): void {
  a.timer = undefined;
  if (!a.done) a.connect();
}

// ----------------------------------------------------------------------------- slots

/** Take a session slot on `m` unless it is at maxconn, atomically against other threads. */
function reserve(m: MemberPlan, c: Counters): boolean {
  return c.tryEnter(m.slot, m.maxconn);
}

/** Balancer choice with its slot taken (a lost race with another thread counts as full). */
function pickAndReserve(be: BackendPlan, ctx: PickContext, c: Counters): MemberPlan | undefined {
  for (let tries = 0; tries < 3; tries++) {
    const m = be.balancer.pick(ctx);
    if (m === undefined) return undefined;
    if (reserve(m, c)) {
      c.add(m.slot, T.lbtot);
      c.add(be.slot, T.lbtot);
      return m;
    }
  }
  return undefined;
}

/** A member slot of `be` was freed: wake waiters in every thread, serve this thread's now. */
function slotFreed(be: BackendPlan, c: Counters): void {
  const g = c.gauges;
  const base = be.slot * GAUGES_PER_SLOT;
  if (g[base + G.qcur] === 0) return;
  Atomics.add(g, base + G.wake, 1);
  Atomics.notify(g, base + G.wake);
  const q = queues.get(be);
  if (q !== undefined && q.waiters.length > 0) q.drain();
}

// ----------------------------------------------------------------------------- queues

/** This thread's waiters for one backend (of one plan generation). */
const queues = new WeakMap<BackendPlan, BackendQueue>();

function queueOf(be: BackendPlan, c: Counters): BackendQueue {
  let q = queues.get(be);
  if (q === undefined) {
    q = new BackendQueue(be, c);
    queues.set(be, q);
  }
  return q;
}

/**
 * Requests of this thread waiting for a member slot of one backend, oldest first. The
 * backend's `qcur` gauge counts the waiters of all threads (so a releasing thread knows to
 * bump `wake`). One Atomics.waitAsync at a time watches `wake`; one timer watches the
 * earliest `timeout queue` deadline.
 */
class BackendQueue {
  readonly be: BackendPlan;
  readonly counters: Counters;
  readonly waiters: Attempt[] = [];
  /** Index of the backend's `wake` cell in the gauges. */
  private readonly cell: number;
  private watching = false;
  private expiry: NodeJS.Timeout | undefined = undefined;
  private expiryAt = Infinity;

  constructor(be: BackendPlan, counters: Counters) {
    this.be = be;
    this.counters = counters;
    this.cell = be.slot * GAUGES_PER_SLOT + G.wake;
  }

  add(a: Attempt): void {
    a.queued = true;
    const t = this.be.timeouts.queue;
    a.queuedAt = performance.now();
    a.deadline = t > 0 ? a.queuedAt + t : Infinity;
    this.counters.enqueue(this.be.slot);
    if (a.target !== undefined) this.counters.enqueue(a.target.slot);
    this.waiters.push(a);
    if (a.deadline < this.expiryAt) this.scheduleExpiry(a.deadline);
    // A slot freed between the failed pick and the enqueue did not bump `wake` (qcur was
    // still 0): look again now that this request is counted.
    this.watch();
  }

  remove(a: Attempt): void {
    const i = this.waiters.indexOf(a);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    a.queued = false;
    this.counters.dequeue(this.be.slot);
    if (this.waiters.length === 0) this.stopExpiry();
  }

  /** Serve waiters while members have room: the oldest first; every one for hash balancers. */
  drain(): void {
    const all = this.be.balancer.perRequest === true;
    const w = this.waiters;
    for (let i = 0; i < w.length; ) {
      const a = w[i]!;
      const m = pickAndReserve(this.be, a.ctx, this.counters);
      if (m === undefined) {
        if (!all) return;
        i++;
        continue;
      }
      w.splice(i, 1);
      a.queued = false;
      this.counters.dequeue(this.be.slot);
      a.start(m);
    }
    if (w.length === 0) this.stopExpiry();
  }

  /** Drain, then sleep on `wake` (read before draining, so no release is missed). */
  watch(): void {
    const g = this.counters.gauges;
    const seen = Atomics.load(g, this.cell);
    this.drain();
    if (this.waiters.length === 0 || this.watching) return;
    this.watching = true;
    const r = Atomics.waitAsync(g, this.cell, seen, QUEUE_POLL_MS);
    if (r.async) {
      r.value.then(() => this.woken());
    } else {
      // `wake` moved meanwhile: look again on the next turn of the loop, not in a tight loop.
      setImmediate(onQueueImmediate, this);
    }
  }

  woken(): void {
    this.watching = false;
    if (this.waiters.length > 0) this.watch();
  }

  private scheduleExpiry(at: number): void {
    if (this.expiry !== undefined) clearTimeout(this.expiry);
    this.expiryAt = at;
    this.expiry = setTimeout(onQueueExpiry, Math.max(0, at - performance.now()), this);
  }

  private stopExpiry(): void {
    if (this.expiry === undefined) return;
    clearTimeout(this.expiry);
    this.expiry = undefined;
    this.expiryAt = Infinity;
  }

  /** Answer 'queue-timeout' to every waiter past its deadline; re-arm for the next one. */
  expire(): void {
    this.expiry = undefined;
    this.expiryAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const w = this.waiters;
    for (let i = 0; i < w.length; ) {
      const a = w[i]!;
      if (a.deadline <= now) {
        w.splice(i, 1);
        a.queued = false;
        this.counters.dequeue(this.be.slot);
        a.leftQueue();
        a.fail('queue-timeout');
        continue;
      }
      if (a.deadline < next) next = a.deadline;
      i++;
    }
    if (next !== Infinity) this.scheduleExpiry(next);
  }
}

function onQueueImmediate(q: BackendQueue): void {
  q.woken();
}

function onQueueExpiry(q: BackendQueue): void {
  q.expire();
}
