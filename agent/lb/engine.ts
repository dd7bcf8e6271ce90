// The data-plane engine behind an LB: our proxy-core or a real HAProxy. Both take HAProxy's
// command line (`-f cfg -f usergroup -L peer -p pidfile`, `-c` to validate) and HAProxy's
// signals (SIGUSR2 reload, SIGTERM stop), so everything above this file is one code path; only
// the program and the flags that keep it in the foreground differ.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AgentConfig, Engine } from '../config.ts';

export interface Command {
  file: string;
  args: string[];
}

/** Result of `<engine> -c`. `output` = stdout then stderr, as the validator printed them. */
export interface CheckResult {
  ok: boolean;
  output: string;
}

const CHECK_TIMEOUT_MS = 30_000;
/** How long a successful check of the same bytes is trusted (upload then reload: seconds apart). */
const CHECK_REUSE_MS = 120_000;
const MAX_OUTPUT = 64 * 1024;

/** Lines the engine prints (stdout/stderr, i.e. engine.log under the process manager) that
 *  tell the agent where a start or a reload stands. */
export interface EngineMarkers {
  /** Start finished (else the pid file and the stats socket are the signal). */
  started?: RegExp;
  /** The engine took the reload signal; without it the signal is sent again. */
  reloadAck?: RegExp;
  /** The reload was applied. */
  reloaded: RegExp;
  /** The reload was refused; the old config keeps serving. */
  reloadFailed: RegExp;
}

// HAProxy 2.6 master-worker. Its master drops a SIGUSR2 that arrives in the first moments
// after "Loading success." (measured here), hence the acknowledgement and the re-send.
const HAPROXY_MARKERS: EngineMarkers = {
  started: /Loading success\./,
  reloadAck: /Reloading HAProxy/,
  reloaded: /Loading success\./,
  reloadFailed: /Loading failure!/,
};

// proxy-core's supervisor (proxy-core/runtime/supervisor.ts) queues a SIGUSR2 that arrives
// while it starts, so no acknowledgement is needed. "reloaded" is a notice: run with -V.
const PROXY_CORE_MARKERS: EngineMarkers = {
  reloaded: /reloaded: serving generation/,
  reloadFailed: /reload failed/,
};

export class EngineSpec {
  readonly name: Engine;
  /** Network namespace the engine serves in ('' = ours). */
  readonly netns: string;
  readonly markers: EngineMarkers;
  private readonly program: Command;
  /** Content hash of files + peer → when they last passed the check. */
  private readonly passed = new Map<string, number>();

  constructor(cfg: AgentConfig) {
    this.name = cfg.amphora_ts.engine;
    this.netns = cfg.amphora_ts.netns;
    this.markers = this.name === 'haproxy' ? HAPROXY_MARKERS : PROXY_CORE_MARKERS;
    if (this.name === 'haproxy') {
      this.program = { file: cfg.amphora_ts.haproxy_path, args: [] };
    } else {
      const path = cfg.amphora_ts.proxy_core_path;
      // The entry script runs on the agent's own Node 24 (type stripping); a path that is not
      // a script (an installed wrapper) is executed as is.
      this.program = /\.(c|m)?(j|t)s$/.test(path) ? { file: process.execPath, args: [path] } : { file: path, args: [] };
    }
  }

  /** `<engine> -c -L peer -f cfg -f ... `: validate only, never binds. */
  checkCommand(files: string[], peer: string): Command {
    return this.command(['-c', '-L', peer, ...files.flatMap((f) => ['-f', f])]);
  }

  /** The long-running engine, in the foreground (the process service manager supervises it):
   *  HAProxy as master-worker (`-W`) kept in the foreground (`-db`, which also overrides the
   *  `daemon` keyword Octavia always renders), so SIGUSR2 to the pid reloads seamlessly;
   *  proxy-core ignores `daemon` and stays in the foreground unless given -D. */
  runCommand(files: string[], peer: string, pidFile: string): Command {
    // proxy-core prints its notices (serving, reloaded) only with -V; HAProxy always does.
    const mode = this.name === 'haproxy' ? ['-W', '-db'] : ['-V'];
    return this.inNetns(this.command([...mode, ...files.flatMap((f) => ['-f', f]), '-p', pidFile, '-L', peer]));
  }

  /** The engine under systemd: HAProxy with `-Ws` (Type=notify, as Octavia's unit);
   *  proxy-core in the foreground (Type=simple). */
  systemdCommand(files: string[], peer: string, pidFile: string): Command & { type: 'notify' | 'simple' } {
    const mode = this.name === 'haproxy' ? ['-Ws'] : ['-V'];
    const cmd = this.inNetns(this.command([...mode, ...files.flatMap((f) => ['-f', f]), '-p', pidFile, '-L', peer]));
    return { ...cmd, type: this.name === 'haproxy' ? 'notify' : 'simple' };
  }

  /** Run the validator, unless the very same bytes passed it moments ago (`reuse`): the
   *  reload right after an upload then costs no second engine start-up (proxy-core's -c is a
   *  Node process). Never throws for an invalid config: ok=false and the output. */
  async check(files: string[], peer: string, reuse = false): Promise<CheckResult> {
    const hash = createHash('sha256').update(peer);
    for (const f of files) hash.update('\0').update(await readFile(f).catch(() => Buffer.from('\0missing')));
    const key = hash.digest('hex');
    const at = this.passed.get(key);
    if (reuse && at !== undefined && Date.now() - at < CHECK_REUSE_MS) return { ok: true, output: 'Configuration file is valid (checked moments ago)' };
    const result = await this.runCheck(files, peer);
    if (result.ok) {
      for (const [k, t] of this.passed) if (Date.now() - t >= CHECK_REUSE_MS) this.passed.delete(k);
      this.passed.set(key, Date.now());
    }
    return result;
  }

  private runCheck(files: string[], peer: string): Promise<CheckResult> {
    const cmd = this.checkCommand(files, peer);
    return new Promise((resolve) => {
      execFile(
        cmd.file,
        cmd.args,
        { timeout: CHECK_TIMEOUT_MS, maxBuffer: 4 * MAX_OUTPUT, encoding: 'utf8' },
        (err, stdout, stderr) => {
          let output = `${stdout}${stderr}`;
          if (output.length > MAX_OUTPUT) output = `${output.slice(0, MAX_OUTPUT)}\n[output truncated]`;
          if (!err) return resolve({ ok: true, output });
          const e = err as NodeJS.ErrnoException & { killed?: boolean };
          if (e.killed) output += `\n${this.name} -c did not finish within ${CHECK_TIMEOUT_MS / 1000} s`;
          else if (typeof e.code === 'string') output += `\ncannot run ${cmd.file}: ${e.message}`;
          resolve({ ok: false, output });
        },
      );
    });
  }

  private command(args: string[]): Command {
    return { file: this.program.file, args: [...this.program.args, ...args] };
  }

  // `ip netns exec` execs the engine in place: the pid we get is the engine's.
  private inNetns(cmd: Command): Command {
    if (!this.netns) return cmd;
    return { file: '/sbin/ip', args: ['netns', 'exec', this.netns, cmd.file, ...cmd.args] };
  }
}
