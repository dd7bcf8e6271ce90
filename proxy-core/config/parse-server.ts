// `bind` lines (frontends) and `server` / `default-server` lines (backends).
//
// Both are an address followed by keywords in any order. TLS keywords are collected whether
// or not `ssl` is present (a server's `check-ssl` uses them too); the model gets `ssl` /
// `BindSsl` only when the line says `ssl`.

import type { Bind, BindSsl, Server, ServerSsl, Where } from './model.ts';
import { parseSample } from './samples.ts';
import { checkName, LineError, parseDuration, parseHostPort, parseInteger, parsePort } from './units.ts';

type TlsVersion = 'SSLv3' | 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const VERSIONS: TlsVersion[] = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const NO_VERSION: Record<string, TlsVersion> = {
  'no-sslv3': 'SSLv3',
  'no-tlsv10': 'TLSv1',
  'no-tlsv11': 'TLSv1.1',
  'no-tlsv12': 'TLSv1.2',
  'no-tlsv13': 'TLSv1.3',
};
const FORCE_VERSION: Record<string, TlsVersion> = {
  'force-sslv3': 'SSLv3',
  'force-tlsv10': 'TLSv1',
  'force-tlsv11': 'TLSv1.1',
  'force-tlsv12': 'TLSv1.2',
  'force-tlsv13': 'TLSv1.3',
};
/** `ssl-min-ver` / `ssl-max-ver` arguments. */
const VERSION_NAMES: Record<string, TlsVersion> = {
  SSLv3: 'SSLv3',
  'TLSv1.0': 'TLSv1',
  'TLSv1.1': 'TLSv1.1',
  'TLSv1.2': 'TLSv1.2',
  'TLSv1.3': 'TLSv1.3',
};

function versionArg(text: string | undefined, keyword: string): TlsVersion {
  const v = text === undefined ? undefined : VERSION_NAMES[text];
  if (!v) throw new LineError(`'${keyword}' expects one of SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3, got '${text ?? ''}'`);
  return v;
}

function arg(words: string[], i: number, keyword: string): string {
  const v = words[i + 1];
  if (v === undefined) throw new LineError(`'${keyword}' expects an argument`);
  return v;
}

function alpnList(text: string, keyword: string): string[] {
  const list = text.split(',');
  if (list.some((p) => p === '' || p.length > 255)) throw new LineError(`'${keyword}' : invalid protocol list '${text}'`);
  return list;
}

// ---------------------------------------------------------------------------------- bind

/** Bind keywords kept raw in Bind.options, with their argument count. */
const BIND_RAW: Record<string, 0 | 1> = {
  v4v6: 0,
  v6only: 0,
  transparent: 0,
  'defer-accept': 0,
  tfo: 0,
  interface: 1,
  namespace: 1,
  mss: 1,
  backlog: 1,
  maxconn: 1,
  name: 1,
  id: 1,
  nice: 1,
  thread: 1,
  process: 1,
  shards: 1,
  'tcp-ut': 1,
  'strict-sni': 0,
  'prefer-client-ciphers': 0,
  'no-tls-tickets': 0,
  'allow-0rtt': 0,
  'no-ca-names': 0,
  curves: 1,
  ecdhe: 1,
  npn: 1,
  'tls-ticket-keys': 1,
  'ca-verify-file': 1,
  'ca-ignore-err': 1,
  'crt-ignore-err': 1,
  'severity-output': 1,
};
/** Raw bind keywords that need `ssl` to mean anything. */
const BIND_TLS_RAW = new Set([
  'strict-sni',
  'prefer-client-ciphers',
  'no-tls-tickets',
  'allow-0rtt',
  'no-ca-names',
  'curves',
  'ecdhe',
  'npn',
  'tls-ticket-keys',
  'ca-verify-file',
  'ca-ignore-err',
  'crt-ignore-err',
]);
const BIND_REFUSED = new Set([
  'generate-certificates',
  'ca-sign-file',
  'ca-sign-pass',
  'accept-netscaler-cip',
  'quic-force-retry',
  'proto',
  'expose-fd',
  'level',
  'mode',
  'user',
  'group',
  'uid',
  'gid',
]);

