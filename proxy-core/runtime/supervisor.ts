// The supervisor: proxy-core's main thread. It owns everything that exists once per process
// — the config and its generations, the worker threads, health checks, stats sockets, the
// pid file, the process identity. Client traffic is the data planes' (data-plane.ts): one
// per worker thread, or, with `nbthread 1`, one on this thread beside the supervisor
// (inline.ts: a second isolate would cost 20 MB for nothing).
//
// A generation is one loaded config: its counters buffer (counters.ts), the plan compiled
// here with init=true (server states and weights written once, in the shared gauges), the
// health checker working on that plan. Workers receive the model and the buffer, compile
// the same plan, and serve it (data-plane.ts).
//
//   start   load → compile → spawn nbthread workers → every bind open (a bind failure is
//           fatal) → stats sockets → switch user/group → health checks → pid file.
//   reload  (SIGUSR2/SIGHUP) re-read the files; invalid → [ALERT] lines, the running
//           generation keeps serving; valid → new generation, health states carried over,
//           stats sockets re-pointed, every worker swaps its plan at once; unchanged binds
//           keep their sockets. Reloads run one at a time; signals during one coalesce.
//   crash   a worker that exits is replaced on the same index (same counters region), with
//           backoff against crash loops; the config is re-rolled as a fresh generation
//           (same model, totals copied) so that the sessions the dead thread held stop
//           counting in the shared gauges (maxconn, leastconn).
//   stop    SIGUSR1 soft: workers stop accepting and drain, then exit; SIGTERM/SIGINT hard:
//           workers close everything. Then files are removed (only if still ours) and the
//           process exits 0.

import { chmodSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Plan } from '../compile/plan.ts';
import { compilePlan, countSlots } from '../compile/compile.ts';
import type { ProxyConfig } from '../config/model.ts';
import { formatMessage, loadAndResolve } from '../config/load.ts';
import { HealthChecker } from '../health/checker.ts';
import type { StatsLevel } from '../stats/show-stat.ts';
import { RateSampler } from '../stats/rates.ts';
import { StatsServer } from '../stats/socket.ts';
import { answerCommand } from './commands.ts';
import { compactHeap } from './compact.ts';
import { InlinePlane } from './inline.ts';
import { allocateCounters, Counters, G, GAUGES_PER_SLOT } from './counters.ts';
import { maxconnWarning } from './limits.ts';
import * as log from './log.ts';
import type { BindError, FromWorker, ToWorker, WorkerData } from './messages.ts';
import { removePidFile, writePidFile } from './pidfile.ts';
import { Privileges } from './privileges.ts';

/** The worker entry beside this file: worker.js when running the precompiled copy in dist/
 *  (bin/dist.js), worker.ts when running the sources. */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/**
 * A worker's young generation, capped well below V8's default: a data-plane thread makes
 * short-lived garbage at a high rate (sockets, views), and an uncapped young generation
 * grows with it. Measured with the bench config on the dev machine: peak RSS after 10 s of
 * new-connection or 1 MiB traffic went from 175-220 MB to about 105 MB, with no more CPU
 * per request (scavenges get more frequent and cheaper).
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/** A data plane's thread, or the main thread's own plane (inline.ts), as the supervisor sees it. */
interface PlaneThread {
  postMessage(msg: ToWorker): void;
  terminate(): Promise<number>;
  on(event: 'message', listener: (msg: FromWorker) => void): unknown;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  once(event: 'exit', listener: (code: number) => void): unknown;
}

/** A hard stop waits this long for workers to close before terminating them. */
const STOP_GRACE_MS = 2_000;
/** A worker that lived less than this before dying counts towards crash-loop backoff. */
const QUICK_CRASH_MS = 10_000;
const MAX_RESTART_DELAY_MS = 10_000;

export interface SupervisorOptions {
  files: string[];
  localPeer?: string;
  /** `-p`; overrides the global `pidfile`. */
  pidFile?: string;
  quiet: boolean;
  verbose: boolean;
  /** Soft stop closes connections still open after this many ms. */
  hardStopAfter: number;
  /** Enables the `test crash-worker <n>` stats command (AMPHORA_TS_TEST_HOOKS=1). */
  testHooks: boolean;
}

