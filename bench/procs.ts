// Child processes of the bench and what /proc says about them.
//
// Every process the bench starts goes through `startProcess`, which puts it in its own
// process group (so a process that forks, or a shell, is stopped whole) and registers it;
// `stopAll` stops every registered group, and `installCleanup` makes sure that happens on a
// normal exit, on an error and on Ctrl-C / SIGTERM.

import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Pid of the started program (also its process-group id). */
  pid: number;
  /** stdout+stderr, last 64 KiB, for error messages. */
  output(): string;
  /** Resolves with the exit code (or signal name) once it has exited. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Proc>();
let interrupted = false;

/** True once Ctrl-C / SIGTERM started the shutdown (errors after that are its echo). */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** Start `cmd args` in its own process group, optionally pinned to `cpus` (taskset -c list). */
export function startProcess(name: string, cmd: string, args: string[], opts: { cpus?: string; cwd?: string; env?: Record<string, string> } = {}): Proc {
  // taskset execs the program, so the pid we get is the program's own pid.
  const [file, argv] = opts.cpus ? ['taskset', ['-c', opts.cpus, cmd, ...args]] : [cmd, args];
  const env = opts.env ? { ...process.env, ...opts.env } : undefined;
  const child = spawn(file, argv, { cwd: opts.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // BENCH_ENGINE_LOG=DIR: every child's whole output also goes to DIR/<name>.log (for
  // --trace-gc and the like through BENCH_NODE_ARGS).
  const logDir = process.env.BENCH_ENGINE_LOG;
  const keep = (b: Buffer) => {
    if (logDir) appendFileSync(`${logDir}/${name}.log`, b);
    out += b.toString('latin1');
    if (out.length > 65536) out = out.slice(-65536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (err) => {
      out += `\nspawn error: ${err.message}`;
      resolve('spawn-error');
    });
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const pid = child.pid;
  let gone = false;
  exited.then(() => {
    gone = true;
    running.delete(proc);
  });
  const proc: Proc = {
    name,
    child,
    pid,
    output: () => out,
    exited,
    async stop(graceMs = 3000) {
      if (gone) return;
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // The leader is gone; anything it left in its group goes too.
      killGroup(pid, 'SIGKILL');
    },
  };
  running.add(proc);
  return proc;
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** Stop every process the bench started (in reverse start order). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].reverse().map((p) => p.stop()));
}

/** Stop children on exit, error and Ctrl-C. Call once at start. */
export function installCleanup(): void {
  // 'exit' handlers must be synchronous: SIGKILL whatever is still registered.
  process.on('exit', () => {
    for (const p of running) killGroup(p.pid, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      interrupted = true;
      process.stderr.write(`\nbench: ${sig}, stopping children\n`);
      stopAll().finally(() => process.exit(130));
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    stopAll().finally(() => process.exit(1));
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? err}\n`);
    stopAll().finally(() => process.exit(1));
  });
}

/** A free loopback TCP port (listen(0), then close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolve once 127.0.0.1:`port` accepts a connection; reject if `proc` exits or after `timeoutMs`. */
export async function waitForPort(port: number, proc: Proc, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  proc.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${proc.name} exited before serving on ${port}:\n${proc.output()}`);
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`${proc.name} not serving on ${port} after ${timeoutMs} ms:\n${proc.output()}`);
    await sleep(100);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- /proc readings ------------------------------------------------------------------------

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** `pid` and all its descendants (by ppid), so a proxy that forks is measured whole. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

function readStat(pid: number): { ppid: number; utime: number; stime: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15 (process totals: all threads).
  return { ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
}

/** CPU seconds (user+system, all threads) used so far by `pid` and its descendants. */
export function cpuSeconds(pid: number): { total: number; sys: number } {
  let user = 0;
  let sys = 0;
  for (const p of processTree(pid)) {
    const s = readStat(p);
    if (s) {
      user += s.utime;
      sys += s.stime;
    }
  }
  return { total: (user + sys) / CLK_TCK, sys: sys / CLK_TCK };
}

/** Sum of a /proc/<pid>/status field in kB (VmRSS, VmHWM) over `pid` and its descendants. */
export function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${p}/status`, 'latin1'));
      if (m) kb += Number(m[1]);
    } catch {
      // exited meanwhile
    }
  }
  return kb;
}

/** Number of threads of `pid` (for the report). */
export function threadCount(pid: number): number {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