/**
 * `bind <addr>[,<addr>...] [keywords]` → one Bind per address. `warn` receives notes such as
 * TLS keywords written without `ssl`.
 */
export function parseBind(words: string[], where: Where, warn: (message: string) => void): Bind[] {
  const addrs = words[1];
  if (addrs === undefined) throw new LineError(`'bind' expects <addr:port> as argument`);
  const hosts = addrs.split(',').map((a) => {
    const hp = parseHostPort(a, 'bind', true);
    return { host: hp.host, port: hp.port! };
  });

  let ssl = false;
  const tls: BindSsl = { crt: [], disabledVersions: [] };
  const tlsWords: string[] = [];
  let acceptProxy = false;
  const options: Record<string, string | true> = {};

  for (let i = 2; i < words.length; i++) {
    const kw = words[i]!;
    if (kw === 'ssl') {
      ssl = true;
      continue;
    }
    if (kw === 'accept-proxy') {
      acceptProxy = true;
      continue;
    }
    if (NO_VERSION[kw]) {
      if (!tls.disabledVersions.includes(NO_VERSION[kw])) tls.disabledVersions.push(NO_VERSION[kw]);
      tlsWords.push(kw);
      continue;
    }
    if (FORCE_VERSION[kw]) {
      tls.sslMinVer = tls.sslMaxVer = FORCE_VERSION[kw] === 'TLSv1' ? 'TLSv1.0' : FORCE_VERSION[kw];
      tlsWords.push(kw);
      continue;
    }
    switch (kw) {
      case 'crt':
        tls.crt.push(arg(words, i++, kw));
        tlsWords.push(kw);
        continue;
      case 'crt-list':
        if (tls.crtList !== undefined) throw new LineError(`'crt-list' given twice (only one crt-list per bind is supported)`);
        tls.crtList = arg(words, i++, kw);
        tlsWords.push(kw);
        continue;
      case 'ca-file':
        tls.caFile = arg(words, i++, kw);
        tlsWords.push(kw);
        continue;
      case 'crl-file':
        tls.crlFile = arg(words, i++, kw);
        tlsWords.push(kw);
        continue;
      case 'verify': {
        const v = arg(words, i++, kw);
        if (v !== 'none' && v !== 'optional' && v !== 'required') {
          throw new LineError(`'verify' expects 'none', 'optional' or 'required', got '${v}'`);
        }
        tls.verify = v;
        tlsWords.push(kw);
        continue;
      }
      case 'ciphers':
        tls.ciphers = arg(words, i++, kw);
        tlsWords.push(kw);
        continue;
      case 'ciphersuites':
        tls.ciphersuites = arg(words, i++, kw);
        tlsWords.push(kw);
        continue;
      case 'ssl-min-ver':
        versionArg(words[i + 1], kw);
        tls.sslMinVer = words[++i]!;
        tlsWords.push(kw);
        continue;
      case 'ssl-max-ver':
        versionArg(words[i + 1], kw);
        tls.sslMaxVer = words[++i]!;
        tlsWords.push(kw);
        continue;
      case 'alpn':
        tls.alpn = alpnList(arg(words, i++, kw), kw);
        tlsWords.push(kw);
        continue;
    }
    if (kw in BIND_RAW) {
      if (BIND_RAW[kw] === 1) {
        const v = arg(words, i++, kw);
        if (kw === 'maxconn' || kw === 'backlog' || kw === 'id' || kw === 'mss') parseInteger(v, kw, 0);
        if (kw === 'tcp-ut') parseDuration(v, kw);
        options[kw] = v;
      } else {
        options[kw] = true;
      }
      if (BIND_TLS_RAW.has(kw)) tlsWords.push(kw);
      continue;
    }
    if (BIND_REFUSED.has(kw)) throw new LineError(`'bind' : keyword '${kw}' is not supported yet`);
    throw new LineError(`'bind' : unknown keyword '${kw}'`);
  }

  if (!ssl && tlsWords.length > 0) {
    warn(`'bind ${addrs}' : TLS keyword(s) ${[...new Set(tlsWords)].map((w) => `'${w}'`).join(', ')} ignored without 'ssl'`);
  }
  if (ssl && tls.crt.length === 0 && tls.crtList === undefined) {
    throw new LineError(`'bind ${addrs}' : 'ssl' needs a certificate ('crt' or 'crt-list')`);
  }
  if (ssl && (tls.verify === 'optional' || tls.verify === 'required') && tls.caFile === undefined) {
    throw new LineError(`'bind ${addrs}' : verify is enabled but no CA file specified ('ca-file')`);
  }
  if (ssl && tls.crlFile !== undefined && tls.caFile === undefined) {
    throw new LineError(`'bind ${addrs}' : 'crl-file' needs 'ca-file'`);
  }

  return hosts.map((h) => {
    const b: Bind = { address: h.host, port: h.port, acceptProxy, options: { ...options }, where };
    if (ssl) b.ssl = structuredClone(tls);
    return b;
  });
}