/** Start failed; the reasons were already printed. */
export class StartError extends Error {
  readonly code = 'PROXY_CORE_START_FAILED';
}

interface Generation {
  number: number;
  config: ProxyConfig;
  buffer: SharedArrayBuffer;
  slots: number;
  nbthread: number;
  /**
   * Whether the gauges need atomic updates: false when the one plane serving this generation
   * runs on this thread (nbthread 1), so that nothing but this thread reads or writes them.
   */
  atomic: boolean;
  plan: Plan;
  checker: HealthChecker;
  /** Per-second rates for `show stat` / `show info`, sampled here. */
  rates: RateSampler;
}

type Applied = { ok: true; bindErrors: BindError[] } | { ok: false; reason: string };

interface WorkerSlot {
  index: number;
  worker: PlaneThread | undefined;
  /** Last generation this worker reported applied. */
  generation: number;
  startedAt: number;
  /** Consecutive quick crashes (backoff). */
  crashes: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** Waiting for 'applied' of a generation. */
  waiters: Map<number, (r: Applied) => void>;
  /** Why the last worker of this slot failed (uncaught error), for messages. */
  lastError?: string;
}

export class Supervisor {
  readonly #opts: SupervisorOptions;
  readonly #startedAt = Date.now();
  #current: Generation | undefined;
  #slots: WorkerSlot[] = [];
  /** Workers left over after nbthread shrank: draining, not replaced. */
  readonly #retired = new Set<PlaneThread>();
  readonly #stats = new Map<string, StatsServer>();
  #pidFile: string | undefined;
  #privileges: Privileges | undefined;
  #serial: Promise<void> = Promise.resolve();
  #reloadQueued = false;
  #reloadAfterStart = false;
  #started = false;
  #stopping: 'soft' | 'hard' | undefined;
  #finished = false;
  #resolveDone!: (code: number) => void;
  /** Resolves with the exit code once the supervisor has stopped and cleaned up. */
  readonly done: Promise<number> = new Promise((r) => (this.#resolveDone = r));

  constructor(opts: SupervisorOptions) {
    this.#opts = opts;
  }

  /** Load, spawn, bind, serve. Throws StartError (reasons printed) when it cannot. */
  async start(): Promise<void> {
    const config = await this.#load();
    if (!config) throw new StartError('invalid configuration');
    const fdWarning = maxconnWarning(config.global.maxconn);
    if (fdWarning) log.warning(fdWarning);

    let gen: Generation;
    try {
      gen = this.#build(config, 1, undefined, false);
    } catch (err) {
      log.alert(`cannot compile the configuration: ${log.errorText(err)}`);
      throw new StartError('compile failed');
    }
    this.#current = gen;

    try {
      this.#slots = Array.from({ length: gen.nbthread }, (_, index) => newSlot(index));
      const results = await Promise.all(this.#slots.map((slot) => this.#spawn(slot, gen)));
      let failed = false;
      const seen = new Set<string>();
      for (const [i, r] of results.entries()) {
        if (!r.ok) {
          log.alert(`worker ${i} failed to start: ${r.reason}`);
          failed = true;
          continue;
        }
        for (const e of r.bindErrors) {
          // Every worker fails the same way on the same bind: say it once.
          const text = `Starting frontend ${e.frontend}: cannot bind socket (${e.reason}) [${e.address}]`;
          if (!seen.has(text)) log.alert(text);
          seen.add(text);
          failed = true;
        }
      }
      if (failed) throw new StartError('bind failed');

      for (const s of gen.config.global.statsSockets) {
        try {
          await this.#openStats(s.path, s.mode, s.level);
        } catch (err) {
          log.alert(`Starting proxy GLOBAL: cannot bind UNIX socket (${log.errorText(err)}) [${s.path}]`);
          throw new StartError('stats socket failed');
        }
      }

      this.#privileges = new Privileges(gen.config.global.user, gen.config.global.group);
      try {
        const w = this.#privileges.drop();
        if (w) log.warning(w);
      } catch (err) {
        log.alert(log.errorText(err));
        throw new StartError('privileges');
      }

      gen.checker.start();
      gen.rates.start();

      // Last: the pid file says "serving" (the agent and -D rely on it). Written as root, like
      // HAProxy's, whose directory is usually root's.
      const pidFile = this.#opts.pidFile ?? gen.config.global.pidfile;
      if (pidFile) {
        try {
          await this.#privileges.asRoot(() => writePidFile(pidFile));
          this.#pidFile = pidFile;
        } catch (err) {
          log.alert(`cannot write the pid file ${pidFile}: ${log.errorText(err)}`);
          throw new StartError('pid file failed');
        }
      }
    } catch (err) {
      await this.#shutdown('hard');
      throw err instanceof StartError ? err : new StartError(log.errorText(err));
    }
    this.#started = true;
    const threads = gen.nbthread === 1 ? 'on the main thread' : `with ${gen.nbthread} worker threads`;
    log.notice(`serving generation 1 ${threads} from ${this.#opts.files.join(', ')}`);
    // Start-up garbage out (compact.ts); the workers did theirs once their binds were open. A
    // plane on this thread did it for this heap, at the same point.
    if (!(this.#slots[0]?.worker instanceof InlinePlane)) compactHeap();
    if (this.#stopping) {
      // A stop signal arrived while starting.
      const how = this.#stopping;
      this.#stopping = undefined;
      if (how === 'soft') this.softStop();
      else this.stop();
    } else if (this.#reloadAfterStart) {
      this.reload();
    }
  }

  /** Re-read the files and switch to them if valid (SIGUSR2/SIGHUP). */
  reload(): void {
    if (!this.#started) {
      this.#reloadAfterStart = true; // start() reloads once it serves
      return;
    }
    if (this.#stopping || this.#reloadQueued) return;
    this.#reloadQueued = true;
    this.#enqueue(async () => {
      this.#reloadQueued = false;
      if (this.#stopping) return;
      await this.#privileges!.asRoot(() => this.#reload());
    });
  }

  /** SIGUSR1: stop accepting, let connections finish, exit. */
  softStop(): void {
    if (this.#stopping) return;
    this.#stopping = 'soft';
    if (!this.#started) return; // start() calls us again once it has finished
    log.notice('soft stop: no new connections, waiting for the open ones to finish');
    void this.#shutdown('soft');
  }

  /** SIGTERM/SIGINT: close everything now, exit. */
  stop(): void {
    if (this.#stopping === 'hard') return;
    this.#stopping = 'hard';
    if (!this.#started) return;
    void this.#shutdown('hard');
  }

  // ------------------------------------------------------------------------- generations

  /** loadAndResolve with its messages printed; the config, or undefined when invalid. */
  async #load(): Promise<ProxyConfig | undefined> {
    const res = await loadAndResolve(this.#opts.files, { localPeer: this.#opts.localPeer });
    for (const w of res.warnings) log.line('WARNING', formatMessage('WARNING', w));
    for (const e of res.errors) log.line('ALERT', formatMessage('ALERT', e));
    return res.errors.length === 0 ? res.config : undefined;
  }

  #build(config: ProxyConfig, number: number, previous: Generation | undefined, carryTotals: boolean): Generation {
    const nbthread = Math.max(1, config.global.nbthread ?? 1);
    const slots = countSlots(config);
    const buffer = allocateCounters(slots, nbthread);
    // Worker 0 is this thread's own plane with nbthread 1, unless it was spawned as a worker
    // thread under an earlier generation (a slot keeps what it was spawned as: #spawn()).
    const worker0 = this.#slots[0]?.worker;
    const atomic = nbthread > 1 || (worker0 !== undefined && !(worker0 instanceof InlinePlane));
    // The supervisor's totals region is the last one (checks count there).
    const counters = new Counters(buffer, slots, nbthread, atomic);
    if (carryTotals && previous && previous.slots === slots && previous.nbthread === nbthread) {
      copyCounters(previous.plan.counters, counters);
    }
    const plan = compilePlan(config, counters, number, true);
    const checker = new HealthChecker(plan, previous?.checker);
    // HAProxy prints server transitions as warnings, a backend left without servers as an alert.
    checker.onEvent = (e) => (e.server === undefined && !e.up ? log.alert(e.message) : log.warning(e.message));
    return { number, config, buffer, slots, nbthread, atomic, plan, checker, rates: new RateSampler(counters) };
  }

  async #reload(): Promise<void> {
    const old = this.#current!;
    log.notice(`reloading ${this.#opts.files.join(', ')}`);
    const config = await this.#load();
    if (!config) {
      log.alert(`reload failed: the configuration is not valid; still serving generation ${old.number}`);
      return;
    }
    let gen: Generation;
    try {
      gen = this.#build(config, old.number + 1, old, false);
    } catch (err) {
      log.alert(`reload failed: cannot compile the configuration (${log.errorText(err)}); still serving generation ${old.number}`);
      return;
    }
    const fdWarning = maxconnWarning(config.global.maxconn);
    if (fdWarning && config.global.maxconn !== old.config.global.maxconn) log.warning(fdWarning);
    await this.#switchTo(gen, old);
    log.notice(`reloaded: serving generation ${gen.number}`);
  }

  /** The same config again on fresh counters (after a worker died holding sessions). */
  async #recount(): Promise<void> {
    const old = this.#current!;
    let gen: Generation;
    try {
      gen = this.#build(old.config, old.number + 1, old, true);
    } catch (err) {
      log.alert(`cannot recompile after a worker exit: ${log.errorText(err)}`);
      return;
    }
    await this.#switchTo(gen, old);
  }

  async #switchTo(gen: Generation, old: Generation): Promise<void> {
    await this.#applyStats(gen.config);
    old.checker.stop();
    old.rates.stop();
    gen.checker.start();
    gen.rates.start();
    this.#current = gen;

    // nbthread may change: spawn the missing workers, retire the surplus ones (they drain).
    // A retired worker closes its listening sockets: connections waiting in their accept
    // queues at that instant are reset by the kernel unless net.ipv4.tcp_migrate_req=1 (the
    // same as HAProxy's old process on a reload without fd passing).
    while (this.#slots.length > gen.nbthread) {
      const slot = this.#slots.pop()!;
      clearTimeout(slot.restartTimer);
      if (slot.worker) {
        this.#retired.add(slot.worker);
        slot.worker.postMessage({ type: 'soft-stop' } satisfies ToWorker);
      }
    }
    const rollouts: Promise<Applied>[] = [];
    for (let i = 0; i < gen.nbthread; i++) {
      let slot = this.#slots[i];
      if (!slot) {
        slot = newSlot(i);
        this.#slots.push(slot);
        rollouts.push(this.#spawn(slot, gen));
      } else if (slot.worker) {
        rollouts.push(this.#send(slot, gen));
      }
      // A slot waiting for its restart gets the current generation when it spawns.
    }
    const seen = new Set<string>();
    for (const r of await Promise.all(rollouts)) {
      if (!r.ok) continue; // an exited worker is replaced with the current generation
      for (const e of r.bindErrors) {
        const text = `Starting frontend ${e.frontend}: cannot bind socket (${e.reason}) [${e.address}]`;
        if (!seen.has(text)) log.alert(text);
        seen.add(text);
      }
    }
  }

  #enqueue(task: () => Promise<void>): void {
    this.#serial = this.#serial.then(task).catch((err) => log.alert(`supervisor: ${log.errorText(err)}`));
  }

  // ----------------------------------------------------------------------------- workers

  #spawn(slot: WorkerSlot, gen: Generation): Promise<Applied> {
    // A stop that came while a reload or a replacement was under way: no new workers.
    if (this.#stopping && this.#started) return Promise.resolve({ ok: false, reason: 'stopping' });
    const data: WorkerData = {
      index: slot.index,
      quiet: this.#opts.quiet,
      verbose: this.#opts.verbose,
      hardStopAfter: this.#opts.hardStopAfter,
    };
    // One thread in all: worker 0 is the main thread's own plane. A slot keeps what it was
    // spawned as across reloads (nbthread 1 → 3 adds workers 1 and 2 beside it; replacing a
    // plane would close its listening sockets and reset what waits in their accept queues).
    const worker: PlaneThread =
      slot.index === 0 && gen.nbthread === 1
        ? new InlinePlane(data)
        : new Worker(WORKER_URL, {
            workerData: data,
            name: `proxy-core worker ${slot.index}`,
            resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
          });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.lastError = undefined;
    worker.on('message', (msg: FromWorker) => this.#onMessage(slot, worker, msg));
    worker.on('error', (err) => {
      slot.lastError = err instanceof Error ? (err.stack ?? err.message) : String(err);
    });
    worker.on('exit', (code) => this.#onExit(slot, worker, code));
    return this.#send(slot, gen);
  }

  #send(slot: WorkerSlot, gen: Generation): Promise<Applied> {
    const worker = slot.worker!;
    return new Promise((resolve) => {
      slot.waiters.set(gen.number, resolve);
      const msg: ToWorker = { type: 'plan', generation: gen.number, config: gen.config, buffer: gen.buffer, slots: gen.slots, atomic: gen.atomic };
      worker.postMessage(msg);
    });
  }

  #onMessage(slot: WorkerSlot, worker: PlaneThread, msg: FromWorker): void {
    if (slot.worker !== worker) return;
    const waiter = slot.waiters.get(msg.generation);
    slot.waiters.delete(msg.generation);
    if (msg.type === 'applied') {
      slot.generation = msg.generation;
      waiter?.({ ok: true, bindErrors: msg.bindErrors });
    } else {
      log.alert(`worker ${slot.index} could not compile generation ${msg.generation}: ${msg.message}`);
      waiter?.({ ok: false, reason: msg.message });
    }
  }

  #onExit(slot: WorkerSlot, worker: PlaneThread, code: number): void {
    if (this.#retired.delete(worker)) {
      this.#exitIfIdle();
      return;
    }
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const reason = slot.lastError ? `: ${slot.lastError}` : '';
    for (const w of slot.waiters.values()) w({ ok: false, reason: `exited with code ${code}${reason}` });
    slot.waiters.clear();
    if (this.#stopping || !this.#started) {
      this.#exitIfIdle();
      return;
    }
    slot.crashes = Date.now() - slot.startedAt < QUICK_CRASH_MS ? slot.crashes + 1 : 1;
    const delay = slot.crashes <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** slot.crashes);
    log.alert(`worker ${slot.index} exited with code ${code}${reason}; replacing it${delay ? ` in ${delay} ms` : ''}`);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      this.#enqueue(() =>
        // Root again while the replacement opens its binds (a port below 1024 needs it).
        this.#privileges!.asRoot(async () => {
          if (this.#stopping || !this.#slots.includes(slot)) return;
          // Recount first (fresh gauges for the live workers), then start the replacement on it.
          await this.#recount();
          if (this.#stopping || slot.worker || !this.#slots.includes(slot)) return;
          const r = await this.#spawn(slot, this.#current!);
          if (r.ok) log.notice(`worker ${slot.index} replaced`);
          for (const e of r.ok ? r.bindErrors : []) {
            log.alert(`Starting frontend ${e.frontend}: cannot bind socket (${e.reason}) [${e.address}]`);
          }
        }),
      );
    }, delay);
  }

  // ------------------------------------------------------------------------ stats sockets

  async #openStats(path: string, mode: number | undefined, level: StatsLevel): Promise<void> {
    const server = new StatsServer(path, mode, (cmd: string) => this.#answer(cmd, level));
    await server.listen();
    this.#stats.set(path, server);
  }

  /** Open the sockets of a new config, close the ones it no longer names. */
  async #applyStats(config: ProxyConfig): Promise<void> {
    const wanted = new Map(config.global.statsSockets.map((s) => [s.path, s]));
    for (const [path, server] of this.#stats) {
      if (wanted.has(path)) continue;
      this.#stats.delete(path);
      await server.close();
    }
    for (const [path, s] of wanted) {
      const open = this.#stats.get(path);
      if (!open) {
        try {
          await this.#openStats(path, s.mode, s.level);
        } catch (err) {
          log.alert(`Starting proxy GLOBAL: cannot bind UNIX socket (${log.errorText(err)}) [${path}]`);
        }
        continue;
      }
      // Same path: keep the socket (clients connected to it stay), take the new mode and level.
      open.answer = (cmd: string) => this.#answer(cmd, s.level);
      if (s.mode !== undefined) {
        try {
          chmodSync(path, s.mode);
        } catch {}
      }
    }
  }

