// Counters shared between the supervisor (main thread) and the worker threads.
//
// One SharedArrayBuffer per config generation, laid out in slots: one slot per frontend,
// per backend and per server (the plan assigns `slot` numbers at compile time). Two kinds
// of cells:
//
// - gauges (Int32, Atomics): values every thread must see at once — current sessions
//   (global least-connections and maxconn depend on it), queue lengths, and the health
//   state of servers, which the supervisor's checker writes and workers read;
// - totals (Float64, one region per worker): monotonic counters each worker adds to
//   without atomics (it is the only writer of its region); the supervisor sums regions
//   when it answers `show stat`. No message crosses threads per request.
//
// A replaced worker reuses the region of the worker it replaces, so totals survive it.
//
// With one thread serving (nbthread 1: the data plane runs on the supervisor's thread), no
// other thread touches a generation's buffer, and its gauges are updated with plain reads and
// writes (`atomic` false): Atomics calls are calls into V8 builtins, about 9 % of the request
// path's time in bench/hotpath.ts. Reads of a gauge are plain in any case (balance/usable.ts).

import { performance } from 'node:perf_hooks';

/** Gauge cells of a slot (Int32, updated with Atomics). */
export const G = {
  /** Current sessions. */
  scur: 0,
  /** Highest scur seen. */
  smax: 1,
  /** Requests waiting in this server's or backend's queue. */
  qcur: 2,
  qmax: 3,
  /** Server state, one of ServerState; written by the supervisor only. */
  state: 4,
  /** Effective weight (health/agent may change it later); written by the supervisor. */
  weight: 5,
  /** Consecutive check results towards rise/fall (supervisor only). */
  health: 6,
  /** Session rate bookkeeping: sessions started in the current second (supervisor resets). */
  rateCur: 7,
  /** Bumped (Atomics.add + Atomics.notify) whenever a slot frees, so queued requests in any thread wake up. */
  wake: 8,
} as const;
export const GAUGES_PER_SLOT = 9;

/** Total cells of a slot (Float64, per worker region). */
export const T = {
  /** Cumulative sessions (connections for frontends, server sessions for backends/servers). */
  stot: 0,
  bin: 1,
  bout: 2,
  /** Denied requests / responses. */
  dreq: 3,
  dresp: 4,
  /** Request errors (frontend): malformed, timeouts before a full head. */
  ereq: 5,
  /** Connection errors towards servers. */
  econ: 6,
  /** Response errors (server closed, malformed response, timeouts after sending). */
  eresp: 7,
  /** Retries and redispatches. */
  wretr: 8,
  wredis: 9,
  /** HTTP responses by class. */
  hrsp1xx: 10,
  hrsp2xx: 11,
  hrsp3xx: 12,
  hrsp4xx: 13,
  hrsp5xx: 14,
  hrspOther: 15,
  /** HTTP requests (frontend: received; backend/server: sent). */
  reqTot: 16,
  /** Times a server was selected by the load balancer. */
  lbtot: 17,
  /** Client / server aborts during data transfer. */
  cliAbrt: 18,
  srvAbrt: 19,
  /** Connections reused from a pool (backend/server). */
  connReuse: 20,
  /** Failed checks and UP→DOWN transitions (supervisor writes these in its own region). */
  chkfail: 21,
  chkdown: 22,
  /** Intercepted requests (redirects, deny answered locally). */
  intercepted: 23,
  /**
   * Sliding sums (ms) of the queue, connect, response and total times of the requests (mode
   * http) or sessions (mode tcp) served by a backend or server: addTimes(), averageTime().
   */
  qtime: 24,
  ctime: 25,
  rtime: 26,
  ttime: 27,
  /** Largest of each time (ms); a maximum per region, read with max(). */
  qtimeMax: 28,
  ctimeMax: 29,
  rtimeMax: 30,
  ttimeMax: 31,
  /** Samples added to the sums above. */
  timeSamples: 32,
  /** Unix time (s) a session last started on this backend or server (sessionStarted()); read with max(). */
  lastSess: 33,
} as const;
export const TOTALS_PER_SLOT = 34;

/** This thread's performance.timeOrigin, read once: the property is a getter that calls into Node. */
const TIME_ORIGIN = performance.timeOrigin;

/** HAProxy averages the times over the last 1024 samples (here: per thread, then combined). */
export const TIME_WINDOW = 1024;

