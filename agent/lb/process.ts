// The process service manager: the agent spawns each LB's engine itself and keeps it alive.
//
// - The engine runs detached (its own process group, stdio to BASE/<lb_id>/engine.log), so
//   it outlives the agent: the data plane never depends on the agent being up.
// - An engine the agent spawned is watched through its exit event; one found running after an
//   agent restart (pid file + /proc/<pid>/cmdline naming its config) is adopted and watched
//   by polling. Either way an unexpected death is followed by a restart, with a backoff while
//   it keeps dying quickly.
// - reload = validate the stored config, then SIGUSR2 (HAProxy master-worker re-executes
//   and hands its listeners to the new worker; proxy-core swaps its plan): no connection is
//   dropped. The reload is answered once the engine's log says it was applied or refused.
//   stop = SIGTERM to the process group, SIGKILL after a grace period.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, statSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { ServiceActionError } from '../errors.ts';
import type { EngineSpec } from './engine.ts';
import type { Logger } from './log.ts';
import type { KeyedMutex } from './mutex.ts';
import type { ServiceManager } from './service.ts';
import { canConnect } from './stats.ts';
import { type LoadBalancerStore, pidAlive } from './store.ts';

export interface ProcessManagerOptions {
  /** How long start waits for the engine to serve (default 15 s). */
  startTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL on stop (default 10 s). */
  stopTimeoutMs?: number;
  /** Poll interval for adopted engines (default 1 s). */
  pollMs?: number;
  /** First restart delay; doubles while the engine keeps dying within `stableMs` (default 250 ms). */
  restartDelayMs?: number;
  /** Longest restart delay (default 30 s). */
  maxRestartDelayMs?: number;
  /** An engine that ran this long resets the backoff (default 10 s). */
  stableMs?: number;
}

interface Instance {
  lbId: string;
  pid: number;
  /** Set when this agent spawned it (exit event); unset when adopted (polled). */
  child?: ChildProcess;
  poll?: NodeJS.Timeout;
  startedAt: number;
  /** start() or stop() is handling this instance: its exit is not a crash. */
  starting: boolean;
  stopping: boolean;
  exited: boolean;
}

const SETTLE_POLL_MS = 50;
const LOG_TAIL = 8 * 1024;
const LOG_SCAN = 256 * 1024;
/** Re-send SIGUSR2 when the engine has not acknowledged it after this long, at most RELOAD_SENDS times. */
const RELOAD_ACK_MS = 1000;
const RELOAD_SENDS = 5;
/** engine.log is moved aside to engine.log.1 past this size when a new engine is spawned. */
const LOG_ROTATE_BYTES = 1024 * 1024;

export class ProcessServiceManager implements ServiceManager {
  readonly kind = 'process' as const;
  private readonly store: LoadBalancerStore;
  private readonly engine: EngineSpec;
  private readonly defaultPeer: () => string;
  private readonly mutex: KeyedMutex;
  private readonly log: Logger;
  private readonly opts: Required<ProcessManagerOptions>;
  private readonly instances = new Map<string, Instance>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private closed = false;

  /** `defaultPeer` names the local peer of an LB stored without one (uploaded by another agent). */
  constructor(
    store: LoadBalancerStore,
    engine: EngineSpec,
    defaultPeer: () => string,
    mutex: KeyedMutex,
    log: Logger,
    options: ProcessManagerOptions = {},
  ) {
    this.store = store;
    this.engine = engine;
    this.defaultPeer = defaultPeer;
    this.mutex = mutex;
    this.log = log;
    this.opts = {
      startTimeoutMs: options.startTimeoutMs ?? 15_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 10_000,
      pollMs: options.pollMs ?? 1_000,
      restartDelayMs: options.restartDelayMs ?? 250,
      maxRestartDelayMs: options.maxRestartDelayMs ?? 30_000,
      stableMs: options.stableMs ?? 10_000,
    };
  }

  async install(_lbId: string): Promise<void> {}