// -------------------------------------------------------------------------------- server

/** Everything a server / default-server line can set, before it becomes a Server. */
export interface ServerDraft {
  weight?: number;
  backup: boolean;
  disabled: boolean;
  maxconn?: number;
  maxqueue?: number;
  check: boolean;
  inter?: number;
  fastinter?: number;
  downinter?: number;
  rise?: number;
  fall?: number;
  checkAddr?: string;
  checkPort?: number;
  checkSsl: boolean;
  checkAlpn?: string[];
  cookie?: string;
  sendProxy?: 'v1' | 'v2' | 'v2-ssl' | 'v2-ssl-cn';
  ssl: boolean;
  tls: {
    crt?: string;
    caFile?: string;
    crlFile?: string;
    verify?: 'none' | 'required';
    sni?: string;
    ciphers?: string;
    ciphersuites?: string;
    noVersions: TlsVersion[];
    minVer?: TlsVersion;
    maxVer?: TlsVersion;
    alpn?: string[];
  };
  id?: number;
}

export function emptyServerDraft(): ServerDraft {
  return { backup: false, disabled: false, check: false, checkSsl: false, ssl: false, tls: { noVersions: [] } };
}

/** Server keywords accepted with no effect here, with their argument count. */
const SERVER_NO_EFFECT: Record<string, 0 | 1> = {
  tfo: 0,
  'no-tfo': 0,
  'pool-max-conn': 1,
  'pool-purge-delay': 1,
  'pool-low-conn': 1,
  'max-reuse': 1,
  'no-ssl-reuse': 0,
  'ssl-reuse': 0,
  'no-tls-tickets': 0,
  'tls-tickets': 0,
  'allow-0rtt': 0,
  npn: 1,
  'tcp-ut': 1,
  'log-proto': 1,
  'init-addr': 1,
  'error-limit': 1,
};
const SERVER_REFUSED = new Set([
  'agent-check',
  'agent-addr',
  'agent-inter',
  'agent-port',
  'agent-send',
  'no-agent-check',
  'check-sni',
  'check-proto',
  'check-send-proxy',
  'no-check-send-proxy',
  'check-via-socks4',
  'minconn',
  'slowstart',
  'track',
  'observe',
  'on-error',
  'on-marked-down',
  'on-marked-up',
  'redir',
  'resolvers',
  'resolve-net',
  'resolve-opts',
  'resolve-prefer',
  'namespace',
  'socks4',
  'usesrc',
  'source',
  'non-stick',
  'stick',
  'proto',
  'ws',
  'verifyhost',
  'proxy-v2-options',
]);

/**
 * Apply the keywords words[from..] of a server or default-server line to `d`.
 * `isDefault` refuses what only a server may carry (`id`, `cookie` value is allowed).
 */
