// Mode-http rules compiled once per plan: ACLs and conditions become closures over the
// transaction (message.ts), rules become plain records an evaluation loop walks.
//
// HAProxy evaluates in its own order, not file order: the frontend's http-request rules,
// then its `redirect` rules, then `use_backend` in order, then `default_backend`, then the
// backend's http-request rules (unless the backend is the frontend's own `listen`), then
// `option forwardfor`. http-response rules run backend first, then frontend. So a `deny`
// written after a `use_backend` still denies before any backend is chosen.
//
// Nothing here is looked up by name per request: header names are lowercased into Buffers,
// literal header lines are precomputed, regexes are compiled, ACL names are resolved.

import { Buffer } from 'node:buffer';
import net from 'node:net';
import { hostname } from 'node:os';
import type {
  Acl,
  Backend,
  Condition,
  FormatPart,
  Frontend,
  HttpRequestRule,
  HttpResponseRule,
  ProxyOptions,
  Redirect,
  SampleFetch,
} from '../config/model.ts';
import type { BackendPlan } from '../compile/plan.ts';
import { redirectPrefix, redirectSuffix } from './errors.ts';
import type { Matcher, Message, Txn } from './message.ts';

/** A compiled condition. */
export type Pred = (t: Txn) => boolean;

export const A_ALLOW = 0;
export const A_DENY = 1;
export const A_REJECT = 2;
export const A_SET_HEADER = 3;
export const A_ADD_HEADER = 4;
export const A_DEL_HEADER = 5;
export const A_REDIRECT = 6;

/** One http-request / http-response rule. */
export interface HttpRule {
  action: number;
  cond: Pred | undefined;
  /** Header name as configured, lowercased (HAProxy writes the names it adds in lower case). */
  name: string;
  nameBuf: Buffer;
  value: Format | undefined;
  /** `name: value\r\n` when the value is literal. */
  line: string | undefined;
  /** deny status. */
  status: number;
  redirect: RedirectPlan | undefined;
}

/** A compiled log-format string. */
export interface Format {
  /** Set when every part is literal text. */
  literal: string | undefined;
  parts: FormatItem[];
}

type FormatItem = string | ((t: Txn) => string);

export const R_LOCATION = 0;
export const R_PREFIX = 1;
export const R_SCHEME = 2;

export interface RedirectPlan {
  type: number;
  value: string;
  /** `http-request redirect`: the value is a log-format evaluated per request. */
  format: Format | undefined;
  code: number;
  dropQuery: boolean;
  appendSlash: boolean;
  cond: Pred | undefined;
  /** Status line and headers before the Location value. */
  prefix: string;
  /** After the Location value: CRLF, cache-control, set-cookie lines (no final CRLF). */
  suffix: string;
}

export interface ForwardForPlan {
  /** Header name, lowercase. */
  name: string;
  nameBuf: Buffer;
  ifNone: boolean;
  /** Client networks for which no header is added (`except`). */
  except: net.BlockList | undefined;
}

export interface SwitchRule {
  cond: Pred | undefined;
  backend: BackendPlan | undefined;
}

/** FrontendPlan.http */
export interface FrontendHttp {
  name: string;
  requestRules: HttpRule[];
  redirects: RedirectPlan[];
  switching: SwitchRule[];
  defaultBackend: BackendPlan | undefined;
  responseRules: HttpRule[];
  forwardFor: ForwardForPlan | undefined;
  /** Came from a `listen`: the backend of the same name shares its rules (run once). */
  fromListen: boolean;
  /**
   * `option http-ignore-probes`: a connection that closes or times out before its first byte
   * is closed silently, not answered 400/408 and counted as a request error (browsers'
   * pre-connects). `option dontlognull` changes only logging, not this.
   */
  ignoreProbes: boolean;
  /** `option http-server-close` / `httpclose` / `http-keep-alive` resolved (keep-alive by default). */
  closeMode: number;
}

