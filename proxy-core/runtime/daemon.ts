// `-D`: run in the background, and let the command return only once the background process
// serves (exit 0) or has failed (its messages on our stderr, non-zero exit) — what HAProxy's
// -D gives a service script.
//
// Node cannot fork, so the parent re-spawns the same command without -D, detached (setsid:
// new session, no controlling terminal), stdin/stdout/stderr on /dev/null, and an IPC channel
// over which the child forwards every line it prints before it serves, then "ready". The
// parent exits with the child's status if the child exits first.

import { spawn } from 'node:child_process';

const CHILD_ENV = 'AMPHORA_TS_DAEMON_CHILD';

type DaemonMessage = { type: 'log'; line: string } | { type: 'ready' } | { type: 'bye' };

/** Parent side: start the background copy with `argv` (already without -D); resolves to our exit code. */
export function daemonize(argv: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [CHILD_ENV]: '1' },
  });
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      if (child.connected) child.disconnect();
      child.unref();
      resolve(code);
    };
    child.on('message', (msg: DaemonMessage) => {
      if (msg.type === 'log') process.stderr.write(msg.line + '\n');
      else if (msg.type === 'ready') finish(0);
    });
    child.on('error', (err) => {
      process.stderr.write(`[ALERT] cannot start the daemon: ${err.message}\n`);
      finish(1);
    });
    // Gone before serving is a failure, whatever its status.
    child.on('exit', (code) => finish(code || 1));
  });
}

export interface DaemonChild {
  /** Forward a printed line to the waiting parent. */
  log(line: string): void;
  /** Tell the parent we serve, then drop the channel. */
  ready(): void;
  /** Resolves once every line sent so far has reached the parent (call before exiting). */
  flush(): Promise<void>;
}

/** Child side: set when this process is the background copy started by daemonize(). */
export function daemonChild(): DaemonChild | undefined {
  if (process.env[CHILD_ENV] !== '1' || !process.send) return undefined;
  delete process.env[CHILD_ENV];
  const send = (msg: DaemonMessage, cb?: () => void) => {
    if (process.connected) process.send!(msg, undefined, {}, () => cb?.());
    else cb?.();
  };
  return {
    log: (line) => send({ type: 'log', line }),
    ready: () =>
      send({ type: 'ready' }, () => {
        if (process.connected) process.disconnect();
      }),
    flush: () => new Promise((resolve) => send({ type: 'bye' }, resolve)),
  };
}
