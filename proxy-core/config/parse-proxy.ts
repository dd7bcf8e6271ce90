// `defaults`, `frontend`, `backend` and `listen` sections.
//
// Like HAProxy, every proxy section is parsed into one draft that has both frontend and
// backend fields; its capabilities (a frontend has no backend side, a backend no frontend
// side, a listen has both, defaults feed both) decide which keywords apply. A keyword for the
// missing side is ignored with HAProxy's warning. At the end of the section the draft becomes
// a Frontend and/or a Backend of the model.
//
// Defaults: a proxy starts as a copy of the most recent `defaults` section above it (or the
// named one after `from`), so mode, timeouts, options, log settings, retries, balance,
// maxconn, fullconn, http-reuse, default_backend, cookie, health-check settings and
// default-server arrive already resolved in the model.

import type {
  Acl,
  Backend,
  Condition,
  FormatPart,
  SampleFetch,
  Balance,
  BalanceAlgorithm,
  Bind,
  ConfigMessage,
  CookiePersistence,
  Frontend,
  HttpCheckExpect,
  HttpCheckRequest,
  HttpRequestRule,
  HttpResponseRule,
  LogSettings,
  ProxyMode,
  ProxyOptions,
  Redirect,
  Server,
  StickRule,
  StickTable,
  TcpRequestRule,
  Timeouts,
  UseBackend,
  Where,
} from './model.ts';
import { parseAclExpr, parseCondition, splitCondition } from './acl.ts';
import { parseFormat } from './format.ts';
import { parseLogTarget } from './parse-log.ts';
import { applyServerKeywords, emptyServerDraft, parseBind, parseServer, type ServerDraft } from './parse-server.ts';
import { availableAtLog, parseSample, samplePhase } from './samples.ts';
import { checkName, LineError, parseDuration, parseInteger, parseSize } from './units.ts';

export type ProxyKind = 'defaults' | 'frontend' | 'backend' | 'listen';

/** A proxy section being parsed. Plain data so that defaults can be structuredClone'd. */
export interface ProxyDraft {
  kind: ProxyKind;
  name: string;
  where: Where;
  fe: boolean;
  be: boolean;
  mode: ProxyMode;
  // frontend side
  binds: Bind[];
  maxconn?: number;
  useBackends: UseBackend[];
  defaultBackend?: string;
  defaultBackendWhere?: Where;
  redirects: Redirect[];
  tcpRequest: TcpRequestRule[];
  // both
  timeouts: Timeouts;
  options: ProxyOptions;
  log: LogSettings;
  logFormatWhere?: Where;
  acls: Acl[];
  /** ACL lines by name (several lines may share one name). */
  aclsByName: Map<string, Acl[]>;
  httpRequest: HttpRequestRule[];
  httpResponse: HttpResponseRule[];
  disabled: boolean;
  id?: number;
  idWhere?: Where;
  /** Where `option httplog` / `option tcplog` was set, for mode warnings. */
  httplogWhere?: Where;
  // backend side
  balance: Balance;
  hashType?: Backend['hashType'];
  servers: Server[];
  serversByName: Map<string, Server>;
  defaultServer: ServerDraft;
  retries?: number;
  fullconn?: number;
  httpReuse?: Backend['httpReuse'];
  cookie?: CookiePersistence;
  stickTable?: StickTable;
  stickRules: StickRule[];
  httpCheckExpect?: HttpCheckExpect;
  httpCheckSend: string[][];
  httpCheckWhere?: Where;
  externalCheckCommand?: string;
  externalCheckPath?: string;
  externalCheckWhere?: Where;
  loadServerStateFromFile?: 'global' | 'local' | 'none';
  /** Which rule kinds were seen, for HAProxy's "placed after" warnings. */
  seen: { httpRequest: boolean; redirect: boolean; useBackend: boolean };
}

/** What a parser callback needs from the whole-config parse. */
export interface SectionContext {
  warn(where: Where, message: string): void;
  /** Called for every log target: the first one produces the "not implemented" warning. */
  noteLogTarget(where: Where): void;
}

/** HAProxy's built-in defaults: what a proxy has with no `defaults` section at all. */
export function builtinDefaults(where: Where): ProxyDraft {
  return {
    kind: 'defaults',
    name: '',
    where,
    fe: true,
    be: true,
    mode: 'tcp',
    binds: [],
    useBackends: [],
    redirects: [],
    tcpRequest: [],
    timeouts: {},
    options: { other: {} },
    log: { global: false, disabled: false, targets: [] },
    acls: [],
    aclsByName: new Map(),
    httpRequest: [],
    httpResponse: [],
    disabled: false,
    balance: { algorithm: 'roundrobin', args: [] },
    servers: [],
    serversByName: new Map(),
    defaultServer: emptyServerDraft(),
    stickRules: [],
    httpCheckSend: [],
    seen: { httpRequest: false, redirect: false, useBackend: false },
  };
}

/** A new proxy section inheriting from `defaults`. */
export function newProxy(kind: ProxyKind, name: string, where: Where, defaults: ProxyDraft): ProxyDraft {
  const d = structuredClone(defaults);
  d.kind = kind;
  d.name = name;
  d.where = where;
  d.fe = kind === 'frontend' || kind === 'listen' || kind === 'defaults';
  d.be = kind === 'backend' || kind === 'listen' || kind === 'defaults';
  // Not inherited: what only a real proxy carries.
  d.binds = [];
  d.useBackends = [];
  d.redirects = [];
  d.tcpRequest = [];
  d.acls = [];
  d.aclsByName = new Map();
  d.httpRequest = [];
  d.httpResponse = [];
  d.servers = [];
  d.serversByName = new Map();
  d.stickRules = [];
  d.stickTable = undefined;
  d.id = undefined;
  d.idWhere = undefined;
  d.seen = { httpRequest: false, redirect: false, useBackend: false };
  if (kind === 'backend') {
    d.defaultBackend = undefined;
    d.defaultBackendWhere = undefined;
  }
  return d;
}

/** How HAProxy names a proxy in messages (a listen section is a "proxy"). */
function proxyType(d: ProxyDraft): string {
  return d.kind === 'listen' ? 'proxy' : d.kind;
}

type Cap = 'fe' | 'be' | 'both';

/** HAProxy's capability check: false (with a warning) when the keyword has no effect here. */
function hasCap(d: ProxyDraft, cap: Cap, keyword: string, where: Where, ctx: SectionContext): boolean {
  if (cap === 'both') return true;
  if (cap === 'fe' ? d.fe : d.be) return true;
  ctx.warn(
    where,
    `'${keyword}' ignored because ${proxyType(d)} '${d.name}' has no ${cap === 'fe' ? 'frontend' : 'backend'} capability.`,
  );
  return false;
}

function notInDefaults(d: ProxyDraft, keyword: string): void {
  if (d.kind === 'defaults') throw new LineError(`'${keyword}' not allowed in 'defaults' section.`);
}

function tooMany(words: string[], max: number, keyword: string): void {
  if (words.length > max + 1) {
    throw new LineError(`'${keyword}' cannot handle unexpected argument '${words[max + 1]}'.`);
  }
}

// ------------------------------------------------------------------------------ timeouts