/** BackendPlan.http */
export interface BackendHttp {
  name: string;
  requestRules: HttpRule[];
  responseRules: HttpRule[];
  forwardFor: ForwardForPlan | undefined;
  fromListen: boolean;
  closeMode: number;
}

/** Connection modes (HAProxy's PR_O_HTTP_*). */
export const MODE_KEEP_ALIVE = 0;
export const MODE_SERVER_CLOSE = 1;
export const MODE_CLOSE = 2;

// --------------------------------------------------------------------------- compile

export function compileFrontendHttp(fe: Frontend, backends: Map<string, BackendPlan>): FrontendHttp {
  const acls = groupAcls(fe.acls);
  const switching: SwitchRule[] = [];
  for (const u of fe.useBackends) {
    switching.push({ cond: compileCondition(u.cond, acls), backend: backends.get(u.backend) });
  }
  return {
    name: fe.name,
    requestRules: fe.httpRequest.map((r) => compileRequestRule(r, acls)),
    redirects: fe.redirects.map((r) => compileRedirect(r, compileCondition(r.cond, acls))),
    switching,
    defaultBackend: fe.defaultBackend !== undefined ? backends.get(fe.defaultBackend) : undefined,
    responseRules: fe.httpResponse.map((r) => compileResponseRule(r, acls)),
    forwardFor: compileForwardFor(fe.options),
    fromListen: fe.fromListen,
    ignoreProbes: fe.options.httpIgnoreProbes === true,
    closeMode: closeMode(fe.options),
  };
}

export function compileBackendHttp(be: Backend): BackendHttp {
  const acls = groupAcls(be.acls);
  return {
    name: be.name,
    requestRules: be.httpRequest.map((r) => compileRequestRule(r, acls)),
    responseRules: be.httpResponse.map((r) => compileResponseRule(r, acls)),
    forwardFor: compileForwardFor(be.options),
    fromListen: be.fromListen,
    closeMode: closeMode(be.options),
  };
}

function closeMode(o: ProxyOptions): number {
  if (o.httpClose) return MODE_CLOSE;
  if (o.httpServerClose) return MODE_SERVER_CLOSE;
  return MODE_KEEP_ALIVE;
}

function compileForwardFor(o: ProxyOptions): ForwardForPlan | undefined {
  const ff = o.forwardfor;
  if (!ff) return undefined;
  const name = (ff.header || 'X-Forwarded-For').toLowerCase();
  let except: net.BlockList | undefined;
  if (ff.except) {
    except = new net.BlockList();
    addNetwork(except, ff.except);
  }
  return { name, nameBuf: Buffer.from(name, 'latin1'), ifNone: ff.ifNone, except };
}

/** ACLs by name; several lines with one name are ORed, as HAProxy does. */
function groupAcls(acls: Acl[]): Map<string, Pred> {
  const byName = new Map<string, Pred[]>();
  for (const acl of acls) {
    let list = byName.get(acl.name);
    if (!list) byName.set(acl.name, (list = []));
    list.push(compileAcl(acl));
  }
  const out = new Map<string, Pred>();
  for (const [name, preds] of byName) out.set(name, anyOf(preds));
  return out;
}

function anyOf(preds: Pred[]): Pred {
  if (preds.length === 1) return preds[0]!;
  return (t) => {
    for (let i = 0; i < preds.length; i++) if (preds[i]!(t)) return true;
    return false;
  };
}

export function compileCondition(cond: Condition | undefined, acls: Map<string, Pred>): Pred | undefined {
  if (!cond) return undefined;
  const groups: { pred: Pred; negate: boolean }[][] = cond.or.map((group) =>
    group.map((term) => ({
      pred: typeof term.acl === 'string' ? (acls.get(term.acl) ?? builtinAcl(term.acl)) : compileAcl(term.acl),
      negate: term.negate,
    })),
  );
  const unless = cond.kind === 'unless';
  // Common shapes get straight-line closures.
  if (groups.length === 1 && groups[0]!.length === 1) {
    const { pred, negate } = groups[0]![0]!;
    return negate !== unless ? (t) => !pred(t) : pred;
  }
  return (t) => {
    let result = false;
    for (let g = 0; g < groups.length && !result; g++) {
      const terms = groups[g]!;
      let all = true;
      for (let i = 0; i < terms.length; i++) {
        const term = terms[i]!;
        if (term.pred(t) === term.negate) {
          all = false;
          break;
        }
      }
      result = all;
    }
    return result !== unless;
  };
}

