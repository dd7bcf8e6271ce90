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
// Hot path: one Attempt object and the one promise returned; socket events go to
// module-level functions that find the attempt on the socket, so nothing is allocated per
// event and no closure per request.

import net from 'node:net';
import type { BackendPlan, MemberPlan } from '../compile/plan.ts';
import { G, GAUGES_PER_SLOT, T, type Counters } from '../runtime/counters.ts';
import type { PickContext } from './balancer.ts';
import { anyUsable } from './usable.ts';

export type SessionResult =
  | { member: MemberPlan; socket: net.Socket; reused: boolean }
  | { error: 'no-server' | 'queue-timeout' | 'connect-failed' | 'aborted' };

/** Longest a queue sleeps without looking (a member coming up does not notify). */
const QUEUE_POLL_MS = 1000;
/** HAProxy's turn-around delay before retrying the same server: min(timeout connect, 1 s). */
const TURN_AROUND_MS = 1000;

const kAttempt = Symbol('amphora.attempt');
type AttemptSocket = net.Socket & { [kAttempt]?: Attempt | undefined };

/**
 * Open a server-side session on `be` for one request (or one tcp connection).
 *
 * `ctx` is read again on retries and redispatch (its `avoid` is set and restored meanwhile).
 * `idle(member)` may hand back a pooled connection to that member; it is used as is
 * (`reused: true`; counting connReuse is the pool owner's job). On success the socket is
 * connected, has no timeout set and carries a harmless 'error' listener of ours; the caller
 * owns it and must call endSession(member, counters) exactly once when the server-side
 * session ends. On every error result nothing is held: no endSession then.
 */
export function openSession(
  be: BackendPlan,
  ctx: PickContext,
  counters: Counters,
  idle?: (m: MemberPlan) => net.Socket | undefined,
  signal?: AbortSignal,
): Promise<SessionResult> {
  const a = new Attempt(be, ctx, counters, idle, signal);
  if (signal !== undefined) {
    if (signal.aborted) {
      a.finish(ABORTED);
      return a.promise;
    }
    signal.addEventListener('abort', a);
  }
  a.assign();
  return a.promise;
}

/** End a session that openSession() opened: free the member slot and wake queued requests. */
export function endSession(member: MemberPlan, counters: Counters): void {
  counters.leave(member.slot);
  counters.leave(member.backend.slot);
  slotFreed(member.backend, counters);
}

const ABORTED: SessionResult = { error: 'aborted' };
const NO_SERVER: SessionResult = { error: 'no-server' };
const QUEUE_TIMEOUT: SessionResult = { error: 'queue-timeout' };
const CONNECT_FAILED: SessionResult = { error: 'connect-failed' };

// --------------------------------------------------------------------------- the attempt

/** One request's way to a member. Listener object for the abort signal (handleEvent). */
class Attempt {
  readonly be: BackendPlan;
  readonly ctx: PickContext;
  readonly counters: Counters;
  readonly idle: ((m: MemberPlan) => net.Socket | undefined) | undefined;
  readonly signal: AbortSignal | undefined;
  readonly promise: Promise<SessionResult>;
  private readonly resolve: (r: SessionResult) => void;
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
  /** The promise is settled: late events are ignored. */
  done = false;

  constructor(
    be: BackendPlan,
    ctx: PickContext,
    counters: Counters,
    idle: ((m: MemberPlan) => net.Socket | undefined) | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.be = be;
    this.ctx = ctx;
    this.counters = counters;
    this.idle = idle;
    this.signal = signal;
    this.retriesLeft = be.retries;
    const { promise, resolve } = Promise.withResolvers<SessionResult>();
    this.promise = promise;
    this.resolve = resolve;
  }

  /** First choice: a member with room now, else the queue, else no server at all. */
  assign(): void {
    const m = pickAndReserve(this.be, this.ctx, this.counters);
    if (m !== undefined) return this.start(m);
    if (!anyUsable(this.be.members, this.counters.gauges)) return this.finish(NO_SERVER);
    queueOf(this.be, this.counters).add(this);
  }

  /** A member slot is held: count the session on the backend and go. */
  start(m: MemberPlan): void {
    this.member = m;
    this.counters.enter(this.be.slot);
    this.connect();
  }

  connect(): void {
    const m = this.member!;
    if (this.idle !== undefined) {
      const pooled = this.idle(m);
      if (pooled !== undefined) return this.finish({ member: m, socket: pooled, reused: true });
    }
    let s: AttemptSocket;
    try {
      s = net.connect({ host: m.host, port: m.port ?? this.ctx.dstPort ?? 0, allowHalfOpen: true, noDelay: true });
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
    this.finish({ member: this.member!, socket: s, reused: false });
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
      return this.finish(CONNECT_FAILED);
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

  /** AbortSignal listener: drop whatever is in progress. */
  handleEvent(): void {
    if (this.done) return;
    if (this.queued) {
      queueOf(this.be, this.counters).remove(this);
    } else {
      if (this.timer !== undefined) clearTimeout(this.timer);
      const s = this.socket;
      if (s !== undefined) {
        s[kAttempt] = undefined;
        this.socket = undefined;
        s.destroy();
      }
      this.release();
    }
    this.finish(ABORTED);
  }

  finish(r: SessionResult): void {
    if (this.done) return;
    this.done = true;
    this.timer = undefined;
    if (this.signal !== undefined) this.signal.removeEventListener('abort', this);
    this.resolve(r);
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
  const g = c.gauges;
  const i = m.slot * GAUGES_PER_SLOT + G.scur;
  const max = m.maxconn;
  let cur: number;
  if (max === 0) {
    cur = Atomics.add(g, i, 1) + 1;
  } else {
    for (;;) {
      const seen = Atomics.load(g, i);
      if (seen >= max) return false;
      if (Atomics.compareExchange(g, i, seen, seen + 1) === seen) {
        cur = seen + 1;
        break;
      }
    }
  }
  const base = m.slot * GAUGES_PER_SLOT;
  if (cur > Atomics.load(g, base + G.smax)) Atomics.store(g, base + G.smax, cur);
  Atomics.add(g, base + G.rateCur, 1);
  c.add(m.slot, T.stot);
  return true;
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
  if (Atomics.load(g, base + G.qcur) === 0) return;
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
    a.deadline = t > 0 ? performance.now() + t : Infinity;
    this.counters.enqueue(this.be.slot);
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
        a.finish(QUEUE_TIMEOUT);
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
