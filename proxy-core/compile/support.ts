// What the engine can run today, checked before anything starts.
//
// The parser accepts the whole haproxy.cfg subset Octavia renders, so that every config a
// controller can send has a typed model. Some of those features are not built into the
// runtime yet. They are refused here, by `proxy-core -c` (so the agent rejects the upload
// with the reason) and at start/reload, each with its line — never silently ignored.

import type { Acl, Condition, ConfigMessage, HttpRequestRule, ProxyConfig, SampleFetch, Where } from '../config/model.ts';

/** Sample fetches the mode-http engine evaluates (ACLs, conditions, header values). */
const HTTP_FETCHES = new Set([
  'path',
  'path_beg',
  'path_end',
  'path_sub',
  'path_reg',
  'path_dir',
  'url',
  'method',
  'req.hdr',
  'hdr',
  'req.cook',
  'cook',
  'src',
  'dst',
  'src_port',
  'dst_port',
  'ssl_fc',
  'always_true',
  'always_false',
]);

/** Sample fetches available in mode tcp (no HTTP message to look at). */
const TCP_FETCHES = new Set(['src', 'dst', 'src_port', 'dst_port', 'ssl_fc', 'always_true', 'always_false']);

const BALANCERS = new Set(['roundrobin', 'static-rr', 'leastconn', 'first', 'source']);

function notYet(where: Where, what: string): ConfigMessage {
  return { where, message: `not supported yet: ${what}` };
}

/** Every feature the config uses that the runtime does not implement, one message each. */
export function checkSupport(config: ProxyConfig): ConfigMessage[] {
  const out: ConfigMessage[] = [];

  for (const fe of config.frontends) {
    for (const bind of fe.binds) {
      if (bind.ssl) out.push(notYet(bind.where, `'ssl' on bind ${bind.address}:${bind.port} (TLS termination)`));
      if (bind.acceptProxy) out.push(notYet(bind.where, `'accept-proxy' on bind ${bind.address}:${bind.port}`));
    }
    const fetches = fe.mode === 'http' ? HTTP_FETCHES : TCP_FETCHES;
    checkAcls(fe.acls, fetches, out);
    checkRequestRules(fe.httpRequest, fetches, out);
    for (const rule of fe.httpResponse) {
      if (rule.action !== 'del-header') checkFormat(rule.value, fetches, rule.where, out);
      checkCondition(rule.cond, fetches, rule.where, out);
    }
    for (const r of fe.redirects) checkCondition(r.cond, fetches, r.where, out);
    for (const u of fe.useBackends) {
      // The TCP engine routes every connection to default_backend; a conditional
      // use_backend there would be silently bypassed, so it is refused instead.
      if (fe.mode === 'tcp') out.push(notYet(u.where, `use_backend in mode tcp (only default_backend routes TCP)`));
      checkCondition(u.cond, fetches, u.where, out);
    }
  }

  for (const be of config.backends) {
    if (!BALANCERS.has(be.balance.algorithm)) {
      out.push(notYet(be.where, `balance ${be.balance.algorithm}`));
    }
    if (be.stickTable) out.push(notYet(be.stickTable.where, 'stick-table (persistence)'));
    for (const rule of be.stickRules) out.push(notYet(rule.where, `stick ${rule.kind} (persistence)`));
    if (be.cookie) out.push(notYet(be.cookie.where, `cookie ${be.cookie.name} (cookie persistence)`));
    const fetches = be.mode === 'http' ? HTTP_FETCHES : TCP_FETCHES;
    checkAcls(be.acls, fetches, out);
    checkRequestRules(be.httpRequest, fetches, out);
    for (const srv of be.servers) {
      if (srv.ssl) out.push(notYet(srv.where, `'ssl' on server ${srv.name} (TLS towards members)`));
      if (srv.sendProxy) out.push(notYet(srv.where, `'send-proxy' on server ${srv.name} (PROXY protocol)`));
    }
  }
  return out;
}

function checkRequestRules(rules: HttpRequestRule[], fetches: Set<string>, out: ConfigMessage[]): void {
  for (const rule of rules) {
    if (rule.action === 'use-service') out.push(notYet(rule.where, `http-request use-service ${rule.service}`));
    if (rule.action === 'tarpit') out.push(notYet(rule.where, 'http-request tarpit'));
    if (rule.action === 'set-header' || rule.action === 'add-header') checkFormat(rule.value, fetches, rule.where, out);
    if (rule.action === 'redirect' && rule.redirect.format) checkFormat(rule.redirect.format, fetches, rule.where, out);
    checkCondition(rule.cond, fetches, rule.where, out);
  }
}

function checkAcls(acls: Acl[], fetches: Set<string>, out: ConfigMessage[]): void {
  for (const acl of acls) checkFetch(acl.fetch, fetches, acl.where, out);
}

function checkCondition(cond: Condition | undefined, fetches: Set<string>, where: Where, out: ConfigMessage[]): void {
  if (!cond) return;
  for (const group of cond.or) {
    for (const term of group) {
      if (typeof term.acl !== 'string') checkFetch(term.acl.fetch, fetches, where, out);
    }
  }
}

function checkFormat(
  parts: readonly { kind: string; fetch?: SampleFetch }[],
  fetches: Set<string>,
  where: Where,
  out: ConfigMessage[],
): void {
  for (const part of parts) if (part.fetch) checkFetch(part.fetch, fetches, where, out);
}

function checkFetch(fetch: SampleFetch, fetches: Set<string>, where: Where, out: ConfigMessage[]): void {
  // Client-certificate fetches only make sense on TLS binds, which are refused above; the
  // message names the fetch so the operator sees why.
  if (!fetches.has(fetch.name)) out.push(notYet(where, `sample fetch '${fetch.name}'`));
  for (const conv of fetch.converters) {
    if (!CONVERTERS.has(conv.name)) out.push(notYet(where, `converter '${conv.name}'`));
  }
}

const CONVERTERS = new Set(['lower', 'upper', 'hex']);