const TIMEOUTS: Record<string, { field: keyof Timeouts; cap: Cap }> = {
  client: { field: 'client', cap: 'fe' },
  'client-fin': { field: 'clientFin', cap: 'fe' },
  server: { field: 'server', cap: 'be' },
  'server-fin': { field: 'serverFin', cap: 'be' },
  connect: { field: 'connect', cap: 'be' },
  queue: { field: 'queue', cap: 'be' },
  tunnel: { field: 'tunnel', cap: 'be' },
  check: { field: 'check', cap: 'be' },
  'http-request': { field: 'httpRequest', cap: 'both' },
  'http-keep-alive': { field: 'httpKeepAlive', cap: 'both' },
  tarpit: { field: 'tarpit', cap: 'both' },
};

function parseTimeout(d: ProxyDraft, words: string[], where: Where, ctx: SectionContext): void {
  const name = words[1];
  const t = name === undefined ? undefined : TIMEOUTS[name];
  if (!t) {
    throw new LineError(
      `'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', ` +
        `'tarpit', 'tunnel', 'client-fin' and 'server-fin' (got '${name ?? ''}')`,
    );
  }
  tooMany(words, 2, `timeout ${name}`);
  const ms = parseDuration(words[2], `timeout ${name}`);
  if (t.cap !== 'both' && !(t.cap === 'fe' ? d.fe : d.be)) {
    ctx.warn(
      where,
      `'timeout ${name}' will be ignored because ${proxyType(d)} '${d.name}' has no ${t.cap === 'fe' ? 'frontend' : 'backend'} capability`,
    );
    return;
  }
  d.timeouts[t.field] = ms;
}

// ------------------------------------------------------------------------------- options

/** Boolean options that `no option` may cancel: model field (or `other`) and capability. */
const FLAG_OPTIONS: Record<string, { field?: keyof ProxyOptions; cap: Cap }> = {
  redispatch: { field: 'redispatch', cap: 'be' },
  allbackups: { field: 'allbackups', cap: 'be' },
  'splice-request': { field: 'spliceRequest', cap: 'both' },
  'splice-response': { field: 'spliceResponse', cap: 'both' },
  'splice-auto': { field: 'spliceAuto', cap: 'both' },
  dontlognull: { field: 'dontlognull', cap: 'fe' },
  logasap: { field: 'logasap', cap: 'fe' },
  clitcpka: { field: 'clitcpka', cap: 'fe' },
  srvtcpka: { field: 'srvtcpka', cap: 'be' },
  abortonclose: { cap: 'be' },
  checkcache: { cap: 'be' },
  contstats: { cap: 'fe' },
  'http-buffer-request': { cap: 'both' },
  'http-ignore-probes': { field: 'httpIgnoreProbes', cap: 'fe' },
  'idle-close-on-response': { cap: 'fe' },
  'prefer-last-server': { cap: 'be' },
  nolinger: { cap: 'both' },
  persist: { cap: 'be' },
  'accept-invalid-http-request': { cap: 'fe' },
  'accept-invalid-http-response': { cap: 'be' },
  'dontlog-normal': { cap: 'fe' },
  'log-separate-errors': { cap: 'fe' },
  'log-health-checks': { cap: 'be' },
  'socket-stats': { cap: 'fe' },
  'tcp-smart-accept': { cap: 'fe' },
  'tcp-smart-connect': { cap: 'be' },
  'independent-streams': { cap: 'both' },
  'http-use-proxy-header': { cap: 'fe' },
  'http-pretend-keepalive': { cap: 'be' },
  'http-no-delay': { cap: 'both' },
  'h1-case-adjust-bogus-client': { cap: 'fe' },
  'h1-case-adjust-bogus-server': { cap: 'be' },
  'disable-h2-upgrade': { cap: 'fe' },
};

/** HTTP connection modes: setting one clears the others (HAProxy keeps one mode). */
const HTTP_MODES: Record<string, 'httpKeepAlive' | 'httpServerClose' | 'httpClose'> = {
  'http-keep-alive': 'httpKeepAlive',
  'http-server-close': 'httpServerClose',
  httpclose: 'httpClose',
};

const GONE_OPTIONS: Record<string, string> = {
  forceclose: "option 'forceclose' is not supported any more since HAProxy 2.0, use 'option httpclose'",
  'http-tunnel': "option 'http-tunnel' is not supported any more since HAProxy 2.1, remove it",
  http_proxy: "option 'http_proxy' is not supported any more since HAProxy 2.5",
};

const UNSUPPORTED_CHECKS = new Set([
  'tcp-check',
  'mysql-check',
  'pgsql-check',
  'redis-check',
  'smtpchk',
  'ldap-check',
  'spop-check',
]);

function clearCheckType(o: ProxyOptions): void {
  delete o.httpchk;
  delete o.sslHelloChk;
  delete o.externalCheck;
}