  async uninstall(lbId: string): Promise<void> {
    this.cancelRestart(lbId);
    this.failures.delete(lbId);
  }

  isRunning(lbId: string): boolean {
    const inst = this.instances.get(lbId);
    if (inst && !inst.exited && pidAlive(inst.pid)) return true;
    const pid = this.store.pid(lbId);
    return pid !== undefined && pidAlive(pid) && this.isOurEngine(pid, lbId);
  }

  /** The pid of the engine this manager watches for the LB (tests, logs). */
  pidOf(lbId: string): number | undefined {
    const inst = this.instances.get(lbId);
    return inst && !inst.exited ? inst.pid : undefined;
  }

  async adopt(lbId: string): Promise<boolean> {
    const known = this.instances.get(lbId);
    if (known && !known.exited && pidAlive(known.pid)) return true;
    const pid = this.store.pid(lbId);
    if (pid === undefined || !pidAlive(pid) || !this.isOurEngine(pid, lbId)) return false;
    const inst: Instance = { lbId, pid, startedAt: Date.now(), starting: false, stopping: false, exited: false };
    inst.poll = setInterval(() => {
      if (!pidAlive(inst.pid)) this.onExit(inst, 'it is gone');
    }, this.opts.pollMs);
    inst.poll.unref();
    this.instances.set(lbId, inst);
    this.log.info(`adopted running ${this.engine.name} for load balancer ${lbId} (pid ${pid})`);
    return true;
  }

