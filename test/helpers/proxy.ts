// Run the real `proxy-core` command (bin/proxy-core.js) in tests: write a config into a temp
// dir, start it as a child process, wait until it serves, signal it, stop it, clean up.
//
//   const proxy = await startProxy((dir) => `global\n  stats socket ${dir}/s.sock\n...`);
//   await proxy.reload(newText);            // SIGUSR2, resolves when the new generation serves
//   await proxy.stop();                     // SIGTERM, wait for exit, remove the temp dir
//
// Readiness is the pid file: proxy-core writes it only once every bind of every worker is
// open. Every process started here is registered; `stopAllProxies()` in afterEach stops the
// ones a failing test left behind. Runs under the Node that runs the tests (Node 24).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(REPO, 'bin/proxy-core.js');
const live = new Set<ProxyProcess>();
const dirs = new Set<string>();

export function tempDir(prefix = 'proxy-core-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** A loopback port that was free a moment ago (the proxy under test binds it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Node options before the program (bin/proxy-core.js keeps them when it re-executes itself). */
  nodeArgs?: string[];
  /** Run under `ulimit -n N` (lowering the open-file limit). */
  openFileLimit?: number;
  cwd?: string;
}

function spawnCli(args: string[], opts: RunOptions, stdio: 'pipe' | 'ignore-stdin' = 'pipe'): ChildProcess {
  const argv = [...(opts.nodeArgs ?? []), CLI, ...args];
  const env = { ...process.env, ...opts.env };
  const stdioOpt: ('pipe' | 'ignore')[] = stdio === 'pipe' ? ['pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'];
  if (opts.openFileLimit !== undefined) {
    // exec keeps the pid: signals reach proxy-core itself.
    return spawn('/bin/sh', ['-c', `ulimit -n ${opts.openFileLimit} && exec "$0" "$@"`, process.execPath, ...argv], {
      env,
      cwd: opts.cwd ?? REPO,
      stdio: stdioOpt,
    });
  }
  return spawn(process.execPath, argv, { env, cwd: opts.cwd ?? REPO, stdio: stdioOpt });
}

/** Run the command to completion (`-c`, `-D`, usage errors). */
export function runProxyCli(
  args: string[],
  opts: RunOptions & { timeoutMs?: number } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawnCli(args, opts, 'ignore-stdin');
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`proxy-core ${args.join(' ')} did not finish in time; stderr:\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    // 'close', not 'exit': a -D parent's output pipes are shared by nobody else, but wait for them.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface StartOptions extends RunOptions {
  /** Extra command-line words (after `-f config`). `-V` and `-p` are added unless given. */
  args?: string[];
  /** Wait for the pid file (default true). */
  waitReady?: boolean;
  timeoutMs?: number;
}

export class ProxyProcess {
  readonly dir: string;
  readonly configPath: string;
  readonly pidPath: string;
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #generation = 1;

  constructor(dir: string, configPath: string, pidPath: string, child: ChildProcess) {
    this.dir = dir;
    this.configPath = configPath;
    this.pidPath = pidPath;
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.stdout += d));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        resolve(this.#exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Resolves once the pid file names this process; rejects if it exits first. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`proxy-core exited (${JSON.stringify(this.#exit)}) before serving:\n${this.stderr}`);
      try {
        if (readFileSync(this.pidPath, 'utf8').trim() === String(this.pid)) return;
      } catch {}
      await sleep(25);
    }
    throw new Error(`proxy-core did not serve within ${timeoutMs} ms:\n${this.stderr}`);
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** Wait until stderr (from `from` on) matches `re`; returns the match. */
  async waitForStderr(re: RegExp, opts: { from?: number; timeoutMs?: number } = {}): Promise<RegExpMatchArray> {
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      const m = this.stderr.slice(opts.from ?? 0).match(re);
      if (m) return m;
      if (!this.running) break;
      await sleep(20);
    }
    throw new Error(`stderr never matched ${re}:\n${this.stderr}`);
  }

  /**
   * Write a new config (if given), send SIGUSR2 and wait for the outcome (needs -V, which
   * startProxy adds): resolves 'reloaded' or 'failed'.
   */
  async reload(text?: string, opts: { signal?: NodeJS.Signals } = {}): Promise<'reloaded' | 'failed'> {
    if (text !== undefined) writeFileSync(this.configPath, text);
    const from = this.stderr.length;
    this.signal(opts.signal ?? 'SIGUSR2');
    const m = await this.waitForStderr(/reloaded: serving generation (\d+)|reload failed/, { from });
    if (m[1]) this.#generation = Number(m[1]);
    return m[1] ? 'reloaded' : 'failed';
  }

  get generation(): number {
    return this.#generation;
  }

  /** SIGTERM, wait for the exit (SIGKILL after `timeoutMs`), remove the temp dir. */
  async stop(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
    dirs.delete(this.dir);
    return this.#exit!;
  }
}

/**
 * Start proxy-core on `config` (text, or a function of the temp dir for paths inside it),
 * written to `<dir>/haproxy.cfg`. Resolves once it serves unless `waitReady: false`.
 */
export async function startProxy(config: string | ((dir: string) => string), opts: StartOptions = {}): Promise<ProxyProcess> {
  const dir = tempDir();
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, typeof config === 'function' ? config(dir) : config);
  const extra = opts.args ?? [];
  let pidPath = join(dir, 'proxy-core.pid');
  const p = extra.indexOf('-p');
  if (p >= 0) pidPath = extra[p + 1]!;
  const args = ['-f', configPath, ...(p >= 0 ? [] : ['-p', pidPath]), ...(extra.includes('-V') || extra.includes('-q') ? [] : ['-V']), ...extra];
  const proc = new ProxyProcess(dir, configPath, pidPath, spawnCli(args, opts));
  live.add(proc);
  if (opts.waitReady ?? true) await proc.ready(opts.timeoutMs);
  return proc;
}

/** Stop every proxy-core a test started and remove every temp dir (afterEach/afterAll). */
export async function stopAllProxies(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** Is a process with this pid alive? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Poll `cond` every 20 ms until true or `timeoutMs` (bounded loops, no timing assertions). */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Send one command to a stats socket and read the answer until the socket closes. */
export function statsCommand(path: string, cmd: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`stats command '${cmd}' got no complete answer; so far: ${out}`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(cmd + '\n'));
    sock.on('data', (d) => (out += d));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}