/** HAProxy's predefined ACLs usable by name without an `acl` line. */
function builtinAcl(name: string): Pred {
  switch (name) {
    case 'TRUE':
      return () => true;
    case 'METH_GET':
      return (t) => t.method === 'GET' || t.method === 'HEAD';
    case 'METH_POST':
      return (t) => t.method === 'POST';
    case 'METH_HEAD':
      return (t) => t.method === 'HEAD';
    case 'METH_PUT':
      return (t) => t.method === 'PUT';
    case 'METH_OPTIONS':
      return (t) => t.method === 'OPTIONS';
    case 'METH_CONNECT':
      return (t) => t.method === 'CONNECT';
    case 'METH_TRACE':
      return (t) => t.method === 'TRACE';
    case 'HTTP_1.0':
      return (t) => t.req.head.version === 10;
    case 'HTTP_1.1':
      return (t) => t.req.head.version === 11;
    case 'HTTP':
      return () => true;
    case 'HTTP_URL_ABS':
      return (t) => /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(t.url());
    case 'HTTP_URL_SLASH':
      return (t) => t.url().startsWith('/');
    case 'HTTP_URL_STAR':
      return (t) => t.url() === '*';
    case 'HTTP_CONTENT':
      return (t) => t.req.head.contentLength > 0 || t.req.head.chunked;
    case 'REQ_CONTENT':
      return (t) => t.req.head.contentLength > 0 || t.req.head.chunked;
    case 'LOCALHOST':
      return (t) => t.src === '127.0.0.1' || t.src === '::1';
    case 'FALSE':
    default:
      return () => false;
  }
}

// ------------------------------------------------------------------------ ACL matching

/** Kinds of sample a fetch yields. */
const K_STR = 0;
const K_INT = 1;
const K_BOOL = 2;

interface CompiledFetch {
  kind: number;
  /** Single value (formats, non-header ACLs). */
  get: (t: Txn) => string | number | boolean | undefined;
  /** Multi-valued fetches (headers, cookies): whether some value satisfies m. */
  any?: (t: Txn, m: Matcher) => boolean;
  /** The value as text, when cheaper than converting get() (formats). */
  text?: (t: Txn) => string;
}

function compileFetch(f: SampleFetch): CompiledFetch {
  switch (f.name) {
    case 'path':
    case 'path_beg':
    case 'path_end':
    case 'path_sub':
    case 'path_reg':
    case 'path_dir':
    case 'path_dom':
    case 'path_len':
      return { kind: K_STR, get: (t) => t.path() };
    case 'url':
    case 'url_beg':
    case 'url_end':
    case 'url_sub':
    case 'url_reg':
    case 'url_dir':
    case 'url_dom':
      return { kind: K_STR, get: (t) => t.url() };
    case 'method':
      return { kind: K_STR, get: (t) => t.method };
    case 'req.hdr':
    case 'hdr':
    case 'req.fhdr':
    case 'hdr_beg':
    case 'hdr_end':
    case 'hdr_sub':
    case 'hdr_reg':
    case 'hdr_dir':
    case 'hdr_dom':
    case 'hdr_len':
    case 'hdr_cnt': {
      const name = (f.args[0] ?? '').toLowerCase();
      const nameBuf = Buffer.from(name, 'latin1');
      const occ = f.args[1] !== undefined ? Number.parseInt(f.args[1], 10) || 0 : 0;
      const split = f.name !== 'req.fhdr';
      return {
        kind: K_STR,
        get: (t) => t.req.headerValue(nameBuf, name, split, occ),
        any: (t, m) => t.req.matchHeader(nameBuf, name, split, occ, m),
      };
    }
    case 'req.cook':
    case 'cook':
    case 'cook_beg':
    case 'cook_end':
    case 'cook_sub':
    case 'cook_reg':
    case 'cook_len': {
      const name = f.args[0] ?? '';
      return { kind: K_STR, get: (t) => t.cookie(name), any: (t, m) => t.matchCookie(name, m) };
    }
    case 'src':
      return { kind: K_STR, get: (t) => t.src };
    case 'dst':
      return { kind: K_STR, get: (t) => t.dst };
    case 'src_port':
      return { kind: K_INT, get: (t) => t.srcPort, text: (t) => t.srcPortText };
    case 'dst_port':
      return { kind: K_INT, get: (t) => t.dstPort, text: (t) => t.dstPortText };
    case 'ssl_fc':
      return { kind: K_BOOL, get: (t) => t.sslFc };
    case 'always_true':
      return { kind: K_BOOL, get: () => true };
    case 'always_false':
      return { kind: K_BOOL, get: () => false };
    default:
      // support.ts refuses configs using other fetches; a fetch that yields nothing.
      return { kind: K_STR, get: () => undefined };
  }
}

