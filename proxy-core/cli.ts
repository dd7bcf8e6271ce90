// The `proxy-core` command (bin/proxy-core.js loads this file): HAProxy's command line and
// signals in front of the supervisor.
//
//   proxy-core -f FILE [-f FILE…] [-c] [-L PEER] [-p PIDFILE] [-D] [-q] [-V] [-sf|-st PID…]
//
// -c validates and exits (0 valid, 1 invalid, like HAProxy); otherwise the supervisor
// starts and serves until a signal: SIGUSR2/SIGHUP reload, SIGUSR1 soft stop, SIGTERM/SIGINT
// stop. Exit codes: 0 after a stop, 1 when the configuration or the start failed (usage too).
//
// Only what every path needs is imported up front: `-c` (which the agent runs on every config
// upload) loads the config pipeline and nothing else; the supervisor (workers, health checks,
// stats) and the daemon code are imported by the paths that use them.

import { readFileSync } from 'node:fs';
import { formatMessage, loadAndResolve } from './config/load.ts';
import { parseArgs, USAGE, withoutDaemonFlag, type CliOptions } from './runtime/args.ts';
import * as log from './runtime/log.ts';

/** HAProxy leaves hard-stop-after unset (wait forever); a soft stop here gives up after this. */
const DEFAULT_HARD_STOP_AFTER_MS = 15 * 60_000;

async function check(o: CliOptions): Promise<number> {
  const res = await loadAndResolve(o.files, { localPeer: o.localPeer });
  for (const w of res.warnings) log.line('WARNING', formatMessage('WARNING', w));
  for (const e of res.errors) log.line('ALERT', formatMessage('ALERT', e));
  if (res.errors.length) return 1;
  if (!o.quiet) process.stdout.write('Configuration file is valid\n');
  return 0;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `proxy-core version ${pkg.version} (amphora-ts, haproxy.cfg dialect of HAProxy 2.6)\n`;
}

/** `-sf` / `-st`: the processes we replace stop once we serve (binary upgrade). */
function signalOldProcesses(o: CliOptions): void {
  const send = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch (err) {
      log.warning(`cannot send ${sig} to old process ${pid}: ${log.errorText(err)}`);
    }
  };
  for (const pid of o.softStopPids) send(pid, 'SIGUSR1');
  for (const pid of o.hardStopPids) send(pid, 'SIGTERM');
}

async function serve(o: CliOptions): Promise<number> {
  const { daemonChild } = await import('./runtime/daemon.ts');
  const { StartError, Supervisor } = await import('./runtime/supervisor.ts');
  const child = daemonChild();
  if (child) log.setLogSink(child.log);
  const hardStopAfter = Number(process.env.AMPHORA_TS_HARD_STOP_AFTER) || DEFAULT_HARD_STOP_AFTER_MS;
  const supervisor = new Supervisor({
    files: o.files,
    localPeer: o.localPeer,
    pidFile: o.pidFile,
    quiet: o.quiet,
    verbose: o.verbose,
    hardStopAfter,
    testHooks: process.env.AMPHORA_TS_TEST_HOOKS === '1',
  });
  // Installed before start: a signal during startup is acted on once it has finished.
  process.on('SIGUSR2', () => supervisor.reload());
  process.on('SIGHUP', () => supervisor.reload());
  process.on('SIGUSR1', () => supervisor.softStop());
  process.on('SIGTERM', () => supervisor.stop());
  process.on('SIGINT', () => supervisor.stop());

  try {
    await supervisor.start();
  } catch (err) {
    if (!(err instanceof StartError)) log.alert(`cannot start: ${log.errorText(err)}`);
    if (child) await child.flush();
    return 1;
  }
  signalOldProcesses(o);
  if (child) {
    log.setLogSink(undefined);
    child.ready();
  }
  return supervisor.done;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if ('error' in parsed) {
    process.stderr.write(`[ALERT] ${parsed.error}\n${USAGE}`);
    return 1;
  }
  const o = parsed.options;
  if (o.version) {
    process.stdout.write(version());
    return 0;
  }
  log.configureLog({ quiet: o.quiet, verbose: o.verbose });
  if (o.check) return check(o);
  if (o.daemon) return (await import('./runtime/daemon.ts')).daemonize(withoutDaemonFlag(argv));
  return serve(o);
}

process.exit(await main(process.argv.slice(2)));
