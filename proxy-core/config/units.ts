// Argument parsers shared by every section: durations, sizes, integers, ports, addresses.
// Each throws a LineError whose message names the keyword and the bad word; the section
// parsers catch it and attach file:line.

import { isIP } from 'node:net';

/** An error in the line being parsed; the caller adds file:line. */
export class LineError extends Error {}

const MAX_TIMER = 0x7fffffff;

/**
 * HAProxy duration: digits, then an optional unit us, ms, s, m, h or d; no unit = ms.
 * Rounded up to whole milliseconds like HAProxy; a non-zero value under 1 ms is refused.
 */
export function parseDuration(text: string | undefined, keyword: string): number {
  if (text === undefined || text === '') throw new LineError(`'${keyword}' expects a duration as argument`);
  const m = /^(\d+)(us|ms|s|m|h|d)?$/.exec(text);
  if (!m) {
    throw new LineError(
      `'${keyword}' : invalid duration '${text}' (a number followed by us, ms, s, m, h or d; no unit means ms)`,
    );
  }
  const value = BigInt(m[1]!);
  let mult = 1n;
  let div = 1n;
  switch (m[2]) {
    case 'us':
      div = 1000n;
      break;
    case 's':
      mult = 1000n;
      break;
    case 'm':
      mult = 60_000n;
      break;
    case 'h':
      mult = 3_600_000n;
      break;
    case 'd':
      mult = 86_400_000n;
      break;
  }
  const ms = (value * mult + div - 1n) / div;
  if (ms > BigInt(MAX_TIMER)) {
    throw new LineError(`'${keyword}' : timer overflow in '${text}' (maximum value is 2147483647 ms or ~24.8 days)`);
  }
  return Number(ms);
}

/** HAProxy size: digits with an optional k, m or g suffix (powers of 1024). */
export function parseSize(text: string | undefined, keyword: string): number {
  if (text === undefined || text === '') throw new LineError(`'${keyword}' expects a size as argument`);
  const m = /^(\d+)([kKmMgG])?$/.exec(text);
  if (!m) throw new LineError(`'${keyword}' : invalid size '${text}' (a number with an optional k, m or g suffix)`);
  const shift = { k: 10, m: 20, g: 30 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 0;
  const value = Number(m[1]) * 2 ** shift;
  if (value > 0xffffffff) throw new LineError(`'${keyword}' : size '${text}' is too large`);
  return value;
}

/** A non-negative decimal integer within [min, max]. */
export function parseInteger(text: string | undefined, keyword: string, min = 0, max = 0x7fffffff): number {
  if (text === undefined || text === '') throw new LineError(`'${keyword}' expects an integer argument`);
  if (!/^-?\d+$/.test(text)) throw new LineError(`'${keyword}' : '${text}' is not an integer`);
  const n = Number(text);
  if (n < min || n > max) throw new LineError(`'${keyword}' : ${text} is out of range (${min}..${max})`);
  return n;
}

/** A TCP port, 1..65535. */
export function parsePort(text: string | undefined, keyword: string): number {
  if (text === undefined || text === '') throw new LineError(`'${keyword}' expects a port`);
  if (!/^\d+$/.test(text)) throw new LineError(`'${keyword}' : invalid port '${text}'`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new LineError(`'${keyword}' : invalid port '${text}' (1..65535)`);
  return n;
}

export interface HostPort {
  /** IPv4, IPv6 without brackets, a host name, or '' / '*' / '::' for any. */
  host: string;
  port?: number;
}

/**
 * `host:port` the way HAProxy reads it: the port follows the last colon, so an IPv6 address
 * is written without brackets (`fd00::100:443`); `[v6]:port` is accepted too; an optional
 * `ipv4@` / `ipv6@` prefix is dropped. Other families (unix sockets, abns@, fd@...) and port
 * ranges or offsets are refused with a precise message.
 */
export function parseHostPort(text: string, keyword: string, portRequired: boolean, zeroIsNone = false): HostPort {
  let s = text;
  const family = /^([a-z0-9]+)@/.exec(s);
  if (family) {
    if (family[1] === 'ipv4' || family[1] === 'ipv6' || family[1] === 'tcp' || family[1] === 'tcp4' || family[1] === 'tcp6') {
      s = s.slice(family[0].length);
    } else {
      throw new LineError(`'${keyword}' : address family '${family[1]}@' is not supported (only TCP over IPv4/IPv6)`);
    }
  }
  if (s.startsWith('/')) throw new LineError(`'${keyword}' : UNIX socket address '${text}' is not supported here`);
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw new LineError(`'${keyword}' : invalid address '${text}' (missing ']')`);
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new LineError(`'${keyword}' : invalid address '${text}'`);
      portText = rest.slice(1);
    }
    if (isIP(host) !== 6) throw new LineError(`'${keyword}' : invalid IPv6 address '${host}'`);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) {
      host = s;
    } else {
      host = s.slice(0, colon);
      portText = s.slice(colon + 1);
    }
  }
  if (portText === undefined || portText === '') {
    if (portRequired) throw new LineError(`'${keyword}' : missing port number in '${text}'`);
    if (portText === '') portText = undefined;
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (/^[+-]\d+$/.test(portText)) {
      throw new LineError(`'${keyword}' : port offsets ('${portText}') are not supported`);
    }
    if (/^\d+-\d+$/.test(portText)) throw new LineError(`'${keyword}' : port ranges ('${portText}') are not supported`);
    if (zeroIsNone && /^0+$/.test(portText)) port = undefined;
    else port = parsePort(portText, keyword);
  }
  if (host !== '' && host !== '*' && !isIP(host) && !isHostName(host)) {
    throw new LineError(`'${keyword}' : invalid address '${host}' in '${text}'`);
  }
  return { host, port };
}

/** A DNS name (resolved when the engine starts). */
export function isHostName(s: string): boolean {
  return /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(s);
}

/** An IPv4/IPv6 address with an optional /mask (IPv4 masks may be dotted). */
export function isNetwork(s: string): boolean {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const fam = isIP(addr);
  if (!fam) return false;
  if (slash < 0) return true;
  const mask = s.slice(slash + 1);
  if (/^\d+$/.test(mask)) return Number(mask) <= (fam === 4 ? 32 : 128);
  return fam === 4 && isIP(mask) === 4;
}

/** Names HAProxy accepts for proxies, servers, ACLs, peers: letters, digits, '-', '_', '.', ':'. */
export function checkName(name: string | undefined, what: string): string {
  if (name === undefined || name === '') throw new LineError(`${what} expects a name`);
  const bad = /[^A-Za-z0-9_.:-]/.exec(name);
  if (bad) throw new LineError(`character '${bad[0]}' is not permitted in ${what} name '${name}'`);
  return name;
}