/** Converters applied to a string sample. */
function compileConverters(convs: SampleFetch['converters']): ((v: string) => string) | undefined {
  if (convs.length === 0) return undefined;
  const fns = convs.map((c): ((v: string) => string) => {
    switch (c.name) {
      case 'lower':
        return (v) => v.toLowerCase();
      case 'upper':
        return (v) => v.toUpperCase();
      case 'hex':
        return (v) => Buffer.from(v, 'latin1').toString('hex').toUpperCase();
      default:
        return (v) => v;
    }
  });
  if (fns.length === 1) return fns[0];
  return (v) => {
    for (const fn of fns) v = fn(v);
    return v;
  };
}

function asString(v: string | number | boolean): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : v ? '1' : '0';
}

export function compileAcl(acl: Acl): Pred {
  const fetch = compileFetch(acl.fetch);
  const conv = compileConverters(acl.fetch.converters);
  if (acl.match === 'found') {
    if (fetch.any) return (t) => fetch.any!(t, ALWAYS);
    return (t) => fetch.get(t) !== undefined;
  }
  if (acl.match === 'bool') {
    return (t) => {
      const v = fetch.get(t);
      if (v === undefined) return false;
      if (typeof v === 'boolean') return v;
      if (typeof v === 'number') return v !== 0;
      return toInt(conv ? conv(v) : v) !== 0;
    };
  }
  if (acl.match === 'int') {
    const test = intMatcher(acl.patterns);
    return valuePred(fetch, conv, (v) => test(toInt(v)), (n) => test(n));
  }
  if (acl.match === 'len') {
    const test = intMatcher(acl.patterns);
    return valuePred(fetch, conv, (v) => test(v.length), (n) => test(String(n).length));
  }
  if (acl.match === 'ip') {
    const list = new net.BlockList();
    for (const p of acl.patterns) addNetwork(list, p);
    return valuePred(fetch, conv, (v) => ipIn(list, v), () => false);
  }
  const m = stringMatcher(acl.match, acl.patterns, acl.ignoreCase);
  return valuePred(fetch, conv, m, (n) => m(String(n)));
}

const ALWAYS: Matcher = () => true;

function valuePred(
  fetch: CompiledFetch,
  conv: ((v: string) => string) | undefined,
  onString: Matcher,
  onNumber: (n: number) => boolean,
): Pred {
  const m: Matcher = conv ? (v) => onString(conv(v)) : onString;
  if (fetch.any) {
    const any = fetch.any;
    return (t) => any(t, m);
  }
  const get = fetch.get;
  return (t) => {
    const v = get(t);
    if (v === undefined) return false;
    if (typeof v === 'string') return m(v);
    if (typeof v === 'number' && !conv) return onNumber(v);
    return m(asString(v));
  };
}