  #answer(cmd: string, level: StatsLevel): Promise<string> | string {
    const gen = this.#current!;
    return answerCommand(cmd, {
      plan: gen.plan,
      checker: gen.checker,
      rates: gen.rates,
      level,
      info: { pid: process.pid, startedAt: this.#startedAt, nbthread: gen.nbthread, stopping: this.#stopping === 'soft' },
      extra: this.#opts.testHooks ? (words) => this.#testCommand(words) : undefined,
    });
  }

  /** `test crash-worker <n>`: make worker n throw; answers once it has exited (its sockets closed). */
  #testCommand(words: string[]): Promise<string> | undefined {
    if (words[0] !== 'test' || words[1] !== 'crash-worker') return undefined;
    const slot = this.#slots[Number(words[2] ?? 0)];
    const worker = slot?.worker;
    if (!slot || !worker) return Promise.resolve(`no running worker ${words[2]}\n`);
    if (worker instanceof InlinePlane) return Promise.resolve(`worker ${slot.index} is the main thread (nbthread 1): nothing to crash\n`);
    return new Promise((resolve) => {
      worker.once('exit', () => resolve(`worker ${slot.index} exited\n`));
      worker.postMessage({ type: 'crash' } satisfies ToWorker);
    });
  }

  // ------------------------------------------------------------------------------- stop

  async #shutdown(how: 'soft' | 'hard'): Promise<void> {
    this.#stopping = how;
    const workers = [...this.#slots.map((s) => s.worker), ...this.#retired].filter((w): w is PlaneThread => !!w);
    for (const slot of this.#slots) clearTimeout(slot.restartTimer);
    for (const w of workers) w.postMessage({ type: how === 'soft' ? 'soft-stop' : 'stop' } satisfies ToWorker);
    const hardStopAfter = this.#current?.config.global.hardStopAfter ?? this.#opts.hardStopAfter;
    const bound = how === 'soft' ? hardStopAfter + STOP_GRACE_MS : STOP_GRACE_MS;
    setTimeout(() => {
      for (const w of workers) void w.terminate();
    }, bound).unref();
    this.#exitIfIdle();
    await this.done;
  }

  #exitIfIdle(): void {
    if (!this.#stopping || this.#finished) return;
    if (this.#slots.some((s) => s.worker) || this.#retired.size) return;
    this.#finished = true;
    void this.#cleanup().then(() => this.#resolveDone(0));
  }

  async #cleanup(): Promise<void> {
    this.#privileges?.restore();
    this.#current?.checker.stop();
    this.#current?.rates.stop();
    // StatsServer.close() removes the file only while it is still ours (a -sf successor's stays).
    for (const server of this.#stats.values()) await server.close().catch(() => {});
    this.#stats.clear();
    if (this.#pidFile) removePidFile(this.#pidFile);
  }
}

function newSlot(index: number): WorkerSlot {
  return { index, worker: undefined, generation: 0, startedAt: 0, crashes: 0, restartTimer: undefined, waiters: new Map() };
}

/** Carry totals (every region) and high-water marks into a fresh buffer of the same layout. */
function copyCounters(from: Counters, to: Counters): void {
  to.allTotals.set(from.allTotals);
  for (let slot = 0; slot < from.slots; slot++) {
    for (const cell of [G.smax, G.qmax]) {
      to.gauges[slot * GAUGES_PER_SLOT + cell] = from.gauge(slot, cell);
    }
  }
}