  async start(lbId: string): Promise<void> {
    this.cancelRestart(lbId);
    if (await this.adopt(lbId)) return;
    const configPath = this.store.configPath(lbId);
    const pidFile = this.store.pidPath(lbId);
    const peer = this.store.peer(lbId) ?? this.defaultPeer();
    const cmd = this.engine.runCommand([configPath, this.store.userGroupPath], peer, pidFile);
    await unlink(pidFile).catch(() => {});

    const logPath = this.store.engineLogPath(lbId);
    if (fileSize(logPath) > LOG_ROTATE_BYTES) renameSync(logPath, `${logPath}.1`);
    const fd = openSync(logPath, 'a', 0o640);
    const logOffset = fileSize(logPath);
    let child: ChildProcess;
    try {
      child = spawn(cmd.file, cmd.args, {
        cwd: this.store.lbDir(lbId),
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    child.unref();
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    if (child.pid === undefined) {
      const err = await spawnError;
      throw new ServiceActionError('start', `cannot run ${cmd.file}: ${err.message}`);
    }
    const inst: Instance = { lbId, pid: child.pid, child, startedAt: Date.now(), starting: true, stopping: false, exited: false };
    let exitNote = '';
    child.once('exit', (code, signal) => {
      exitNote = signal ? `killed by ${signal}` : `exit code ${code}`;
      this.onExit(inst, exitNote);
    });
    this.instances.set(lbId, inst);
    this.log.info(`started ${this.engine.name} for load balancer ${lbId} (pid ${child.pid}): ${cmd.file} ${cmd.args.join(' ')}`);

    try {
      await this.waitServing(inst, configPath, pidFile, logPath, logOffset);
    } catch (e) {
      inst.stopping = true;
      if (!inst.exited) await this.terminate(inst);
      const output = this.logTail(logPath, logOffset);
      const reason = inst.exited ? `${this.engine.name} exited (${exitNote})` : (e as Error).message;
      throw new ServiceActionError('start', `${reason}\n${output}`.trim());
    } finally {
      inst.starting = false;
    }
  }

  async reload(lbId: string): Promise<void> {
    if (!(await this.adopt(lbId))) {
      await this.start(lbId);
      return;
    }
    const inst = this.instances.get(lbId)!;
    const peer = this.store.peer(lbId) ?? this.defaultPeer();
    const check = await this.engine.check([this.store.configPath(lbId), this.store.userGroupPath], peer, true);
    if (!check.ok) throw new ServiceActionError('reload', check.output);
    await this.signalReload(inst);
  }

  /** SIGUSR2, then follow the engine's log until it says the reload was applied or refused.
   *  Waiting also keeps the next reload of this LB (the caller holds its lock) from reaching
   *  HAProxy's master while it re-executes itself, which a second SIGUSR2 would kill. */
  private async signalReload(inst: Instance): Promise<void> {
    const markers = this.engine.markers;
    const logPath = this.store.engineLogPath(inst.lbId);
    const offset = fileSize(logPath);
    const deadline = Date.now() + this.opts.startTimeoutMs;
    let sentAt = Date.now();
    let sends = 1;
    signal(inst.pid, 'SIGUSR2');
    while (Date.now() < deadline) {
      await sleep(SETTLE_POLL_MS);
      if (inst.exited || !pidAlive(inst.pid)) {
        throw new ServiceActionError('reload', `${this.engine.name} exited during the reload\n${this.logTail(logPath, offset)}`.trim());
      }
      let text = this.logTail(logPath, offset, LOG_SCAN);
      if (markers.reloadAck) {
        const at = text.search(markers.reloadAck);
        if (at < 0) {
          if (Date.now() - sentAt >= RELOAD_ACK_MS && sends < RELOAD_SENDS) {
            sends++;
            sentAt = Date.now();
            signal(inst.pid, 'SIGUSR2');
          }
          continue;
        }
        text = text.slice(at);
      }
      if (markers.reloadFailed.test(text)) throw new ServiceActionError('reload', text.trim());
      if (markers.reloaded.test(text)) return;
    }
    throw new ServiceActionError(
      'reload',
      `${this.engine.name} (pid ${inst.pid}) did not confirm the reload within ${this.opts.startTimeoutMs / 1000} s\n${this.logTail(logPath, offset)}`.trim(),
    );
  }

  async stop(lbId: string): Promise<void> {
    this.cancelRestart(lbId);
    await this.adopt(lbId);
    const inst = this.instances.get(lbId);
    if (inst && !inst.exited) {
      inst.stopping = true;
      await this.terminate(inst);
      if (!inst.exited && pidAlive(inst.pid)) {
        throw new ServiceActionError('stop', `${this.engine.name} (pid ${inst.pid}) did not exit after SIGKILL`);
      }
      this.log.info(`stopped ${this.engine.name} for load balancer ${lbId}`);
    }
    this.instances.delete(lbId);
    await unlink(this.store.pidPath(lbId)).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.restartTimers.clear();
    for (const inst of this.instances.values()) {
      if (inst.poll) clearInterval(inst.poll);
      inst.child?.removeAllListeners('exit');
    }
    this.instances.clear();
  }

  // ------------------------------------------------------------------------------ internals

  /** The engine died. Unless start/stop handles it, restart it (with backoff) if still wanted. */
  private onExit(inst: Instance, how: string): void {
    if (inst.exited) return;
    inst.exited = true;
    if (inst.poll) clearInterval(inst.poll);
    if (this.instances.get(inst.lbId) === inst) this.instances.delete(inst.lbId);
    if (inst.starting || inst.stopping || this.closed) return;
    // What the dead engine leaves in its process group (HAProxy workers of a killed master)
    // still holds the listeners: clear it before a new engine binds them.
    signalGroup(inst.pid, 'SIGTERM');
    const ranMs = Date.now() - inst.startedAt;
    const failures = ranMs < this.opts.stableMs ? (this.failures.get(inst.lbId) ?? 0) + 1 : 1;
    this.failures.set(inst.lbId, failures);
    const delay = Math.min(this.opts.maxRestartDelayMs, this.opts.restartDelayMs * 2 ** (failures - 1));
    this.log.warning(
      `${this.engine.name} for load balancer ${inst.lbId} (pid ${inst.pid}) died unexpectedly (${how}); restarting in ${delay} ms`,
    );
    this.scheduleRestart(inst.lbId, delay);
  }

  private scheduleRestart(lbId: string, delay: number): void {
    this.cancelRestart(lbId);
    const timer = setTimeout(() => {
      this.restartTimers.delete(lbId);
      void this.mutex.run(lbId, async () => {
        if (this.closed || !this.store.exists(lbId) || !this.store.shouldRun(lbId)) return;
        if (this.isRunning(lbId) && (await this.adopt(lbId))) return;
        try {
          await this.start(lbId);
        } catch (e) {
          const failures = (this.failures.get(lbId) ?? 0) + 1;
          this.failures.set(lbId, failures);
          const next = Math.min(this.opts.maxRestartDelayMs, this.opts.restartDelayMs * 2 ** (failures - 1));
          this.log.error(`restart of load balancer ${lbId} failed (${(e as Error).message}); next try in ${next} ms`);
          this.scheduleRestart(lbId, next);
        }
      });
    }, delay);
    timer.unref();
    this.restartTimers.set(lbId, timer);
  }

  private cancelRestart(lbId: string): void {
    const t = this.restartTimers.get(lbId);
    if (t) clearTimeout(t);
    this.restartTimers.delete(lbId);
  }

  /** Serving = alive, pid file written, and (when the config has one) the stats socket
   *  accepting connections: both engines bind it in the same step as the listeners. */
  private async waitServing(inst: Instance, configPath: string, pidFile: string, logPath: string, logOffset: number): Promise<void> {
    const text = readFileSync(configPath, 'utf8');
    const socket = /stats socket\s+(\S+)/.exec(text)?.[1];
    const started = this.engine.markers.started;
    const deadline = Date.now() + this.opts.startTimeoutMs;
    while (Date.now() < deadline) {
      if (inst.exited) throw new Error('exited during start');
      const logReady = started === undefined || started.test(this.logTail(logPath, logOffset, LOG_SCAN));
      const socketReady = logReady && (socket === undefined || (await canConnect(socket)));
      if (inst.exited) throw new Error('exited during start');
      if (socketReady) {
        const pid = readPid(pidFile);
        if (pid !== undefined && pidAlive(pid)) return;
        // An engine that does not write its pid file (or not yet): record the one we spawned.
        if (socket !== undefined || Date.now() - inst.startedAt > 1000) {
          await writeFile(pidFile, `${inst.pid}\n`, { mode: 0o644 });
          return;
        }
      }
      await sleep(SETTLE_POLL_MS);
    }
    throw new Error(`${this.engine.name} did not start serving within ${this.opts.startTimeoutMs / 1000} s`);
  }

  /** SIGTERM the engine (its process group: HAProxy workers too), SIGKILL after the grace period. */
  private async terminate(inst: Instance): Promise<void> {
    signalGroup(inst.pid, 'SIGTERM');
    if (await this.waitGone(inst, this.opts.stopTimeoutMs)) return;
    this.log.warning(`${this.engine.name} pid ${inst.pid} ignored SIGTERM for ${this.opts.stopTimeoutMs} ms: SIGKILL`);
    signalGroup(inst.pid, 'SIGKILL');
    await this.waitGone(inst, 5_000);
  }

  private async waitGone(inst: Instance, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (inst.exited || !pidAlive(inst.pid)) {
        // Our own child: let its exit event run so `exited` is set before we go on.
        if (inst.child && !inst.exited) await sleep(SETTLE_POLL_MS);
        return true;
      }
      await sleep(SETTLE_POLL_MS);
    }
    return false;
  }

  /** The process is this LB's engine (guards against a recycled pid in a stale pid file). */
  private isOurEngine(pid: number, lbId: string): boolean {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return process.platform !== 'linux';
    }
    return cmdline.split('\0').includes(this.store.configPath(lbId));
  }

  /** What the engine logged since byte `from`, at most the last `max` bytes of it. */
  private logTail(path: string, from: number, max = LOG_TAIL): string {
    try {
      const data = readFileSync(path);
      const start = Math.max(from, data.length - max);
      return data.subarray(start).toString('utf8');
    } catch {
      return '';
    }
  }
}

function readPid(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').split('\n')[0].trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Signal the process group led by `pid` (engines are spawned detached), else the process. */
function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    signal(pid, sig);
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
