// maxconn: how many client connections the process (global `maxconn`) and each frontend
// (`maxconn` in the frontend) serve at once, counted in the shared gauges so the limit holds
// across every worker thread.
//
// HAProxy, at a limit, stops calling accept(): new connections wait in the kernel's backlog,
// complete their handshake, and are served in order once a connection ends. Node has no
// public way to stop accepting on a listening socket short of closing it, and closing it is
// wrong: with SO_REUSEPORT the connections in its accept queue are reset, and with one worker
// new clients would be refused. So a worker accepts, and a connection over the limit waits
// here, untouched (nothing reads past the socket's buffer and nothing is written), until a
// slot frees in any thread: the same thing the client sees from a kernel backlog. The wait
// list of a frontend in a worker is bounded (its listen backlog, at least MIN_QUEUE); past
// that a connection is closed. That is harsher than a full kernel backlog (which drops the
// SYN and lets the client retry), hence the generous floor: HAProxy's backlog defaults to
// the frontend's maxconn, which can be tiny.
//
// Counting belongs to the engines (serveTcp / serveHttp1 enter the global and frontend slots
// synchronously when handed a connection, and leave when it closes); this gate only reads
// those gauges. Between threads the read and the engine's enter are not one atomic step, so
// under contention a limit can be passed by at most nbthread-1 connections. A connection that
// ends bumps the global slot's `wake` gauge (Atomics.notify) so that workers holding waiting
// connections retry at once.

import type net from 'node:net';
import type { FrontendPlan, Plan } from '../compile/plan.ts';
import { G, GAUGES_PER_SLOT } from './counters.ts';

/** Smallest wait list per frontend and worker (Linux's default net.core.somaxconn). */
const MIN_QUEUE = 4096;

/** Retry waiting connections at least this often (a slot freed under an older generation's counters wakes nobody). */
const RETRY_MS = 200;

export type Dispatch = (socket: net.Socket, fe: FrontendPlan, plan: Plan) => void;

export class Admission {
  readonly #queues = new Map<string, net.Socket[]>();
  readonly #getPlan: () => Plan;
  readonly #dispatch: Dispatch;
  #waiting = false;
  #queued = 0;

  constructor(getPlan: () => Plan, dispatch: Dispatch) {
    this.#getPlan = getPlan;
    this.#dispatch = dispatch;
  }

  /** Connections accepted but waiting for a slot. */
  get queued(): number {
    return this.#queued;
  }

  /** Serve `socket` on `frontend` now if below every limit, else let it wait (at most `maxQueue`). */
  admit(socket: net.Socket, frontend: string, maxQueue: number): void {
    const q = this.#queues.get(frontend);
    if (!q?.length && this.#tryStart(socket, frontend)) return;
    if ((q?.length ?? 0) >= Math.max(maxQueue, MIN_QUEUE)) {
      socket.destroy();
      return;
    }
    if (q) q.push(socket);
    else this.#queues.set(frontend, [socket]);
    this.#queued++;
    this.#wait();
  }

  /** Retry every waiting connection (a slot freed, or a reload changed the limits). */
  pump(): void {
    for (const [frontend, q] of this.#queues) {
      while (q.length) {
        const socket = q[0]!;
        if (!socket.destroyed && !this.#tryStart(socket, frontend)) break;
        q.shift();
        this.#queued--;
      }
      if (!q.length) this.#queues.delete(frontend);
    }
    if (this.#queued) this.#wait();
  }

  /** Close every waiting connection (hard stop). */
  destroyQueued(): void {
    for (const q of this.#queues.values()) for (const s of q) s.destroy();
    this.#queues.clear();
    this.#queued = 0;
  }

  /** Hand the socket to its engine unless the global or the frontend limit is reached (false). */
  #tryStart(socket: net.Socket, frontend: string): boolean {
    const plan = this.#getPlan();
    const fe = plan.frontendsByName.get(frontend);
    if (!fe) {
      // The frontend left the config while this connection waited.
      socket.destroy();
      return true;
    }
    const c = plan.counters;
    const g = plan.globalSlot;
    if (plan.maxconn > 0 && c.gauge(g, G.scur) >= plan.maxconn) return false;
    if (fe.maxconn > 0 && c.gauge(fe.slot, G.scur) >= fe.maxconn) return false;
    this.#dispatch(socket, fe, plan);
    if (plan.maxconn > 0 || fe.maxconn > 0 || this.#queued) {
      // Registered after the engine's own 'close' listener: runs once it has left its slots.
      socket.once('close', () => {
        Atomics.add(c.gauges, g * GAUGES_PER_SLOT + G.wake, 1);
        Atomics.notify(c.gauges, g * GAUGES_PER_SLOT + G.wake);
        if (this.#queued) setImmediate(() => this.pump());
      });
    }
    return true;
  }

  /** Wait (without blocking the thread) for a slot to free in any worker, then pump. */
  #wait(): void {
    if (this.#waiting) return;
    this.#waiting = true;
    const plan = this.#getPlan();
    const idx = plan.globalSlot * GAUGES_PER_SLOT + G.wake;
    const seen = Atomics.load(plan.counters.gauges, idx);
    const result = Atomics.waitAsync(plan.counters.gauges, idx, seen, RETRY_MS);
    const again = () => {
      this.#waiting = false;
      this.pump();
    };
    if (result.async) void result.value.then(again);
    else setImmediate(again);
  }
}