function parseOption(d: ProxyDraft, words: string[], negate: boolean, where: Where, ctx: SectionContext): void {
  const name = words[1];
  if (name === undefined) throw new LineError(`'option' expects an option name`);
  const o = d.options;
  const mode = HTTP_MODES[name];
  if (mode) {
    tooMany(words, 1, `option ${name}`);
    if (negate) {
      o[mode] = false;
    } else {
      // The modes exclude each other: the last one set wins, the others are unset.
      for (const m of Object.values(HTTP_MODES)) delete o[m];
      o[mode] = true;
    }
    return;
  }
  const flag = FLAG_OPTIONS[name];
  if (flag) {
    // `option redispatch <n>` takes an optional interval.
    if (name === 'redispatch') {
      tooMany(words, 2, `option ${name}`);
      if (words[2] !== undefined) parseInteger(words[2], 'option redispatch', -0x7fffffff);
    } else tooMany(words, 1, `option ${name}`);
    if (!hasCap(d, flag.cap, name, where, ctx)) return;
    if (flag.field) (o as unknown as Record<string, boolean>)[flag.field] = !negate;
    else o.other[name] = !negate;
    return;
  }
  if (GONE_OPTIONS[name]) throw new LineError(GONE_OPTIONS[name]);
  if (negate) throw new LineError(`negation is not supported for option '${name}'.`);
  if (name === 'tcpka') {
    tooMany(words, 1, 'option tcpka');
    o.tcpka = true;
    return;
  }

  switch (name) {
    case 'httplog':
      if (words[2] !== undefined && words[2] !== 'clf') {
        throw new LineError(`keyword 'httplog' only supports option 'clf'.`);
      }
      tooMany(words, 2, 'option httplog');
      o.httplog = true;
      o.tcplog = false;
      if (words[2] === 'clf') o.other['httplog-clf'] = true;
      d.httplogWhere = where;
      if (d.kind === 'backend') ctx.warn(where, `backend '${d.name}' : 'option httplog' directive is ignored in backends.`);
      return;
    case 'httpslog':
      tooMany(words, 1, 'option httpslog');
      o.httplog = true;
      o.tcplog = false;
      o.other.httpslog = true;
      d.httplogWhere = where;
      if (d.kind === 'backend') ctx.warn(where, `backend '${d.name}' : 'option httpslog' directive is ignored in backends.`);
      return;
    case 'tcplog':
      tooMany(words, 1, 'option tcplog');
      o.tcplog = true;
      o.httplog = false;
      if (d.kind === 'backend') ctx.warn(where, `backend '${d.name}' : 'option tcplog' directive is ignored in backends.`);
      return;
    case 'forwardfor': {
      const ff = { header: 'X-Forwarded-For', ifNone: false } as { header: string; except?: string; ifNone: boolean };
      for (let i = 2; i < words.length; i++) {
        const w = words[i];
        if (w === 'except') {
          const net = words[++i];
          if (net === undefined || !isNetworkArg(net)) {
            throw new LineError(`'option forwardfor except' expects <address>[/mask] as argument.`);
          }
          ff.except = net;
        } else if (w === 'header') {
          const h = words[++i];
          if (h === undefined) throw new LineError(`'option forwardfor header' expects <header_name> as argument.`);
          ff.header = h;
        } else if (w === 'if-none') {
          ff.ifNone = true;
        } else {
          throw new LineError(`'option forwardfor' only supports optional values: 'except', 'header' and 'if-none'.`);
        }
      }
      o.forwardfor = ff;
      return;
    }
    case 'httpchk': {
      if (!hasCap(d, 'be', 'httpchk', where, ctx)) return;
      tooMany(words, 4, 'option httpchk');
      clearCheckType(o);
      o.httpchk = parseHttpchk(words.slice(2));
      return;
    }
    case 'ssl-hello-chk':
      tooMany(words, 1, 'option ssl-hello-chk');
      if (!hasCap(d, 'be', name, where, ctx)) return;
      clearCheckType(o);
      o.sslHelloChk = true;
      return;
    case 'external-check':
      tooMany(words, 1, 'option external-check');
      if (!hasCap(d, 'be', name, where, ctx)) return;
      clearCheckType(o);
      o.externalCheck = true;
      return;
    case 'http-restrict-req-hdr-names':
      tooMany(words, 2, `option ${name}`);
      if (words[2] !== 'preserve') {
        if (words[2] === 'reject' || words[2] === 'delete') {
          throw new LineError(`'option ${name} ${words[2]}' is not supported yet`);
        }
        throw new LineError(`option '${name}' expects 'preserve', 'reject' or 'delete'.`);
      }
      o.other[name] = true;
      return;
    case 'originalto':
    case 'transparent':
      throw new LineError(`option '${name}' is not supported yet`);
  }
  if (UNSUPPORTED_CHECKS.has(name)) {
    throw new LineError(`'option ${name}' health checks are not supported yet (HTTP, TCP, TLS hello and external checks are)`);
  }
  throw new LineError(`unknown option '${name}'.`);
}

function isNetworkArg(s: string): boolean {
  return /^[0-9a-fA-F.:]+(\/[0-9.]+)?$/.test(s);
}

/**
 * `option httpchk [<method>] [<uri>] [<version>]`. Octavia 11 hides headers in the version
 * word: `HTTP/1.1\r\nHost:\ example.com` (the tokenizer has turned `\r\n` into CR LF).
 */
function parseHttpchk(args: string[]): HttpCheckRequest {
  let method = 'OPTIONS';
  let uri = '/';
  let version = 'HTTP/1.0';
  if (args.length === 1) uri = args[0]!;
  else if (args.length >= 2) {
    method = args[0]!;
    uri = args[1]!;
  }
  const headers: [string, string][] = [];
  if (args.length >= 3) {
    const v = args[2]!;
    if (v.includes('\r\n\r\n')) {
      throw new LineError(`'option httpchk' : a request body hidden in the version string is not supported yet`);
    }
    const [ver, ...lines] = v.split('\r\n');
    version = ver!;
    for (const l of lines) {
      if (l === '') continue;
      const colon = l.indexOf(':');
      if (colon <= 0) throw new LineError(`'option httpchk' : unable to parse the header line '${l}'`);
      headers.push([l.slice(0, colon).trim(), l.slice(colon + 1).trim()]);
    }
  }
  if (!/^[A-Za-z]+$/.test(method)) throw new LineError(`'option httpchk' : invalid method '${method}'`);
  return { method, uri, version, headers };
}

// --------------------------------------------------------------------------------- rules

type Phase = 'request' | 'response';

/** A sample needing data the rule's phase does not have: an error, as in HAProxy. */
function checkSamplePhase(fetch: SampleFetch, phase: Phase, what: string): void {
  const needs = samplePhase(fetch);
  if (needs === 'any' || needs === phase) return;
  throw new LineError(
    `sample fetch '${fetch.name}' may not be used in ${what}: it needs the ${needs}, which is not available there`,
  );
}

function checkFormatPhase(parts: FormatPart[], phase: Phase, what: string): void {
  for (const p of parts) if (p.kind === 'sample') checkSamplePhase(p.fetch, phase, what);
}

/** ACLs that can never match in this phase: HAProxy warns and keeps the rule. */
function warnConditionPhase(d: ProxyDraft, c: Condition | undefined, phase: Phase, what: string, where: Where, ctx: SectionContext): void {
  if (!c) return;
  for (const group of c.or) {
    for (const term of group) {
      const acls = typeof term.acl === 'string' ? (d.aclsByName.get(term.acl) ?? []) : [term.acl];
      const other = phase === 'request' ? 'response' : 'request';
      if (acls.length > 0 && acls.every((a) => samplePhase(a.fetch) === other)) {
        const name = typeof term.acl === 'string' ? term.acl : term.acl.name;
        ctx.warn(where, `acl '${name}' will never match in ${what} because it only involves keywords that need the ${other}.`);
      }
    }
  }
}

function cond(d: ProxyDraft, words: string[] | undefined, where: Where) {
  if (!words) return undefined;
  return parseCondition(words, (n) => d.aclsByName.has(n), where);
}

/** HAProxy processes http-request, then redirect, then use_backend, whatever the file order. */
function warnMisplaced(d: ProxyDraft, kind: 'http-request' | 'redirect' | 'use_backend', where: Where, ctx: SectionContext) {
  if (kind === 'http-request') {
    if (d.seen.redirect) ctx.warn(where, `a 'http-request' rule placed after a 'redirect' rule will still be processed before.`);
    else if (d.seen.useBackend) ctx.warn(where, `a 'http-request' rule placed after a 'use_backend' rule will still be processed before.`);
  } else if (kind === 'redirect') {
    if (d.seen.useBackend) ctx.warn(where, `a 'redirect' rule placed after a 'use_backend' rule will still be processed before.`);
  }
}

const HTTP_REQUEST_KNOWN = new Set(
  (
    'add-acl auth cache-use capture del-acl del-map disable-l7-retry do-resolve early-hint normalize-uri ' +
    'replace-header replace-path replace-pathq replace-uri replace-value return sc-add-gpc sc-inc-gpc ' +
    'sc-inc-gpc0 sc-inc-gpc1 sc-set-gpt0 send-spoe-group set-dst set-dst-port set-log-level set-map set-mark ' +
    'set-method set-nice set-path set-pathq set-priority-class set-priority-offset set-query set-src ' +
    'set-src-port set-timeout set-tos set-uri set-var set-var-fmt silent-drop strict-mode track-sc0 ' +
    'track-sc1 track-sc2 unset-var wait-for-body wait-for-handshake set-bandwidth-limit'
  ).split(' '),
);
const HTTP_RESPONSE_KNOWN = new Set(
  (
    'allow deny redirect add-acl capture del-acl del-map replace-header replace-value return sc-inc-gpc ' +
    'sc-inc-gpc0 sc-inc-gpc1 sc-set-gpt0 send-spoe-group set-log-level set-map set-mark set-nice set-status ' +
    'set-tos set-var set-var-fmt silent-drop strict-mode track-sc0 track-sc1 track-sc2 unset-var ' +
    'wait-for-body cache-store set-bandwidth-limit'
  ).split(' '),
);

