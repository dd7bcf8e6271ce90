// The agent's log: one line per event on stderr (journald/syslog pick it up from the unit).

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

/** Lines `amphora-agent <level>: <message>`; debug lines only when `debug()` says so
 *  (a function: `[DEFAULT] debug` is read each time). */
export function consoleLogger(debug: () => boolean = () => false): Logger {
  const line = (level: LogLevel, message: string) => console.error(`amphora-agent ${level}: ${message}`);
  return {
    debug: (m) => {
      if (debug()) line('debug', m);
    },
    info: (m) => line('info', m),
    warning: (m) => line('warning', m),
    error: (m) => line('error', m),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warning() {}, error() {} };
