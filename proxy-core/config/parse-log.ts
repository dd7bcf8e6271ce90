// `log` lines, shared by `global` and proxy sections:
//   log <target> [len <n>] [format <fmt>] [sample <ranges>:<size>] <facility> [<level> [<minlevel>]]
// (`log global` and `no log` are handled by the proxy parser.)

import type { LogTarget, Where } from './model.ts';
import { isHostName, LineError, parseInteger } from './units.ts';
import { isIP } from 'node:net';

const FACILITIES = new Set(
  (
    'kern user mail daemon auth syslog lpr news uucp cron auth2 ftp ntp audit alert cron2 ' +
    'local0 local1 local2 local3 local4 local5 local6 local7'
  ).split(' '),
);
const LEVELS = new Set(['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug']);
const FORMATS = new Set(['local', 'rfc3164', 'rfc5424', 'short', 'raw', 'priority', 'iso', 'timed']);

function checkTarget(target: string): void {
  if (target.startsWith('/') || target === 'stdout' || target === 'stderr') return;
  const fam = /^([a-z0-9]+)@(.*)$/.exec(target);
  let rest = target;
  if (fam) {
    if (['fd', 'ring', 'unix', 'abns'].includes(fam[1]!)) return;
    if (!['udp', 'udp4', 'udp6', 'ipv4', 'ipv6', 'tcp', 'tcp4', 'tcp6'].includes(fam[1]!)) {
      throw new LineError(`'log' : unknown address family '${fam[1]}@' in '${target}'`);
    }
    rest = fam[2]!;
  }
  let host = rest;
  const bracket = /^\[(.*)\](?::(\d+))?$/.exec(rest);
  if (bracket) host = bracket[1]!;
  else if (!isIP(rest)) {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      const port = rest.slice(colon + 1);
      if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
        throw new LineError(`'log' : invalid port in '${target}'`);
      }
      host = rest.slice(0, colon);
    }
  }
  if (!isIP(host) && !isHostName(host)) throw new LineError(`'log' : invalid address '${target}'`);
}

/** Parse a `log <target> ...` line (words[0] === 'log'). */
export function parseLogTarget(words: string[], where: Where): LogTarget {
  const address = words[1];
  if (address === undefined) throw new LineError(`'log' expects either <address[:port]> and <facility> or 'global' as arguments.`);
  checkTarget(address);
  let i = 2;
  for (;;) {
    const w = words[i];
    if (w === 'len') {
      parseInteger(words[i + 1], 'log len', 80, 65535);
      i += 2;
    } else if (w === 'format') {
      const f = words[i + 1];
      if (f === undefined || !FORMATS.has(f)) throw new LineError(`'log format' : unknown log format '${f ?? ''}'`);
      i += 2;
    } else if (w === 'sample') {
      if (words[i + 1] === undefined || !/^[0-9,:-]+:\d+$/.test(words[i + 1]!)) {
        throw new LineError(`'log sample' expects <ranges>:<size>`);
      }
      i += 2;
    } else break;
  }
  const facility = words[i];
  if (facility === undefined || !FACILITIES.has(facility)) {
    throw new LineError(`'log' : unknown log facility '${facility ?? ''}'`);
  }
  const target: LogTarget = { address, facility, where };
  const level = words[i + 1];
  if (level !== undefined) {
    if (!LEVELS.has(level)) throw new LineError(`'log' : unknown optional log level '${level}'`);
    target.level = level;
    const min = words[i + 2];
    if (min !== undefined) {
      if (!LEVELS.has(min)) throw new LineError(`'log' : unknown optional minimum log level '${min}'`);
      target.minLevel = min;
    }
    if (words[i + 3] !== undefined) throw new LineError(`'log' : unexpected argument '${words[i + 3]}'`);
  }
  return target;
}
