// From config to check: which probe a member gets, where it points, how often it runs and
// when it times out — every HAProxy default resolved here, once, so the checker's loop only
// reads numbers.
//
// Probe selection (one per backend, as in HAProxy): `option external-check` → external;
// `option httpchk` → HTTP (over TLS with `check-ssl`); `option ssl-hello-chk` → forged hello;
// `check-ssl` alone → TLS handshake; else a TCP connect.
//
// Timeouts (configuration.txt, "timeout check"): with `timeout check`, the connect may take
// min(`timeout connect`, `inter`) and the reply `timeout check`; without it, `inter` bounds the
// whole check.

import { readFileSync } from 'node:fs';
import type { Backend, HttpCheckRequest, Server } from '../config/model.ts';
import type { MemberPlan, Plan } from '../compile/plan.ts';
import { G } from '../runtime/counters.ts';
import { proxyId } from '../stats/proxies.ts';
import type { CheckTls } from './connect.ts';
import { ExternalProbe } from './external.ts';
import { HttpProbe, type HttpCheckSpec } from './http.ts';
import type { Probe, ProbeTarget } from './probe.ts';
import { SslHelloProbe } from './ssl-hello.ts';
import { TcpProbe } from './tcp.ts';
import { TlsProbe } from './tls.ts';

export type CheckKind = 'tcp' | 'tls' | 'ssl-hello' | 'http' | 'external';

export interface CheckSpec {
  kind: CheckKind;
  probe: Probe;
  target: ProbeTarget;
  /** Intervals (ms): steady UP, transitional (and not yet checked), steady DOWN. */
  inter: number;
  fastinter: number;
  downinter: number;
  rise: number;
  fall: number;
}

/** HAProxy's defaults for a server's `check` parameters. */
export const CHECK_DEFAULTS = { inter: 2000, rise: 2, fall: 3 } as const;

/** The model of a member (its backend and server line). */
export function memberModel(plan: Plan, member: MemberPlan): { backend: Backend; server: Server } | undefined {
  const backend = plan.config.backends.find((b) => b.name === member.backend.name);
  if (!backend) return undefined;
  const atIndex = backend.servers[member.index];
  const server = atIndex?.name === member.name ? atIndex : backend.servers.find((s) => s.name === member.name);
  return server ? { backend, server } : undefined;
}

/**
 * The check of a member, or undefined when it has none: no `check`, or nowhere to connect
 * (no port on the server line and no `port` override; HAProxy disables such a check).
 */
export function checkSpec(plan: Plan, member: MemberPlan): CheckSpec | undefined {
  if (!member.checked) return undefined;
  const model = memberModel(plan, member);
  if (!model) return undefined;
  const { backend, server } = model;
  const check = server.check;
  const port = check.port ?? member.port;
  if (port === undefined) return undefined;

  const inter = check.inter ?? CHECK_DEFAULTS.inter;
  const timeouts = member.backend.timeouts;
  const target: ProbeTarget = {
    backend: backend.name,
    server: server.name,
    host: check.addr ?? member.host,
    port,
    connectTimeout: timeouts.check > 0 ? Math.min(timeouts.connect || Infinity, inter) : inter,
    readTimeout: timeouts.check > 0 ? timeouts.check : undefined,
  };
  const { kind, probe } = chooseProbe(plan, member, backend, server);
  return {
    kind,
    probe,
    target,
    inter,
    fastinter: check.fastinter ?? inter,
    downinter: check.downinter ?? inter,
    rise: check.rise ?? CHECK_DEFAULTS.rise,
    fall: check.fall ?? CHECK_DEFAULTS.fall,
  };
}

function chooseProbe(plan: Plan, member: MemberPlan, backend: Backend, server: Server): { kind: CheckKind; probe: Probe } {
  if (backend.options.externalCheck) {
    return { kind: 'external', probe: new ExternalProbe(externalSpec(plan, member, backend, server)) };
  }
  const tls = server.check.ssl ? checkTls(server) : undefined;
  if (backend.options.httpchk) {
    return { kind: 'http', probe: new HttpProbe(httpSpec(backend, backend.options.httpchk), tls) };
  }
  if (backend.options.sslHelloChk) return { kind: 'ssl-hello', probe: new SslHelloProbe() };
  if (tls) return { kind: 'tls', probe: new TlsProbe(tls) };
  return { kind: 'tcp', probe: new TcpProbe() };
}