/** String matchers by method; -i compares lowercase copies. No pattern: never matches. */
function stringMatcher(method: string, patterns: string[], icase: boolean): Matcher {
  if (patterns.length === 0) return () => false;
  if (method === 'reg') {
    const res = patterns.map((p) => new RegExp(p, icase ? 'i' : ''));
    if (res.length === 1) {
      const re = res[0]!;
      return (v) => re.test(v);
    }
    return (v) => res.some((re) => re.test(v));
  }
  const pats = icase ? patterns.map((p) => p.toLowerCase()) : patterns;
  const norm = icase ? (v: string) => v.toLowerCase() : (v: string) => v;
  switch (method) {
    case 'beg':
      return (v) => {
        const s = norm(v);
        for (const p of pats) if (s.startsWith(p)) return true;
        return false;
      };
    case 'end':
      return (v) => {
        const s = norm(v);
        for (const p of pats) if (s.endsWith(p)) return true;
        return false;
      };
    case 'sub':
      return (v) => {
        const s = norm(v);
        for (const p of pats) if (s.includes(p)) return true;
        return false;
      };
    case 'dir':
      return (v) => {
        const s = norm(v);
        for (const p of pats) if (delimited(s, p, DIR_DELIMS)) return true;
        return false;
      };
    case 'dom':
      return (v) => {
        const s = norm(v);
        for (const p of pats) if (delimited(s, p, DOM_DELIMS)) return true;
        return false;
      };
    case 'str':
    default: {
      if (pats.length === 1) {
        const p = pats[0]!;
        return icase ? (v) => v.length === p.length && v.toLowerCase() === p : (v) => v === p;
      }
      const set = new Set(pats);
      return (v) => set.has(norm(v));
    }
  }
}

const DIR_DELIMS = '/?';
const DOM_DELIMS = '/?.:';

/**
 * HAProxy's dir/dom matching: the pattern (its own leading/trailing delimiters ignored)
 * appears in the value bounded by delimiters or the ends of the value.
 */
function delimited(value: string, pattern: string, delims: string): boolean {
  let a = 0;
  let b = pattern.length;
  while (a < b && delims.includes(pattern[a]!)) a++;
  while (b > a && delims.includes(pattern[b - 1]!)) b--;
  const p = pattern.slice(a, b);
  if (p.length === 0) return false;
  let from = 0;
  for (;;) {
    const i = value.indexOf(p, from);
    if (i < 0) return false;
    const before = i === 0 || delims.includes(value[i - 1]!);
    const j = i + p.length;
    const after = j === value.length || delims.includes(value[j]!);
    if (before && after) return true;
    from = i + 1;
  }
}

function toInt(v: string): number {
  const n = Number.parseInt(v, 10);
  return Number.isNaN(n) ? 0 : n;
}

/** Integer patterns: `N`, `N:M`, `:M`, `N:`, or an operator word (eq ge gt le lt) and N. */
function intMatcher(patterns: string[]): (n: number) => boolean {
  const ranges: [number, number][] = [];
  for (let i = 0; i < patterns.length; i++) {
    const w = patterns[i]!;
    const op = w === 'eq' || w === 'ge' || w === 'gt' || w === 'le' || w === 'lt' ? w : undefined;
    if (op) {
      const n = Number(patterns[++i]);
      if (Number.isNaN(n)) continue;
      if (op === 'eq') ranges.push([n, n]);
      else if (op === 'ge') ranges.push([n, Infinity]);
      else if (op === 'gt') ranges.push([n + 1, Infinity]);
      else if (op === 'le') ranges.push([-Infinity, n]);
      else ranges.push([-Infinity, n - 1]);
      continue;
    }
    const colon = w.indexOf(':');
    if (colon < 0) {
      const n = Number(w);
      if (!Number.isNaN(n)) ranges.push([n, n]);
    } else {
      const lo = colon === 0 ? -Infinity : Number(w.slice(0, colon));
      const hi = colon === w.length - 1 ? Infinity : Number(w.slice(colon + 1));
      if (!Number.isNaN(lo) && !Number.isNaN(hi)) ranges.push([lo, hi]);
    }
  }
  return (n) => {
    for (const [lo, hi] of ranges) if (n >= lo && n <= hi) return true;
    return false;
  };
}

