// `option external-check` + `external-check command <path>`: run a program per check, as
// HAProxy 2.6 does (doc/configuration.txt, "external-check command"):
//
//   argv: <proxy_address> <proxy_port> <server_address> <server_port>
//         (the proxy's first bind for a `listen` section, "NOT_USED NOT_USED" for a backend)
//   env:  only HAPROXY_PROXY_{ADDR,ID,NAME,PORT}, HAPROXY_SERVER_{ADDR,CURCONN,ID,MAXCONN,NAME,
//         PORT,SSL,PROTO} and PATH (`external-check path`, empty by default) — nothing of our
//         own environment leaks into it.
//
// Exit status 0 passes (PROCOK), anything else fails (PROCERR, code = exit status; 255 when the
// program cannot be started at all, as HAProxy's forked child reports it). Past the timeout the
// whole process group is killed (PROCTOUT): a shell script's children go too. `addr`/`port`
// check overrides do not apply here: HAProxy hands the server's own address to the command.

import { spawn } from 'node:child_process';
import { deadline } from './deadline.ts';
import type { Probe, ProbeResult, ProbeTarget } from './probe.ts';

export interface ExternalCheckSpec {
  command: string;
  /** Fixed arguments 1 and 2 (proxy address and port, or NOT_USED). */
  proxyAddress: string;
  proxyPort: string;
  /** Server address and port (arguments 3 and 4). */
  serverAddress: string;
  serverPort: string;
  /** Environment, built once by spec.ts; CURCONN is refreshed per run. */
  env: Record<string, string>;
  /** Current sessions of the server (HAPROXY_SERVER_CURCONN), read at each run. */
  curconn: () => number;
}

export class ExternalProbe implements Probe {
  readonly #spec: ExternalCheckSpec;

  constructor(spec: ExternalCheckSpec) {
    this.#spec = spec;
  }

  probe(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    const spec = this.#spec;
    // HAProxy gives the command `timeout check` when set, else `inter`.
    const timeout = target.readTimeout ?? target.connectTimeout;
    return new Promise((resolve) => {
      let settled = false;
      let timedOut = false;
      const child = spawn(spec.command, [spec.proxyAddress, spec.proxyPort, spec.serverAddress, spec.serverPort], {
        env: { ...spec.env, HAPROXY_SERVER_CURCONN: String(spec.curconn()) },
        stdio: 'ignore',
        detached: true, // own process group, so a timeout kills the script's children too
      });
      const killGroup = (): void => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const finish = (r: ProbeResult): void => {
        if (settled) return;
        settled = true;
        cancel();
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = (): void => {
        killGroup();
        finish({ status: 'UNK', info: 'aborted' });
      };
      const cancel = deadline(timeout, () => {
        timedOut = true;
        killGroup();
        finish({ status: 'PROCTOUT', code: 0, info: '' });
      });
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', () => finish({ status: 'PROCERR', code: 255, info: '' }));
      child.once('exit', (code) => {
        if (timedOut) return;
        if (code === 0) finish({ status: 'PROCOK', code: 0, info: '' });
        else finish({ status: 'PROCERR', code: code ?? 255, info: '' });
      });
      if (signal.aborted) onAbort();
    });
  }
}