/** `check-ssl` shares the server line's TLS settings; Octavia writes `check-ssl verify none`. */
function checkTls(server: Server): CheckTls {
  const ssl = server.ssl;
  const tls: CheckTls = { verify: false };
  // HAProxy verifies by default once a CA is given (`verify required` is implied by ca-file).
  if (ssl?.caFile !== undefined && ssl.verify !== 'none') {
    try {
      tls.ca = readFileSync(ssl.caFile);
      tls.verify = true;
    } catch {
      // An unreadable CA fails the config load elsewhere; a check then verifies nothing.
    }
  }
  if (server.check.alpn !== undefined) tls.alpn = server.check.alpn;
  return tls;
}

// ------------------------------------------------------------------------------- HTTP

/**
 * The request and expectation of `option httpchk` + `http-check send` + `http-check expect`.
 * Octavia 11 hides headers in the version word (`HTTP/1.1\r\nHost:\ example.com`); the parser
 * may already have split them into `headers`, else it is done here (both real CR LF and the
 * literal `\r\n` spelling are accepted).
 */
export function httpSpec(backend: Backend, chk: HttpCheckRequest | true): HttpCheckSpec {
  const req = chk === true ? undefined : chk;
  const spec: HttpCheckSpec = {
    method: req?.method || 'OPTIONS',
    uri: req?.uri || '/',
    version: 'HTTP/1.0',
    headers: [...(req?.headers ?? [])],
  };
  const [version, ...hidden] = (req?.version || 'HTTP/1.0').split(/\r\n|\\r\\n/);
  spec.version = version || 'HTTP/1.0';
  for (const line of hidden) addHeader(spec.headers, line);

  // `http-check send [meth M] [uri U] [ver V] [hdr N V]* [body B]`, raw words.
  for (const words of backend.httpCheckSend) {
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      const arg = words[i + 1];
      if (arg === undefined) break;
      if (w === 'meth') spec.method = arg;
      else if (w === 'uri') spec.uri = arg;
      else if (w === 'ver') spec.version = arg;
      else if (w === 'body') spec.body = arg;
      else if (w === 'hdr' && words[i + 2] !== undefined) {
        pushHeader(spec.headers, arg, words[i + 2]!);
        i++;
      } else continue;
      i++;
    }
  }
  const e = backend.httpCheckExpect;
  if (e) spec.expect = { kind: e.kind, negate: e.negate, pattern: e.pattern };
  return spec;
}

/** `Name: value` (from the version-word hack; `\ ` already unescaped or not). */
function addHeader(headers: [string, string][], line: string): void {
  const colon = line.indexOf(':');
  if (colon <= 0) return;
  pushHeader(headers, line.slice(0, colon).trim(), line.slice(colon + 1).replace(/\\ /g, ' ').trim());
}

/** Add unless the parser already put the very same header there. */
function pushHeader(headers: [string, string][], name: string, value: string): void {
  const lower = name.toLowerCase();
  if (headers.some(([n, v]) => n.toLowerCase() === lower && v === value)) return;
  headers.push([name, value]);
}

// --------------------------------------------------------------------------- external

function externalSpec(plan: Plan, member: MemberPlan, backend: Backend, server: Server) {
  // Arguments 1-2: the first bind of the same proxy (a `listen` section), else NOT_USED.
  const fe = backend.fromListen ? plan.config.frontends.find((f) => f.name === backend.name && f.fromListen) : undefined;
  const bind = fe?.binds[0];
  const bindAddress = bind ? (bind.address === '' || bind.address === '*' ? '0.0.0.0' : bind.address) : undefined;
  const counters = plan.counters;
  const env: Record<string, string> = {
    HAPROXY_PROXY_ADDR: bindAddress ?? '',
    HAPROXY_PROXY_ID: String(proxyId(plan.config, backend.name)),
    HAPROXY_PROXY_NAME: backend.name,
    HAPROXY_PROXY_PORT: bind ? String(bind.port) : '',
    HAPROXY_SERVER_ADDR: member.host,
    HAPROXY_SERVER_CURCONN: '0',
    HAPROXY_SERVER_ID: String(member.id),
    HAPROXY_SERVER_MAXCONN: String(member.maxconn),
    HAPROXY_SERVER_NAME: member.name,
    HAPROXY_SERVER_PORT: member.port === undefined ? '' : String(member.port),
    HAPROXY_SERVER_SSL: server.ssl ? '1' : '0',
    HAPROXY_SERVER_PROTO: backend.mode === 'http' ? 'h1' : 'tcp',
    PATH: backend.externalCheckPath ?? '',
  };
  return {
    command: backend.externalCheckCommand ?? '',
    proxyAddress: bindAddress ?? 'NOT_USED',
    proxyPort: bind ? String(bind.port) : 'NOT_USED',
    serverAddress: member.host,
    serverPort: member.port === undefined ? '' : String(member.port),
    env,
    curconn: () => counters.gauge(member.slot, G.scur),
  };
}