export function applyServerKeywords(d: ServerDraft, words: string[], from: number, isDefault: boolean): void {
  for (let i = from; i < words.length; i++) {
    const kw = words[i]!;
    if (NO_VERSION[kw]) {
      if (!d.tls.noVersions.includes(NO_VERSION[kw])) d.tls.noVersions.push(NO_VERSION[kw]);
      continue;
    }
    if (FORCE_VERSION[kw]) {
      d.tls.minVer = d.tls.maxVer = FORCE_VERSION[kw];
      continue;
    }
    switch (kw) {
      case 'weight':
        d.weight = parseInteger(arg(words, i++, kw), kw, 0, 256);
        continue;
      case 'backup':
        d.backup = true;
        continue;
      case 'no-backup':
        d.backup = false;
        continue;
      case 'disabled':
        d.disabled = true;
        continue;
      case 'enabled':
        d.disabled = false;
        continue;
      case 'maxconn':
        d.maxconn = parseInteger(arg(words, i++, kw), kw, 0);
        continue;
      case 'maxqueue':
        d.maxqueue = parseInteger(arg(words, i++, kw), kw, 0);
        continue;
      case 'check':
        d.check = true;
        continue;
      case 'no-check':
        d.check = false;
        continue;
      case 'inter':
      case 'fastinter':
      case 'downinter': {
        const ms = parseDuration(arg(words, i++, kw), kw);
        if (ms === 0) throw new LineError(`'${kw}' : expects a strictly positive duration`);
        d[kw] = ms;
        continue;
      }
      case 'rise':
      case 'fall':
        d[kw] = parseInteger(arg(words, i++, kw), kw, 1);
        continue;
      case 'addr': {
        // Read like HAProxy: what follows the last colon is a port, so an IPv6 address
        // needs brackets (Octavia 11 writes it bare for an IPv6 monitor_address, and HAProxy
        // refuses that config too).
        const hp = parseHostPort(arg(words, i++, kw), kw, false);
        if (hp.host === '' || hp.host === '*') throw new LineError(`'addr' expects an address`);
        d.checkAddr = hp.host;
        if (hp.port !== undefined) d.checkPort ??= hp.port;
        continue;
      }
      case 'port':
        d.checkPort = parsePort(arg(words, i++, kw), kw);
        continue;
      case 'check-ssl':
        d.checkSsl = true;
        continue;
      case 'no-check-ssl':
        d.checkSsl = false;
        continue;
      case 'check-alpn':
        d.checkAlpn = alpnList(arg(words, i++, kw), kw);
        continue;
      case 'cookie':
        d.cookie = arg(words, i++, kw);
        continue;
      case 'send-proxy':
        d.sendProxy = 'v1';
        continue;
      case 'send-proxy-v2':
        d.sendProxy = 'v2';
        continue;
      case 'send-proxy-v2-ssl':
        d.sendProxy = 'v2-ssl';
        continue;
      case 'send-proxy-v2-ssl-cn':
        d.sendProxy = 'v2-ssl-cn';
        continue;
      case 'no-send-proxy':
      case 'no-send-proxy-v2':
      case 'no-send-proxy-v2-ssl':
      case 'no-send-proxy-v2-ssl-cn':
        d.sendProxy = undefined;
        continue;
      case 'ssl':
        d.ssl = true;
        continue;
      case 'no-ssl':
        d.ssl = false;
        continue;
      case 'crt':
        d.tls.crt = arg(words, i++, kw);
        continue;
      case 'ca-file':
        d.tls.caFile = arg(words, i++, kw);
        continue;
      case 'crl-file':
        d.tls.crlFile = arg(words, i++, kw);
        continue;
      case 'verify': {
        const v = arg(words, i++, kw);
        if (v !== 'none' && v !== 'required') throw new LineError(`'verify' expects 'none' or 'required', got '${v}'`);
        d.tls.verify = v;
        continue;
      }
      case 'sni': {
        const expr = arg(words, i++, kw);
        parseSample(expr);
        d.tls.sni = expr;
        continue;
      }
      case 'ciphers':
        d.tls.ciphers = arg(words, i++, kw);
        continue;
      case 'ciphersuites':
        d.tls.ciphersuites = arg(words, i++, kw);
        continue;
      case 'ssl-min-ver':
        d.tls.minVer = versionArg(arg(words, i++, kw), kw);
        continue;
      case 'ssl-max-ver':
        d.tls.maxVer = versionArg(arg(words, i++, kw), kw);
        continue;
      case 'alpn':
        d.tls.alpn = alpnList(arg(words, i++, kw), kw);
        continue;
      case 'id':
        if (isDefault) throw new LineError(`'id' is not allowed on a 'default-server' line`);
        d.id = parseInteger(arg(words, i++, kw), kw, 1);
        continue;
    }
    if (kw in SERVER_NO_EFFECT) {
      if (SERVER_NO_EFFECT[kw] === 1) arg(words, i++, kw);
      continue;
    }
    if (SERVER_REFUSED.has(kw)) throw new LineError(`server keyword '${kw}' is not supported yet`);
    throw new LineError(`unknown server keyword '${kw}'`);
  }
}

