// The proxy-core command line, in HAProxy's shape, so that the agent (and an operator) can
// drive it exactly like `haproxy`: `proxy-core -f FILE [-f FILE…] [-c] [-L PEER] [-p PIDFILE]
// [-D] [-q] [-V] [-sf PID…|-st PID…]`.
//
// Also accepted, with no effect, because service units written for HAProxy pass them:
// `-W` / `-Ws` (master-worker: proxy-core always runs a supervisor and workers) and `-db`
// (stay in the foreground: the default without -D).

export interface CliOptions {
  /** Config files, in order (`-f`, or every word after `--`). */
  files: string[];
  /** `-c`: validate only. */
  check: boolean;
  /** `-L`: local peer name. */
  localPeer?: string;
  /** `-p`: pid file. */
  pidFile?: string;
  /** `-D`: daemonize. */
  daemon: boolean;
  quiet: boolean;
  verbose: boolean;
  /** `-v`: print the version and exit. */
  version: boolean;
  /** `-sf PID…`: soft-stop these processes (SIGUSR1) once serving. */
  softStopPids: number[];
  /** `-st PID…`: stop these processes (SIGTERM) once serving. */
  hardStopPids: number[];
}

export const USAGE = `Usage : proxy-core -f <cfgfile> [-f <cfgfile>]* [ -c ] [ -L <peer> ] [ -p <pidfile> ]
        [ -D ] [ -q | -V ] [ -sf <pid>* | -st <pid>* ] [-- <cfgfile>*]
        -f reads this configuration file (repeatable, read in order)
        -c check mode : only check config files and exit (0 valid, 1 invalid)
        -L sets the local peer name (the peers section entry of this host)
        -p writes the pid to this file
        -D goes daemon : returns once serving, or fails with the reason
        -q quiet mode : don't display warnings
        -V enters verbose mode (notices, disables quiet mode)
        -v displays the version
        -sf/-st soft-stops (SIGUSR1) / stops (SIGTERM) these pids once serving
        -W, -Ws, -db are accepted for compatibility and have no effect
`;

export type ParseResult = { options: CliOptions } | { error: string };

/** Parse argv (without node and the script). Never throws; an error names the bad word. */
export function parseArgs(argv: string[]): ParseResult {
  const o: CliOptions = {
    files: [],
    check: false,
    daemon: false,
    quiet: false,
    verbose: false,
    version: false,
    softStopPids: [],
    hardStopPids: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string | undefined => {
      const v = argv[i + 1];
      if (v === undefined) return undefined;
      i++;
      return v;
    };
    switch (arg) {
      case '-f': {
        const v = value();
        if (v === undefined) return { error: `'-f' needs a configuration file` };
        o.files.push(v);
        break;
      }
      case '-L': {
        const v = value();
        if (v === undefined) return { error: `'-L' needs a peer name` };
        o.localPeer = v;
        break;
      }
      case '-p': {
        const v = value();
        if (v === undefined) return { error: `'-p' needs a pid file` };
        o.pidFile = v;
        break;
      }
      case '-c':
        o.check = true;
        break;
      case '-D':
        o.daemon = true;
        break;
      case '-q':
        o.quiet = true;
        break;
      case '-V':
        o.verbose = true;
        break;
      case '-v':
      case '-vv':
        o.version = true;
        break;
      case '-W':
      case '-Ws':
      case '-db':
        break;
      case '-sf':
      case '-st': {
        const into = arg === '-sf' ? o.softStopPids : o.hardStopPids;
        // Every following word that is not a flag is a pid (HAProxy's rule).
        while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) {
          const pid = Number(argv[++i]);
          if (!Number.isInteger(pid) || pid <= 0) return { error: `'${arg}' expects process ids, got '${argv[i]}'` };
          into.push(pid);
        }
        break;
      }
      case '--':
        o.files.push(...argv.slice(i + 1));
        i = argv.length;
        break;
      default:
        return { error: `unknown option '${arg}'` };
    }
  }
  if (!o.version && o.files.length === 0) return { error: 'no configuration file specified' };
  return { options: o };
}

/** argv for the daemon's child: the same words without -D. */
export function withoutDaemonFlag(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (arg === '-D') continue;
    out.push(arg);
    // A flag's value is never taken for a flag (`-p -D` names a pid file "-D").
    if (arg === '-f' || arg === '-L' || arg === '-p') {
      if (i + 1 < argv.length) out.push(argv[++i]!);
    }
  }
  return out;
}