/** Server states as stored in the `state` gauge. */
export const ServerState = {
  /** Running and no check configured (HAProxy prints "no check"). */
  noCheck: 0,
  up: 1,
  down: 2,
  /** `disabled` in the config (HAProxy "MAINT"). */
  maint: 3,
  /** Weight 0 (HAProxy "DRAIN"). */
  drain: 4,
} as const;
export type ServerStateValue = (typeof ServerState)[keyof typeof ServerState];

export interface CounterLayout {
  slots: number;
  /** Worker regions for totals, plus one for the supervisor (checks). */
  regions: number;
}

/** Allocate the buffer for `slots` slots and `workers` worker regions (+1 for the supervisor). */
export function allocateCounters(slots: number, workers: number): SharedArrayBuffer {
  const regions = workers + 1;
  const bytes = 8 * slots * TOTALS_PER_SLOT * regions + 4 * slots * GAUGES_PER_SLOT;
  return new SharedArrayBuffer(bytes);
}

/**
 * A thread's view of the counters. `region` is this thread's totals region: worker i uses
 * region i, the supervisor uses region `regions - 1`.
 */
export class Counters {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  readonly regions: number;
  readonly gauges: Int32Array;
  /** Totals of every region, for summing. */
  readonly allTotals: Float64Array;
  /** Totals of this thread's region: index `slot * TOTALS_PER_SLOT + T.x`. */
  readonly totals: Float64Array;
  /** Gauges are updated with Atomics (other threads use this buffer), else plainly (see above). */
  readonly atomic: boolean;

  constructor(buffer: SharedArrayBuffer, slots: number, region: number, atomic = true) {
    this.buffer = buffer;
    this.atomic = atomic;
    this.slots = slots;
    const totalsBytes = buffer.byteLength - 4 * slots * GAUGES_PER_SLOT;
    this.regions = totalsBytes / (8 * slots * TOTALS_PER_SLOT);
    if (!Number.isInteger(this.regions) || region < 0 || region >= this.regions) {
      throw new RangeError(`counter region ${region} outside 0..${this.regions - 1}`);
    }
    this.allTotals = new Float64Array(buffer, 0, slots * TOTALS_PER_SLOT * this.regions);
    this.totals = new Float64Array(buffer, 8 * slots * TOTALS_PER_SLOT * region, slots * TOTALS_PER_SLOT);
    this.gauges = new Int32Array(buffer, totalsBytes, slots * GAUGES_PER_SLOT);
  }

  /** Add to a total of this thread's region. */
  add(slot: number, cell: number, n = 1): void {
    this.totals[slot * TOTALS_PER_SLOT + cell]! += n;
  }

  /** Sum of a total over every region (supervisor side, for stats). */
  sum(slot: number, cell: number): number {
    const stride = this.slots * TOTALS_PER_SLOT;
    let s = 0;
    for (let r = 0, i = slot * TOTALS_PER_SLOT + cell; r < this.regions; r++, i += stride) {
      s += this.allTotals[i]!;
    }
    return s;
  }

  gauge(slot: number, cell: number): number {
    return Atomics.load(this.gauges, slot * GAUGES_PER_SLOT + cell);
  }

  setGauge(slot: number, cell: number, v: number): void {
    Atomics.store(this.gauges, slot * GAUGES_PER_SLOT + cell, v);
  }

  /**
   * One request's (or tcp session's) times in ms on a backend or server slot: each sum
   * accumulates its first TIME_WINDOW samples, then slides (sum - sum/N + v), as HAProxy's
   * swrate; the maxima are kept as they are.
   */
  addTimes(slot: number, q: number, c: number, r: number, t: number): void {
    const tot = this.totals;
    const base = slot * TOTALS_PER_SLOT;
    const n = (tot[base + T.timeSamples]! += 1);
    const slide = n > TIME_WINDOW;
    addSample(tot, base + T.qtime, base + T.qtimeMax, q, slide);
    addSample(tot, base + T.ctime, base + T.ctimeMax, c, slide);
    addSample(tot, base + T.rtime, base + T.rtimeMax, r, slide);
    addSample(tot, base + T.ttime, base + T.ttimeMax, t, slide);
  }

  /** A session started at `at` (performance.now() of this thread) on a backend or server: lastsess. */
  sessionStarted(slot: number, at: number): void {
    this.totals[slot * TOTALS_PER_SLOT + T.lastSess] = Math.floor((TIME_ORIGIN + at) / 1000);
  }