function headerValue(words: string[], keyword: string): { name: string; value: string } {
  if (words.length !== 3) {
    throw new LineError(`'${keyword}' expects exactly 2 arguments (a header name and a value; escape spaces with '\\ ')`);
  }
  return { name: words[1]!, value: words[2]! };
}

function parseStatus(text: string | undefined, keyword: string): number {
  const n = parseInteger(text, keyword, 200, 599);
  return n;
}

function parseHttpRequest(d: ProxyDraft, words: string[], where: Where): HttpRequestRule {
  const { head, cond: condWords } = splitCondition(words.slice(1));
  const action = head[0];
  if (action === undefined) throw new LineError(`'http-request' expects an action`);
  const c = cond(d, condWords, where);
  const withCond = <T extends object>(r: T): T => (c ? { ...r, cond: c } : r);
  switch (action) {
    case 'deny':
    case 'tarpit': {
      let status: number | undefined;
      for (let i = 1; i < head.length; i++) {
        if (head[i] === 'deny_status' || head[i] === 'status') status = parseStatus(head[++i], `http-request ${action} ${head[i - 1]}`);
        else throw new LineError(`'http-request ${action}' option '${head[i]}' is not supported yet (only 'deny_status <code>')`);
      }
      return withCond(status === undefined ? { action, where } : { action, status, where });
    }
    case 'reject':
    case 'allow':
      if (head.length > 1) throw new LineError(`'http-request ${action}' takes no argument, got '${head[1]}'`);
      return withCond({ action, where });
    case 'set-header':
    case 'add-header': {
      const { name, value } = headerValue(head, `http-request ${action}`);
      return withCond({ action, name, value: parseFormat(value), where });
    }
    case 'del-header': {
      if (head.length === 4 && head[2] === '-m' && head[3] === 'str') head.length = 2;
      if (head.length !== 2) throw new LineError(`'http-request del-header' expects a header name (matching methods other than 'str' are not supported yet)`);
      return withCond({ action, name: head[1]!, where });
    }
    case 'redirect': {
      const redirect = parseRedirectWords(head.slice(1), undefined, where);
      if (!(redirect.type === 'prefix' && redirect.value === '/')) {
        redirect.format = parseFormat(redirect.value);
      }
      return withCond({ action, redirect, where });
    }
    case 'use-service': {
      if (head.length !== 2) throw new LineError(`'http-request use-service' expects a service name`);
      return withCond({ action, service: head[1]!, where });
    }
  }
  if (HTTP_REQUEST_KNOWN.has(action.replace(/\(.*$/, '')) || action.startsWith('lua.')) {
    throw new LineError(`'http-request ${action}' is not supported yet`);
  }
  throw new LineError(`'http-request' : unknown action '${action}'`);
}

function parseHttpResponse(d: ProxyDraft, words: string[], where: Where): HttpResponseRule {
  const { head, cond: condWords } = splitCondition(words.slice(1));
  const action = head[0];
  if (action === undefined) throw new LineError(`'http-response' expects an action`);
  const c = cond(d, condWords, where);
  const withCond = <T extends object>(r: T): T => (c ? { ...r, cond: c } : r);
  switch (action) {
    case 'set-header':
    case 'add-header': {
      const { name, value } = headerValue(head, `http-response ${action}`);
      return withCond({ action, name, value: parseFormat(value), where });
    }
    case 'del-header':
      if (head.length === 4 && head[2] === '-m' && head[3] === 'str') head.length = 2;
      if (head.length !== 2) throw new LineError(`'http-response del-header' expects a header name`);
      return withCond({ action, name: head[1]!, where });
  }
  if (HTTP_RESPONSE_KNOWN.has(action.replace(/\(.*$/, '')) || action.startsWith('lua.')) {
    throw new LineError(`'http-response ${action}' is not supported yet`);
  }
  throw new LineError(`'http-response' : unknown action '${action}'`);
}

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

/** `redirect location|prefix|scheme <x> [code <n>] [option]...` (condition split off already). */
function parseRedirectWords(words: string[], c: Redirect['cond'], where: Where): Redirect {
  let type: Redirect['type'] | undefined;
  let value = '';
  let code = 302;
  let dropQuery = false;
  let appendSlash = false;
  let setCookie: string | undefined;
  let clearCookie: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = (): string => {
      const v = words[++i];
      if (v === undefined) throw new LineError(`'redirect ${w}' expects an argument`);
      return v;
    };
    switch (w) {
      case 'location':
      case 'prefix':
      case 'scheme':
        if (type) throw new LineError(`'redirect' : '${w}' conflicts with '${type}'`);
        type = w;
        value = next();
        break;
      case 'code': {
        const n = parseInteger(next(), 'redirect code', 0, 999);
        if (!REDIRECT_CODES.has(n)) throw new LineError(`'redirect' : unsupported HTTP code '${n}' (301, 302, 303, 307, 308)`);
        code = n;
        break;
      }
      case 'drop-query':
        dropQuery = true;
        break;
      case 'append-slash':
        appendSlash = true;
        break;
      case 'set-cookie':
        setCookie = next();
        break;
      case 'clear-cookie':
        clearCookie = next();
        break;
      default:
        throw new LineError(
          `'redirect' expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query' or 'append-slash' (got '${w}')`,
        );
    }
  }
  if (!type) throw new LineError(`'redirect' expects 'location', 'prefix' or 'scheme' followed by a value`);
  const r: Redirect = { type, value, code, dropQuery, appendSlash, where };
  if (setCookie !== undefined) r.setCookie = setCookie;
  if (clearCookie !== undefined) r.clearCookie = clearCookie;
  if (c) r.cond = c;
  return r;
}

// ------------------------------------------------------------------------ backend pieces

const BALANCE: Record<string, BalanceAlgorithm> = {
  roundrobin: 'roundrobin',
  'static-rr': 'static-rr',
  leastconn: 'leastconn',
  first: 'first',
  source: 'source',
  uri: 'uri',
  url_param: 'url_param',
  random: 'random',
  hdr: 'hdr',
};

function parseBalance(words: string[]): Balance {
  const spec = words[1];
  if (spec === undefined) throw new LineError(`'balance' expects an algorithm`);
  const m = /^([a-z_-]+)(?:\((.*)\))?$/.exec(spec);
  const algo = m ? BALANCE[m[1]!] : undefined;
  if (!m || !algo) {
    if (m && (m[1] === 'rdp-cookie' || m[1] === 'hash')) throw new LineError(`'balance ${m[1]}' is not supported yet`);
    throw new LineError(
      `'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)', 'random', 'first' (got '${spec}')`,
    );
  }
  const args: string[] = [];
  if (m[2] !== undefined) {
    if (algo !== 'hdr' && algo !== 'random') throw new LineError(`'balance ${m[1]}' takes no parenthesized argument`);
    args.push(m[2]);
  } else if (algo === 'hdr') {
    throw new LineError(`'balance hdr' requires a header name: 'hdr(<name>)'`);
  }
  const rest = words.slice(2);
  switch (algo) {
    case 'roundrobin':
    case 'static-rr':
    case 'leastconn':
    case 'first':
    case 'source':
    case 'random':
      if (rest.length > 0) throw new LineError(`'balance ${m[1]}' takes no argument, got '${rest[0]}'`);
      break;
    case 'url_param':
      if (rest.length === 0) throw new LineError(`'balance url_param' requires a URL parameter name`);
      break;
    case 'hdr':
      if (rest.length > 1 || (rest.length === 1 && rest[0] !== 'use_domain_only')) {
        throw new LineError(`'balance hdr(${m[2]})' only accepts 'use_domain_only'`);
      }
      break;
  }
  args.push(...rest);
  return { algorithm: algo, args };
}

function parseHashType(words: string[]): NonNullable<Backend['hashType']> {
  const method = words[1];
  if (method !== 'map-based' && method !== 'consistent') {
    throw new LineError(`'hash-type' expects 'map-based' or 'consistent', got '${method ?? ''}'`);
  }
  const out: NonNullable<Backend['hashType']> = { method };
  let i = 2;
  if (words[i] !== undefined) {
    // HAProxy 2.6: a function must come before the modifier ('none' came later).
    if (!['sdbm', 'djb2', 'wt6', 'crc32'].includes(words[i]!)) {
      throw new LineError(`'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.`);
    }
    out.function = words[i++];
  }
  if (words[i] === 'avalanche') out.modifier = words[i++];
  if (words[i] !== undefined) throw new LineError(`'hash-type' : unknown argument '${words[i]}'`);
  return out;
}

function parseCookie(words: string[], where: Where): CookiePersistence {
  const name = words[1];
  if (name === undefined) throw new LineError(`'cookie' expects <cookie_name> as argument.`);
  const c: CookiePersistence = {
    name,
    mode: 'passive',
    indirect: false,
    nocache: false,
    postonly: false,
    preserve: false,
    httponly: false,
    secure: false,
    domain: [],
    where,
  };
  let modeSet = false;
  for (let i = 2; i < words.length; i++) {
    const w = words[i]!;
    switch (w) {
      case 'rewrite':
      case 'insert':
      case 'prefix':
        if (modeSet && c.mode !== w) throw new LineError(`'cookie' : '${w}' conflicts with '${c.mode}'`);
        c.mode = w;
        modeSet = true;
        break;
      case 'indirect':
      case 'nocache':
      case 'postonly':
      case 'preserve':
      case 'httponly':
      case 'secure':
        c[w] = true;
        break;
      case 'domain': {
        const dom = words[++i];
        if (dom === undefined) throw new LineError(`'cookie domain' expects a domain name`);
        c.domain.push(dom);
        break;
      }
      case 'maxidle':
      case 'maxlife': {
        const v = words[++i];
        c[w] = parseDuration(v, `cookie ${w}`);
        break;
      }
      case 'dynamic':
      case 'attr':
        throw new LineError(`'cookie ... ${w}' is not supported yet`);
      default:
        throw new LineError(
          `'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'preserve', 'httponly', 'secure', 'domain', 'maxidle', 'maxlife' (got '${w}')`,
        );
    }
  }
  return c;
}

function parseStickTable(words: string[], where: Where): StickTable {
  let type: StickTable['type'] | undefined;
  let len: number | undefined;
  let size: number | undefined;
  let expire: number | undefined;
  let peers: string | undefined;
  const store: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    const next = (): string => {
      const v = words[++i];
      if (v === undefined) throw new LineError(`'stick-table ${w}' expects an argument`);
      return v;
    };
    switch (w) {
      case 'type': {
        const t = next();
        if (t !== 'ip' && t !== 'ipv6' && t !== 'integer' && t !== 'string' && t !== 'binary') {
          throw new LineError(`'stick-table type' expects 'ip', 'ipv6', 'integer', 'string' or 'binary', got '${t}'`);
        }
        type = t;
        if ((t === 'string' || t === 'binary') && words[i + 1] === 'len') {
          i++;
          len = parseInteger(next(), 'stick-table len', 1, 65535);
        }
        break;
      }
      case 'size':
        size = parseSize(next(), 'stick-table size');
        break;
      case 'expire':
        expire = parseDuration(next(), 'stick-table expire');
        break;
      case 'peers':
        peers = next();
        break;
      case 'nopurge':
        break;
      case 'store':
        store.push(...next().split(','));
        break;
      case 'srvkey':
      case 'write-to':
        throw new LineError(`'stick-table ${w}' is not supported yet`);
      default:
        throw new LineError(`'stick-table' : unknown argument '${w}'`);
    }
  }
  if (!type) throw new LineError(`'stick-table' : missing 'type'`);
  if (size === undefined || size === 0) throw new LineError(`'stick-table' : missing or null 'size'`);
  const t: StickTable = { type, size, store, where };
  if (len !== undefined) t.len = len;
  else if (type === 'string') t.len = 32;
  if (expire !== undefined) t.expire = expire;
  if (peers !== undefined) t.peers = peers;
  return t;
}