function serverTls(d: ServerDraft): ServerSsl {
  const t = d.tls;
  const disabled = new Set<TlsVersion>(t.noVersions);
  const min = t.minVer ? VERSIONS.indexOf(t.minVer) : 0;
  const max = t.maxVer ? VERSIONS.indexOf(t.maxVer) : VERSIONS.length - 1;
  VERSIONS.forEach((v, i) => {
    if (i < min || i > max) disabled.add(v);
  });
  const out: ServerSsl = { disabledVersions: VERSIONS.filter((v) => disabled.has(v)) };
  if (t.crt !== undefined) out.crt = t.crt;
  if (t.caFile !== undefined) out.caFile = t.caFile;
  if (t.crlFile !== undefined) out.crlFile = t.crlFile;
  if (t.verify !== undefined) out.verify = t.verify;
  if (t.sni !== undefined) out.sni = parseSample(t.sni);
  if (t.ciphers !== undefined) out.ciphers = t.ciphers;
  if (t.ciphersuites !== undefined) out.ciphersuites = t.ciphersuites;
  if (t.alpn !== undefined) out.alpn = [...t.alpn];
  return out;
}

/**
 * `server <name> <addr>[:port] [keywords]`, starting from the proxy's default-server draft.
 * (Whether TLS verification has a CA is checked after the whole file: `ssl-server-verify`
 * in `global` may come later.)
 */
export function parseServer(words: string[], where: Where, defaults: ServerDraft): Server {
  const name = checkName(words[1], `'server'`);
  const addr = words[2];
  if (addr === undefined) throw new LineError(`'server ${name}' expects <addr>[:<port>] as argument`);
  const hp = parseHostPort(addr, `server ${name}`, false, true);
  if (hp.host === '' || hp.host === '*') throw new LineError(`'server ${name}' : missing address in '${addr}'`);

  const d = structuredClone(defaults);
  d.id = undefined;
  applyServerKeywords(d, words, 3, false);

  if ((d.ssl || d.checkSsl) && d.tls.crlFile !== undefined && d.tls.caFile === undefined) {
    throw new LineError(`'server ${name}' : 'crl-file' needs 'ca-file'`);
  }

  const server: Server = {
    name,
    address: hp.host,
    port: hp.port,
    weight: d.weight ?? 1,
    backup: d.backup,
    disabled: d.disabled,
    check: { enabled: d.check, ssl: d.checkSsl },
    where,
  };
  if (d.maxconn !== undefined) server.maxconn = d.maxconn;
  if (d.maxqueue !== undefined) server.maxqueue = d.maxqueue;
  const check = server.check;
  if (d.inter !== undefined) check.inter = d.inter;
  if (d.fastinter !== undefined) check.fastinter = d.fastinter;
  if (d.downinter !== undefined) check.downinter = d.downinter;
  if (d.rise !== undefined) check.rise = d.rise;
  if (d.fall !== undefined) check.fall = d.fall;
  if (d.checkAddr !== undefined) check.addr = d.checkAddr;
  if (d.checkPort !== undefined) check.port = d.checkPort;
  if (d.checkAlpn !== undefined) check.alpn = [...d.checkAlpn];
  if (d.checkSsl) check.tls = serverTls(d);
  if (d.cookie !== undefined) server.cookie = d.cookie;
  if (d.sendProxy !== undefined) server.sendProxy = d.sendProxy;
  if (d.ssl) server.ssl = serverTls(d);
  if (d.id !== undefined) server.id = d.id;
  if (check.enabled && server.port === undefined && check.port === undefined) {
    throw new LineError(
      `'server ${name}' has neither service port nor check port (health checks need one)`,
    );
  }
  return server;
}