function addNetwork(list: net.BlockList, pattern: string): void {
  const slash = pattern.indexOf('/');
  const addr = slash < 0 ? pattern : pattern.slice(0, slash);
  const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
  if (!net.isIP(addr)) return;
  if (slash < 0) {
    list.addAddress(addr, family);
    return;
  }
  const bits = pattern.slice(slash + 1);
  // IPv4 masks may be written dotted (10.0.0.0/255.0.0.0).
  const prefix = bits.includes('.') ? maskBits(bits) : Number(bits);
  if (Number.isInteger(prefix)) list.addSubnet(addr, prefix, family);
}

function maskBits(mask: string): number {
  let bits = 0;
  for (const part of mask.split('.')) {
    let n = Number(part);
    while (n & 0x80) {
      bits++;
      n = (n << 1) & 0xff;
    }
  }
  return bits;
}

function ipIn(list: net.BlockList, v: string): boolean {
  const family = net.isIP(v);
  if (family === 4) return list.check(v, 'ipv4');
  if (family === 6) return list.check(v, 'ipv6');
  return false;
}

// ------------------------------------------------------------------------- formats

/** Log-format variables usable in header values (a subset of HAProxy's). */
function formatVar(name: string): (t: Txn) => string {
  switch (name) {
    case 'ci':
      return (t) => t.src;
    case 'cp':
      return (t) => String(t.srcPort);
    case 'fi':
      return (t) => t.dst;
    case 'fp':
      return (t) => String(t.dstPort);
    case 'f':
    case 'ft':
      return (t) => t.frontendName;
    case 'b':
      return (t) => t.backendName;
    case 'H': {
      const h = hostname();
      return () => h;
    }
    case 'pid': {
      const p = String(process.pid);
      return () => p;
    }
    case 'HM':
      return (t) => t.method;
    case 'HU':
      return (t) => t.url();
    case 'HP':
      return (t) => t.path() ?? '';
    default:
      return () => '';
  }
}