function parseStick(d: ProxyDraft, words: string[], where: Where): StickRule {
  const kind = words[1];
  if (kind !== 'on' && kind !== 'match' && kind !== 'store-request' && kind !== 'store-response') {
    throw new LineError(`'stick' expects 'on', 'match', 'store-request' or 'store-response', got '${kind ?? ''}'`);
  }
  const { head, cond: condWords } = splitCondition(words.slice(2));
  const expr = head[0];
  if (expr === undefined) throw new LineError(`'stick ${kind}' expects a sample expression`);
  const rule: StickRule = { kind, fetch: parseSample(expr), where };
  for (let i = 1; i < head.length; i++) {
    if (head[i] === 'table' && head[i + 1] !== undefined) rule.table = head[++i];
    else throw new LineError(`'stick ${kind}' : unexpected '${head[i]}' (expects '[table <name>] [if|unless <cond>]')`);
  }
  const c = cond(d, condWords, where);
  if (c) rule.cond = c;
  return rule;
}

function parseHttpCheck(d: ProxyDraft, words: string[], where: Where): void {
  const sub = words[1];
  if (sub === 'expect') {
    let i = 2;
    let negate = false;
    if (words[i] === '!') {
      negate = true;
      i++;
    }
    const kind = words[i];
    if (kind !== 'status' && kind !== 'rstatus' && kind !== 'string' && kind !== 'rstring') {
      if (kind !== undefined && /^(min-recv|comment|ok-status|error-status|tout-status|on-success|on-error|status-code|hdr|fhdr|string-lf|rstring-lf)$/.test(kind)) {
        throw new LineError(`'http-check expect ${kind}' is not supported yet`);
      }
      throw new LineError(`'http-check expect' expects 'status', 'rstatus', 'string' or 'rstring', got '${kind ?? ''}'`);
    }
    const pattern = words[i + 1];
    if (pattern === undefined) throw new LineError(`'http-check expect ${kind}' expects a pattern`);
    tooMany(words, i + 1, `http-check expect ${kind}`);
    if (kind === 'rstatus' || kind === 'rstring') {
      try {
        new RegExp(pattern);
      } catch (e) {
        throw new LineError(`'http-check expect ${kind}' : regex '${pattern}' cannot be compiled: ${(e as Error).message}`);
      }
    }
    d.httpCheckExpect = { kind, negate, pattern, where };
    d.httpCheckWhere ??= where;
    return;
  }
  if (sub === 'send') {
    const rest = words.slice(2);
    for (let i = 0; i < rest.length; i++) {
      const w = rest[i];
      if (w === 'meth' || w === 'uri' || w === 'ver' || w === 'comment') {
        if (rest[++i] === undefined) throw new LineError(`'http-check send ${w}' expects an argument`);
      } else if (w === 'hdr') {
        if (rest[i + 1] === undefined || rest[i + 2] === undefined) {
          throw new LineError(`'http-check send hdr' expects <name> <value>`);
        }
        i += 2;
      } else if (w === 'body' || w === 'body-lf' || w === 'uri-lf') {
        throw new LineError(`'http-check send ${w}' is not supported yet`);
      } else {
        throw new LineError(`'http-check send' expects 'meth', 'uri', 'ver', 'hdr' or 'comment', got '${w}'`);
      }
    }
    d.httpCheckSend.push(rest);
    d.httpCheckWhere ??= where;
    return;
  }
  if (sub === 'disable-on-404' || sub === 'send-state' || sub === 'connect' || sub === 'comment' || sub === 'set-var' || sub === 'unset-var') {
    throw new LineError(`'http-check ${sub}' is not supported yet`);
  }
  throw new LineError(`'http-check' expects 'expect' or 'send', got '${sub ?? ''}'`);
}