  /** Average (ms, rounded up like HAProxy's) of a time sum over every thread's window. */
  averageTime(slot: number, cell: number): number {
    const stride = this.slots * TOTALS_PER_SLOT;
    let sum = 0;
    let samples = 0;
    for (let r = 0, i = slot * TOTALS_PER_SLOT; r < this.regions; r++, i += stride) {
      sum += this.allTotals[i + cell]!;
      samples += Math.min(this.allTotals[i + T.timeSamples]!, TIME_WINDOW);
    }
    return samples === 0 ? 0 : Math.ceil(sum / samples);
  }

  /** Largest value of a total over every region (maxima and timestamps, not sums). */
  max(slot: number, cell: number): number {
    const stride = this.slots * TOTALS_PER_SLOT;
    let m = 0;
    for (let r = 0, i = slot * TOTALS_PER_SLOT + cell; r < this.regions; r++, i += stride) {
      if (this.allTotals[i]! > m) m = this.allTotals[i]!;
    }
    return m;
  }

  /** Count a session in (scur+1, smax, stot+1, rate); returns the new scur. */
  enter(slot: number): number {
    const base = slot * GAUGES_PER_SLOT;
    const cur = this.bump(base + G.scur, base + G.smax);
    this.started(slot);
    return cur;
  }

  /**
   * The rest of counting a session in, once scur and smax are: rate, stot. Alone, for a
   * session that never holds a slot (a backend without a usable member).
   */
  started(slot: number): void {
    this.increment(slot * GAUGES_PER_SLOT + G.rateCur);
    this.totals[slot * TOTALS_PER_SLOT + T.stot]! += 1;
  }

  /**
   * enter() unless the slot is at `max` sessions (0: no limit) in all threads together: false
   * then, and nothing counted. Where threads share the buffer the check and the increment are
   * one step (compare-and-swap), so that no two threads take the last slot.
   */
  tryEnter(slot: number, max: number): boolean {
    if (max === 0) {
      this.enter(slot);
      return true;
    }
    const g = this.gauges;
    const i = slot * GAUGES_PER_SLOT + G.scur;
    if (!this.atomic) {
      if (g[i]! >= max) return false;
      this.enter(slot);
      return true;
    }
    let seen: number;
    for (;;) {
      seen = Atomics.load(g, i);
      if (seen >= max) return false;
      if (Atomics.compareExchange(g, i, seen, seen + 1) === seen) break;
    }
    this.raise(slot * GAUGES_PER_SLOT + G.smax, seen + 1);
    this.started(slot);
    return true;
  }

  /** Count a session out (scur-1). */
  leave(slot: number): void {
    this.decrement(slot * GAUGES_PER_SLOT + G.scur);
  }

  /** Count a request into a queue (qcur+1, qmax). */
  enqueue(slot: number): void {
    const base = slot * GAUGES_PER_SLOT;
    this.bump(base + G.qcur, base + G.qmax);
  }

  dequeue(slot: number): void {
    this.decrement(slot * GAUGES_PER_SLOT + G.qcur);
  }

  /** Gauge cell `i` + 1, and its maximum cell `max` raised to it; the new value. */
  bump(i: number, max: number): number {
    const g = this.gauges;
    const cur = this.atomic ? Atomics.add(g, i, 1) + 1 : ++g[i]!;
    this.raise(max, cur);
    return cur;
  }

  /** Maximum cell `max` raised to `v` (a maximum: a lost race between threads loses little). */
  raise(max: number, v: number): void {
    if (v > this.gauges[max]!) {
      if (this.atomic) Atomics.store(this.gauges, max, v);
      else this.gauges[max] = v;
    }
  }

  increment(i: number): void {
    if (this.atomic) Atomics.add(this.gauges, i, 1);
    else this.gauges[i]!++;
  }

  decrement(i: number): void {
    if (this.atomic) Atomics.sub(this.gauges, i, 1);
    else this.gauges[i]!--;
  }
}

function addSample(tot: Float64Array, sum: number, max: number, v: number, slide: boolean): void {
  const ms = Math.floor(v);
  tot[sum] = slide ? tot[sum]! - tot[sum]! / TIME_WINDOW + ms : tot[sum]! + ms;
  if (ms > tot[max]!) tot[max] = ms;
}