export function compileFormat(parts: FormatPart[]): Format {
  const items: FormatItem[] = [];
  for (const part of parts) {
    if (part.kind === 'text') {
      const last = items.length - 1;
      if (last >= 0 && typeof items[last] === 'string') items[last] += part.text;
      else items.push(part.text);
      continue;
    }
    let fn: (t: Txn) => string;
    if (part.kind === 'var') {
      fn = formatVar(part.name);
    } else {
      const fetch = compileFetch(part.fetch);
      const conv = compileConverters(part.fetch.converters);
      const get = fetch.get;
      const text = fetch.text;
      fn = text !== undefined && !conv ? text : (t) => {
        const v = get(t);
        if (v === undefined) return '';
        const s = asString(v);
        return conv ? conv(s) : s;
      };
    }
    if (part.quote) {
      const inner = fn;
      fn = (t) => '"' + inner(t).replace(/["\\]/g, '\\$&') + '"';
    }
    items.push(fn);
  }
  if (items.length === 0) return { literal: '', parts: items };
  if (items.length === 1 && typeof items[0] === 'string') return { literal: items[0], parts: items };
  return { literal: undefined, parts: items };
}

/** Evaluate a non-literal format. */
export function runFormat(f: Format, t: Txn): string {
  if (f.literal !== undefined) return f.literal;
  const parts = f.parts;
  let s = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    s += typeof p === 'string' ? p : p(t);
  }
  // No control byte can come out of a sample: every one reads validated head bytes
  // (http1-parser.ts refuses CTLs) or numbers and addresses.
  return s;
}

// ---------------------------------------------------------------------------- rules

function headerRule(
  action: number,
  name: string,
  value: FormatPart[] | undefined,
  cond: Pred | undefined,
): HttpRule {
  const lower = name.toLowerCase();
  const fmt = value ? compileFormat(value) : undefined;
  const line = fmt && fmt.literal !== undefined ? `${lower}: ${fmt.literal}\r\n` : undefined;
  return {
    action,
    cond,
    name: lower,
    nameBuf: Buffer.from(lower, 'latin1'),
    value: fmt,
    line,
    status: 0,
    redirect: undefined,
  };
}

const NO_NAME = Buffer.alloc(0);

function plainRule(action: number, cond: Pred | undefined, status: number, redirect?: RedirectPlan): HttpRule {
  return { action, cond, name: '', nameBuf: NO_NAME, value: undefined, line: undefined, status, redirect };
}

function compileRequestRule(r: HttpRequestRule, acls: Map<string, Pred>): HttpRule {
  const cond = compileCondition(r.cond, acls);
  switch (r.action) {
    case 'allow':
      return plainRule(A_ALLOW, cond, 0);
    case 'deny':
      return plainRule(A_DENY, cond, r.status ?? 403);
    case 'tarpit':
      // support.ts refuses tarpit; if it ever gets here it answers like HAProxy's tarpit end.
      return plainRule(A_DENY, cond, r.status ?? 500);
    case 'reject':
      return plainRule(A_REJECT, cond, 0);
    case 'set-header':
      return headerRule(A_SET_HEADER, r.name, r.value, cond);
    case 'add-header':
      return headerRule(A_ADD_HEADER, r.name, r.value, cond);
    case 'del-header':
      return headerRule(A_DEL_HEADER, r.name, undefined, cond);
    case 'redirect':
      return plainRule(A_REDIRECT, cond, 0, compileRedirect(r.redirect, cond));
    case 'use-service':
    default:
      // use-service is refused by support.ts; deny rather than forward silently.
      return plainRule(A_DENY, cond, 503);
  }
}

function compileResponseRule(r: HttpResponseRule, acls: Map<string, Pred>): HttpRule {
  const cond = compileCondition(r.cond, acls);
  switch (r.action) {
    case 'set-header':
      return headerRule(A_SET_HEADER, r.name, r.value, cond);
    case 'add-header':
      return headerRule(A_ADD_HEADER, r.name, r.value, cond);
    case 'del-header':
    default:
      return headerRule(A_DEL_HEADER, r.name, undefined, cond);
  }
}

function compileRedirect(r: Redirect, cond: Pred | undefined): RedirectPlan {
  let suffix = redirectSuffix(r.code);
  if (r.setCookie) {
    const eq = r.setCookie.indexOf('=');
    const cookie = eq < 0 ? `${r.setCookie}=` : r.setCookie;
    suffix += `set-cookie: ${cookie}; path=/\r\n`;
  } else if (r.clearCookie) {
    const name = r.clearCookie.replace(/=$/, '');
    suffix += `set-cookie: ${name}=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/\r\n`;
  }
  return {
    type: r.type === 'prefix' ? R_PREFIX : r.type === 'scheme' ? R_SCHEME : R_LOCATION,
    value: r.value,
    format: r.format && compileFormat(r.format),
    code: r.code,
    dropQuery: r.dropQuery,
    appendSlash: r.appendSlash,
    cond,
    prefix: redirectPrefix(r.code),
    suffix,
  };
}

// ------------------------------------------------------------------------- evaluate

export const V_CONTINUE = 0;
export const V_DENY = 1;
export const V_REJECT = 2;
export const V_REDIRECT = 3;

/**
 * Run http-request or http-response rules on `msg`. Stops at the first allow (V_CONTINUE),
 * deny (t.denyStatus), reject or redirect (t.redirect).
 */
export function runRules(rules: HttpRule[], t: Txn, msg: Message): number {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.cond !== undefined && !r.cond(t)) continue;
    switch (r.action) {
      case A_SET_HEADER: {
        // The value is computed before the old header goes: it may read it.
        const value = r.line !== undefined ? r.value!.literal! : runFormat(r.value!, t);
        msg.remove(r.nameBuf, r.name);
        msg.add(r.name, value, r.line);
        break;
      }
      case A_ADD_HEADER:
        msg.add(r.name, r.line !== undefined ? r.value!.literal! : runFormat(r.value!, t), r.line);
        break;
      case A_DEL_HEADER:
        msg.remove(r.nameBuf, r.name);
        break;
      case A_ALLOW:
        return V_CONTINUE;
      case A_DENY:
        t.denyStatus = r.status;
        return V_DENY;
      case A_REJECT:
        return V_REJECT;
      case A_REDIRECT:
        t.redirect = r.redirect;
        return V_REDIRECT;
    }
  }
  return V_CONTINUE;
}