// ------------------------------------------------------------------------------ keywords

/** Keywords refused with a precise message rather than "unknown". */
const NOT_YET = new Set([
  'errorfile',
  'errorfiles',
  'errorloc',
  'errorloc302',
  'errorloc303',
  'http-error',
  'capture',
  'compression',
  'stats',
  'monitor-uri',
  'monitor',
  'monitor-net',
  'unique-id-format',
  'unique-id-header',
  'rate-limit',
  'email-alert',
  'force-persist',
  'ignore-persist',
  'use-server',
  'persist',
  'source',
  'dispatch',
  'retry-on',
  'server-template',
  'dynamic-cookie-key',
  'filter',
  'declare',
  'http-after-response',
  'tcp-response',
  'log-format-sd',
  'http-send-name-header',
  'bind-process',
]);

const GONE: Record<string, string> = {
  clitimeout: "the 'clitimeout' directive is not supported any more since HAProxy 2.1, use 'timeout client'",
  srvtimeout: "the 'srvtimeout' directive is not supported any more since HAProxy 2.1, use 'timeout server'",
  contimeout: "the 'contimeout' directive is not supported any more since HAProxy 2.1, use 'timeout connect'",
  redispatch: "the 'redispatch' directive is not supported any more since HAProxy 2.1, use 'option redispatch'",
  reqadd: "'reqadd' is not supported any more since HAProxy 2.1, use 'http-request add-header'",
  block: "'block' is not supported any more since HAProxy 2.1, use 'http-request deny'",
};

