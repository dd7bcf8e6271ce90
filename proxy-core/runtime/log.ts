// proxy-core's own messages on stderr, shaped like HAProxy's: `[ALERT]    (pid) : text`.
//
// Config problems are printed as the loader formats them (`[ALERT] file:line : message`,
// config/load.ts formatMessage) through `line()`; runtime events (a bind that failed, a
// worker that died, a reload) through alert/warning/notice. `-q` silences warnings and
// notices, `-V` enables notices; alerts are always printed, as HAProxy does at startup.
//
// A daemonizing parent needs the lines its child prints before it serves: the child sets a
// sink (daemon.ts) that receives every printed line besides stderr.

type Level = 'ALERT' | 'WARNING' | 'NOTICE';

let quiet = false;
let verbose = false;
let sink: ((line: string) => void) | undefined;

export function configureLog(opts: { quiet: boolean; verbose: boolean }): void {
  quiet = opts.quiet && !opts.verbose;
  verbose = opts.verbose;
}

/** Receive every printed line too (undefined to stop). */
export function setLogSink(fn: ((line: string) => void) | undefined): void {
  sink = fn;
}

/** Print a preformatted line (config messages) at its level's verbosity. */
export function line(level: Level, text: string): void {
  if (level === 'WARNING' && quiet) return;
  if (level === 'NOTICE' && !verbose) return;
  process.stderr.write(text + '\n');
  sink?.(text);
}

function format(level: Level, text: string): string {
  return `${`[${level}]`.padEnd(10)} (${process.pid}) : ${text}`;
}

export function alert(text: string): void {
  line('ALERT', format('ALERT', text));
}

export function warning(text: string): void {
  line('WARNING', format('WARNING', text));
}

export function notice(text: string): void {
  line('NOTICE', format('NOTICE', text));
}

export function isVerbose(): boolean {
  return verbose;
}

/** Error text without a stack, for messages. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