/**
 * The frontend half of a request: http-request rules, redirects, then backend switching.
 * Returns a verdict; on V_CONTINUE `route.backend` is the backend (undefined: none, 503).
 */
export function evaluateFrontend(fe: FrontendHttp, t: Txn, route: { backend: BackendPlan | undefined }): number {
  const v = runRules(fe.requestRules, t, t.req);
  if (v !== V_CONTINUE) return v;
  const redirects = fe.redirects;
  for (let i = 0; i < redirects.length; i++) {
    const r = redirects[i]!;
    if (r.cond === undefined || r.cond(t)) {
      t.redirect = r;
      return V_REDIRECT;
    }
  }
  const sw = fe.switching;
  for (let i = 0; i < sw.length; i++) {
    const s = sw[i]!;
    if (s.cond === undefined || s.cond(t)) {
      route.backend = s.backend;
      return V_CONTINUE;
    }
  }
  route.backend = fe.defaultBackend;
  return V_CONTINUE;
}

/** Whether the backend's own rules run (not when it is the frontend's `listen` twin). */
export function backendRulesApply(fe: FrontendHttp, be: BackendHttp | undefined): boolean {
  return be !== undefined && !(fe.fromListen && be.fromListen && fe.name === be.name);
}

/**
 * `option forwardfor` of the frontend or the backend (the backend's header name wins; the
 * header is always added unless every proxy that set the option said `if-none`).
 */
export function applyForwardFor(fe: FrontendHttp, be: BackendHttp | undefined, t: Txn): void {
  const a = fe.forwardFor;
  const b = be?.forwardFor;
  if (a === undefined && b === undefined) return;
  const plan = b ?? a!;
  const ifNone = (a === undefined || a.ifNone) && (b === undefined || b.ifNone);
  if (a?.except && ipIn(a.except, t.src)) return;
  if (b?.except && ipIn(b.except, t.src)) return;
  if (ifNone && t.req.has(plan.nameBuf, plan.name)) return;
  t.req.add(plan.name, t.src, undefined);
}

/** The Location of a redirect for the current request. */
export function redirectLocation(r: RedirectPlan, t: Txn): string {
  let loc: string;
  const value = r.format === undefined ? r.value : runFormat(r.format, t);
  if (r.type === R_LOCATION) return value;
  const path = t.pathAndQuery(r.dropQuery);
  if (r.type === R_PREFIX) {
    // A prefix of "/" adds nothing, so that a self-redirection can be written (HAProxy).
    loc = r.value === '/' ? path : value + path;
  } else {
    const host = t.req.headerValue(HOST, 'host', false, 1) ?? '';
    loc = value + '://' + host + path;
  }
  if (r.appendSlash && loc.length > 0 && loc.charCodeAt(loc.length - 1) !== 0x2f) loc += '/';
  return loc;
}

const HOST = Buffer.from('host');

/** The complete redirect response (head only, content-length 0). */
export function redirectResponse(r: RedirectPlan, t: Txn, close: boolean): Buffer {
  return Buffer.from(
    r.prefix + redirectLocation(r, t) + r.suffix + (close ? 'connection: close\r\n\r\n' : '\r\n'),
    'latin1',
  );
}