/** Parse one line of a proxy or defaults section into the draft. */
export function proxyLine(d: ProxyDraft, words: string[], where: Where, ctx: SectionContext): void {
  const kw = words[0]!;
  // `no option x`, `no log`
  if (kw === 'no') {
    const what = words[1];
    if (what === 'option') return parseOption(d, words.slice(1), true, where, ctx);
    if (what === 'log') {
      tooMany(words, 1, 'no log');
      d.log = { global: false, disabled: true, targets: [], ...(d.log.format !== undefined ? { format: d.log.format } : {}) };
      return;
    }
    throw new LineError(`'no' is only supported before 'option' and 'log' (got 'no ${what ?? ''}')`);
  }
  if (kw === 'default') {
    throw new LineError(`'default ${words[1] ?? ''}' is not supported (use 'no option' or set the value again)`);
  }

  switch (kw) {
    case 'mode': {
      tooMany(words, 1, 'mode');
      const m = words[1];
      if (m === 'http' || m === 'tcp') d.mode = m;
      else if (m === 'health') throw new LineError(`'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead.`);
      else throw new LineError(`unknown proxy mode '${m ?? ''}'.`);
      return;
    }
    case 'bind':
      notInDefaults(d, kw);
      if (!hasCap(d, 'fe', kw, where, ctx)) return;
      d.binds.push(...parseBind(words, where, (m) => ctx.warn(where, m)));
      return;
    case 'maxconn':
      tooMany(words, 1, kw);
      if (!hasCap(d, 'fe', kw, where, ctx)) return;
      d.maxconn = parseInteger(words[1], kw, 0);
      return;
    case 'backlog':
      tooMany(words, 1, kw);
      if (!hasCap(d, 'fe', kw, where, ctx)) return;
      parseInteger(words[1], kw, 0);
      return;
    case 'fullconn':
      tooMany(words, 1, kw);
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      d.fullconn = parseInteger(words[1], kw, 0);
      return;
    case 'retries':
      tooMany(words, 1, kw);
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      d.retries = parseInteger(words[1], kw, 0);
      return;
    case 'timeout':
      return parseTimeout(d, words, where, ctx);
    case 'option':
      return parseOption(d, words, false, where, ctx);
    case 'log':
      if (words[1] === 'global') {
        tooMany(words, 1, 'log global');
        d.log.global = true;
        d.log.disabled = false;
        return;
      }
      d.log.targets.push(parseLogTarget(words, where));
      d.log.disabled = false;
      ctx.noteLogTarget(where);
      return;
    case 'log-format': {
      if (words.length !== 2) {
        throw new LineError(`'log-format' expects only one argument, don't forget to escape spaces ('\\ ')`);
      }
      for (const part of parseFormat(words[1]!)) {
        if (part.kind === 'sample' && !availableAtLog(part.fetch)) {
          throw new LineError(
            `sample fetch '${part.fetch.name}' may not be used in 'log-format': its data is gone when the log line is written (capture it, e.g. %[capture.req.uri], or use a log variable such as %HP)`,
          );
        }
      }
      if (d.kind === 'backend') {
        ctx.warn(where, `backend '${d.name}' : 'log-format' directive is ignored in backends.`);
        return;
      }
      d.log.format = words[1]!;
      d.logFormatWhere = where;
      return;
    }
    case 'log-tag':
    case 'description':
    case 'grace':
    case 'max-keep-alive-queue':
    case 'server-state-file-name':
      if (words[1] === undefined) throw new LineError(`'${kw}' expects an argument`);
      if (kw === 'grace') parseDuration(words[1], kw);
      if (kw === 'max-keep-alive-queue') parseInteger(words[1], kw, -1);
      return;
    case 'id': {
      notInDefaults(d, kw);
      tooMany(words, 1, kw);
      d.id = parseInteger(words[1], kw, 1);
      d.idWhere = where;
      return;
    }
    case 'disabled':
      tooMany(words, 0, kw);
      d.disabled = true;
      return;
    case 'enabled':
      tooMany(words, 0, kw);
      d.disabled = false;
      return;
    case 'acl': {
      notInDefaults(d, kw);
      const name = checkName(words[1], `'acl'`);
      if (words[2] === undefined) throw new LineError(`'acl ${name}' expects a fetch method`);
      const acl = parseAclExpr(name, words.slice(2), where);
      d.acls.push(acl);
      const same = d.aclsByName.get(name);
      if (same) same.push(acl);
      else d.aclsByName.set(name, [acl]);
      return;
    }
    case 'http-request': {
      notInDefaults(d, kw);
      const rule = parseHttpRequest(d, words, where);
      if (rule.action === 'set-header' || rule.action === 'add-header') checkFormatPhase(rule.value, 'request', "'http-request' rules");
      warnConditionPhase(d, rule.cond, 'request', "'http-request' rules", where, ctx);
      if (d.fe) warnMisplaced(d, 'http-request', where, ctx);
      d.seen.httpRequest = true;
      d.httpRequest.push(rule);
      return;
    }
    case 'http-response': {
      notInDefaults(d, kw);
      const rule = parseHttpResponse(d, words, where);
      if (rule.action !== 'del-header') checkFormatPhase(rule.value, 'response', "'http-response' rules");
      warnConditionPhase(d, rule.cond, 'response', "'http-response' rules", where, ctx);
      d.httpResponse.push(rule);
      return;
    }
    case 'redirect': {
      notInDefaults(d, kw);
      if (d.kind === 'backend') throw new LineError(`'redirect' in a backend section is not supported yet (use it in the frontend)`);
      const { head, cond: condWords } = splitCondition(words.slice(1));
      const r = parseRedirectWords(head, cond(d, condWords, where), where);
      warnConditionPhase(d, r.cond, 'request', "'redirect' rules", where, ctx);
      warnMisplaced(d, 'redirect', where, ctx);
      d.seen.redirect = true;
      d.redirects.push(r);
      return;
    }
    case 'use_backend': {
      notInDefaults(d, kw);
      if (!hasCap(d, 'fe', kw, where, ctx)) return;
      const { head, cond: condWords } = splitCondition(words.slice(1));
      const backend = head[0];
      if (backend === undefined) throw new LineError(`'use_backend' expects a backend name.`);
      if (head.length > 1) throw new LineError(`'use_backend' : unexpected '${head[1]}' (expects 'if' or 'unless')`);
      if (backend.includes('%[')) throw new LineError(`'use_backend' with a dynamic name ('${backend}') is not supported yet`);
      const u: UseBackend = { backend, where };
      const c = cond(d, condWords, where);
      if (c) u.cond = c;
      warnConditionPhase(d, c, 'request', "'use_backend' rules", where, ctx);
      d.seen.useBackend = true;
      d.useBackends.push(u);
      return;
    }
    case 'default_backend':
      if (!hasCap(d, 'fe', kw, where, ctx)) return;
      if (words[1] === undefined) throw new LineError(`'default_backend' expects a backend name.`);
      tooMany(words, 1, kw);
      if (words[1].includes('%[')) throw new LineError(`'default_backend' with a dynamic name is not supported`);
      d.defaultBackend = words[1];
      d.defaultBackendWhere = where;
      return;
    case 'tcp-request': {
      if (words[1] === 'inspect-delay') {
        tooMany(words, 2, 'tcp-request inspect-delay');
        parseDuration(words[2], 'tcp-request inspect-delay');
        d.tcpRequest.push({ words: words.slice(1), where });
        return;
      }
      if (words[1] === 'content' || words[1] === 'connection' || words[1] === 'session') {
        throw new LineError(`'tcp-request ${words[1]}' rules are not supported yet`);
      }
      throw new LineError(`'tcp-request' expects 'inspect-delay', 'content', 'connection' or 'session', got '${words[1] ?? ''}'`);
    }
    case 'balance':
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      d.balance = parseBalance(words);
      return;
    case 'hash-type':
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      d.hashType = parseHashType(words);
      return;
    case 'server':
      notInDefaults(d, kw);
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      {
        const s = parseServer(words, where, d.defaultServer);
        const dup = d.serversByName.get(s.name);
        if (dup) {
          throw new LineError(
            `${proxyType(d)} '${d.name}' has a server named '${s.name}' already declared at ${dup.where.file}:${dup.where.line}`,
          );
        }
        d.servers.push(s);
        d.serversByName.set(s.name, s);
      }
      return;
    case 'default-server':
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      applyServerKeywords(d.defaultServer, words, 1, true);
      return;
    case 'cookie':
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      d.cookie = parseCookie(words, where);
      return;
    case 'stick-table':
      notInDefaults(d, kw);
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      if (d.stickTable) throw new LineError(`only one stick-table per proxy is supported (see line ${d.stickTable.where.line})`);
      d.stickTable = parseStickTable(words, where);
      return;
    case 'stick':
      notInDefaults(d, kw);
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      {
        const rule = parseStick(d, words, where);
        const phase = rule.kind === 'store-response' ? 'response' : 'request';
        checkSamplePhase(rule.fetch, phase, `'stick ${rule.kind}'`);
        d.stickRules.push(rule);
      }
      return;
    case 'http-check':
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      parseHttpCheck(d, words, where);
      return;
    case 'external-check': {
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      const what = words[1];
      if (what !== 'command' && what !== 'path') throw new LineError(`'external-check' expects 'command' or 'path', got '${what ?? ''}'`);
      if (words[2] === undefined) throw new LineError(`'external-check ${what}' expects an argument`);
      tooMany(words, 2, `external-check ${what}`);
      if (what === 'command') d.externalCheckCommand = words[2];
      else d.externalCheckPath = words[2];
      d.externalCheckWhere = where;
      return;
    }
    case 'load-server-state-from-file': {
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      const v = words[1];
      if (v !== 'global' && v !== 'local' && v !== 'none') {
        throw new LineError(`'load-server-state-from-file' expects 'global', 'local' or 'none'. Got '${v ?? ''}'`);
      }
      tooMany(words, 1, kw);
      d.loadServerStateFromFile = v;
      return;
    }
    case 'http-reuse': {
      if (!hasCap(d, 'be', kw, where, ctx)) return;
      const v = words[1];
      if (v !== 'never' && v !== 'safe' && v !== 'aggressive' && v !== 'always') {
        throw new LineError(`'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'`);
      }
      tooMany(words, 1, kw);
      d.httpReuse = v;
      return;
    }
  }
  if (GONE[kw]) throw new LineError(GONE[kw]);
  if (NOT_YET.has(kw)) throw new LineError(`'${kw}' is not supported yet`);
  throw new LineError(`unknown keyword '${kw}' in '${d.kind}' section`);
}

// ------------------------------------------------------------------------- end of section

/**
 * Turn a finished draft into model objects, applying HAProxy's end-of-section rules (mode
 * tcp ignores HTTP-only settings, http-check rules need `option httpchk`, ...).
 * `errors` receives fatal problems, `ctx.warn` the rest.
 */
export function finishProxy(
  d: ProxyDraft,
  ctx: SectionContext,
  errors: ConfigMessage[],
): { frontend?: Frontend; backend?: Backend } {
  const type = proxyType(d);

  // http-check send: merge meth/uri/ver/hdr into option httpchk, as HAProxy 2.2+ does.
  if (d.be && (d.httpCheckSend.length > 0 || d.httpCheckExpect)) {
    const chk = d.options.httpchk;
    if (!chk) {
      ctx.warn(d.httpCheckWhere ?? d.where, `${type} '${d.name}' uses http-check rules without 'option httpchk', so the rules are ignored.`);
    } else {
      for (const send of d.httpCheckSend) {
        for (let i = 0; i < send.length; i++) {
          const w = send[i];
          if (w === 'meth') chk.method = send[++i]!;
          else if (w === 'uri') chk.uri = send[++i]!;
          else if (w === 'ver') chk.version = send[++i]!;
          else if (w === 'hdr') {
            chk.headers.push([send[i + 1]!, send[i + 2]!]);
            i += 2;
          } else if (w === 'comment') i++;
        }
      }
    }
  }
  if (d.options.externalCheck && d.be) {
    if (!d.externalCheckCommand) {
      errors.push({ where: d.where, message: `Proxy '${d.name}' : 'option external-check' unable to find required 'external-check command'.` });
    }
  }
  if (d.be && d.externalCheckCommand && !d.options.externalCheck) {
    ctx.warn(d.externalCheckWhere ?? d.where, `'external-check command' will be ignored for ${type} '${d.name}' (requires 'option external-check').`);
  }
  if (d.be && d.externalCheckCommand && !d.externalCheckCommand.startsWith('/') && !d.externalCheckPath) {
    errors.push({
      where: d.externalCheckWhere ?? d.where,
      message: `Proxy '${d.name}': 'external-check command' does not have a leading '/' and 'external-check path' is not set.`,
    });
  }

  if (d.mode !== 'http' && d.kind !== 'defaults') {
    if (d.httpRequest.length > 0) {
      ctx.warn(d.where, `'http-request' rules ignored for ${type} '${d.name}' as they require HTTP mode.`);
      d.httpRequest = [];
    }
    if (d.httpResponse.length > 0) {
      ctx.warn(d.where, `'http-response' rules ignored for ${type} '${d.name}' as they require HTTP mode.`);
      d.httpResponse = [];
    }
    if (d.redirects.length > 0) {
      ctx.warn(d.where, `'redirect' rules ignored for ${type} '${d.name}' as they require HTTP mode.`);
      d.redirects = [];
    }
    if (d.options.forwardfor) {
      ctx.warn(d.where, `'option forwardfor' ignored for ${type} '${d.name}' as it requires HTTP mode.`);
      delete d.options.forwardfor;
    }
    if (d.cookie && d.be) {
      ctx.warn(d.cookie.where, `cookie will be ignored for ${type} '${d.name}' (needs 'mode http').`);
      d.cookie = undefined;
    }
    if (d.be && (d.balance.algorithm === 'uri' || d.balance.algorithm === 'url_param' || d.balance.algorithm === 'hdr')) {
      ctx.warn(d.where, `Layer 7 hash not possible for ${type} '${d.name}' (needs 'mode http'). Falling back to round robin.`);
      d.balance = { algorithm: 'roundrobin', args: [] };
    }
    if (d.options.httplog && d.fe) {
      ctx.warn(
        d.httplogWhere ?? d.where,
        `'option httplog' not usable with ${type} '${d.name}' (needs 'mode http'). Falling back to 'option tcplog'.`,
      );
      d.options.httplog = false;
      d.options.tcplog = true;
    }
  }
  if (d.kind !== 'defaults' && d.fe && d.log.format !== undefined && !d.log.global && d.log.targets.length === 0) {
    ctx.warn(d.logFormatWhere ?? d.where, `log format ignored for ${type} '${d.name}' since it has no log address.`);
  }
  const needs: string[] = [];
  if (d.fe && d.timeouts.client === undefined) needs.push('client');
  if (d.be && d.timeouts.connect === undefined) needs.push('connect');
  if (d.be && d.timeouts.server === undefined) needs.push('server');
  if (needs.length > 0 && !d.disabled) {
    ctx.warn(
      d.where,
      `missing timeouts for ${type} '${d.name}'. While not properly invalid, you will certainly encounter various problems with such a configuration. To fix this, please ensure that all following timeouts are set to a non-zero value: ${needs.map((n) => `'${n}'`).join(', ')}.`,
    );
  }

  const out: { frontend?: Frontend; backend?: Backend } = {};
  const listen = d.kind === 'listen';
  if (d.fe) {
    const fe: Frontend = {
      name: d.name,
      mode: d.mode,
      binds: d.binds,
      timeouts: structuredClone(d.timeouts),
      options: structuredClone(d.options),
      log: structuredClone(d.log),
      acls: d.acls,
      httpRequest: d.httpRequest,
      httpResponse: d.httpResponse,
      redirects: d.redirects,
      useBackends: d.useBackends,
      tcpRequest: d.tcpRequest,
      fromListen: listen,
      disabled: d.disabled,
      where: d.where,
    };
    if (d.maxconn !== undefined) fe.maxconn = d.maxconn;
    // A listen section routes to itself unless its own default_backend says otherwise.
    // A listen section routes to itself, unless it has (or inherited, as HAProxy does) a
    // default_backend.
    if (listen) fe.defaultBackend = d.defaultBackend ?? d.name;
    else if (d.defaultBackend !== undefined) fe.defaultBackend = d.defaultBackend;
    if (d.id !== undefined) fe.id = d.id;
    out.frontend = fe;
  }
  if (d.be) {
    const be: Backend = {
      name: d.name,
      mode: d.mode,
      balance: d.balance,
      servers: d.servers,
      timeouts: structuredClone(d.timeouts),
      options: structuredClone(d.options),
      log: structuredClone(d.log),
      acls: listen ? structuredClone(d.acls) : d.acls,
      // A listen section's rules run once, on its frontend side.
      httpRequest: listen ? [] : d.httpRequest,
      httpResponse: listen ? [] : d.httpResponse,
      stickRules: d.stickRules,
      httpCheckSend: d.httpCheckSend,
      fromListen: listen,
      disabled: d.disabled,
      where: d.where,
    };
    if (d.retries !== undefined) be.retries = d.retries;
    if (d.fullconn !== undefined) be.fullconn = d.fullconn;
    if (d.httpReuse !== undefined) be.httpReuse = d.httpReuse;
    if (d.hashType !== undefined) be.hashType = d.hashType;
    if (d.cookie !== undefined) be.cookie = d.cookie;
    if (d.stickTable !== undefined) be.stickTable = d.stickTable;
    if (d.httpCheckExpect !== undefined) be.httpCheckExpect = d.httpCheckExpect;
    if (d.externalCheckCommand !== undefined) be.externalCheckCommand = d.externalCheckCommand;
    if (d.externalCheckPath !== undefined) be.externalCheckPath = d.externalCheckPath;
    if (d.loadServerStateFromFile !== undefined) be.loadServerStateFromFile = d.loadServerStateFromFile;
    if (d.id !== undefined) be.id = d.id;
    out.backend = be;
  }
  return out;
}
