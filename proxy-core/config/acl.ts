// ACLs and conditions.
//
//   acl <name> <fetch>[(args)][,conv(args)...] [-i] [-m <method>] [-n] [--] <pattern>...
//   ... if|unless [!]a [!]b [!]{ <anonymous acl> } || c
//
// Several `acl` lines with the same name make one ACL that matches when any of them does
// (HAProxy semantics); the model keeps one Acl entry per line, in order, and the matcher ORs
// entries of the same name. Patterns of one line are ORed too. A condition is an OR of
// AND-groups. Named ACLs must be declared before a rule uses them, in the same proxy;
// HAProxy's predefined ACLs (TRUE, METH_GET, HTTP_1.1, ...) are expanded to anonymous ones.

import type { Acl, Condition, CondTerm, MatchMethod, Where } from './model.ts';
import { aclAlias, defaultMatch, parseSample, sampleType } from './samples.ts';
import { isNetwork, LineError } from './units.ts';

const METHODS = new Set<MatchMethod>([
  'str',
  'beg',
  'end',
  'sub',
  'reg',
  'dir',
  'dom',
  'len',
  'int',
  'ip',
  'bool',
  'bin',
  'found',
]);

/** Parse the words after `acl <name>` (or inside `{ }`), validating patterns for the method. */
export function parseAclExpr(name: string, words: string[], where: Where): Acl {
  const criterion = words[0];
  if (criterion === undefined) throw new LineError(`missing fetch method in ACL expression '${name}'`);
  const fetch = parseSample(criterion, true);
  const alias = fetch.converters.length === 0 ? aclAlias(fetch.name) : undefined;
  let match: MatchMethod = alias ? alias.match : defaultMatch(sampleType(fetch));
  let ignoreCase = false;
  let i = 1;
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (!w.startsWith('-')) break;
    if (w === '--') {
      i++;
      break;
    }
    if (w === '-i') ignoreCase = true;
    else if (w === '-n') continue;
    else if (w === '-m') {
      const m = words[++i];
      if (m === undefined || !METHODS.has(m as MatchMethod)) {
        throw new LineError(`'-m' expects a match method (${[...METHODS].join(', ')}), got '${m ?? ''}'`);
      }
      match = m as MatchMethod;
    } else if (w === '-f') {
      throw new LineError(`'-f' (patterns from a file) is not supported yet in ACL '${name}'`);
    } else if (w === '-M' || w === '-u') {
      throw new LineError(`ACL flag '${w}' is not supported yet`);
    } else {
      throw new LineError(`'${w}' is not a valid ACL option. Please use '--' before any pattern starting with a '-'`);
    }
  }
  const patterns = words.slice(i);
  checkPatterns(match, patterns, ignoreCase);
  return { name, fetch, match, ignoreCase, patterns, where };
}

function checkPatterns(match: MatchMethod, patterns: string[], ignoreCase: boolean): void {
  switch (match) {
    case 'bool':
    case 'found':
      if (patterns.length > 0) throw new LineError(`match method '${match}' takes no pattern, got '${patterns[0]}'`);
      return;
    case 'int':
    case 'len': {
      let operator = false;
      for (const p of patterns) {
        if (!operator && /^(eq|ne|gt|ge|lt|le)$/.test(p)) {
          operator = true;
          continue;
        }
        // Integers, ranges, and dotted versions (`req.ssl_ver 3:3.1`).
        if (!/^(\d+(\.\d+)?|(\d+(\.\d+)?)?:(\d+(\.\d+)?)?)$/.test(p) || p === ':') {
          throw new LineError(`'${p}' is not a valid integer pattern (N, N:M, :M, N: or eq|gt|ge|lt|le N)`);
        }
        operator = false;
      }
      if (operator) throw new LineError(`missing value after operator in integer patterns`);
      return;
    }
    case 'ip':
      for (const p of patterns) {
        if (!isNetwork(p)) throw new LineError(`'${p}' is not a valid IPv4 or IPv6 address or network`);
      }
      return;
    case 'reg':
      for (const p of patterns) {
        try {
          new RegExp(p, ignoreCase ? 'i' : '');
        } catch (e) {
          throw new LineError(`regex '${p}' cannot be compiled: ${(e as Error).message}`);
        }
      }
      return;
    case 'bin':
      for (const p of patterns) {
        if (!/^([0-9a-fA-F]{2})*$/.test(p)) throw new LineError(`'${p}' is not a valid hexadecimal binary pattern`);
      }
      return;
    default:
      return;
  }
}

/** HAProxy's predefined ACLs, as the expression each stands for. */
const PREDEFINED: Record<string, string[]> = {
  TRUE: ['always_true'],
  FALSE: ['always_false'],
  LOCALHOST: ['src', '127.0.0.1/8', '::1'],
  HTTP: ['req.proto_http'],
  'HTTP_1.0': ['req.ver', '1.0'],
  'HTTP_1.1': ['req.ver', '1.1'],
  'HTTP_2.0': ['req.ver', '2.0'],
  METH_CONNECT: ['method', 'CONNECT'],
  METH_DELETE: ['method', 'DELETE'],
  METH_GET: ['method', 'GET', 'HEAD'],
  METH_HEAD: ['method', 'HEAD'],
  METH_OPTIONS: ['method', 'OPTIONS'],
  METH_POST: ['method', 'POST'],
  METH_PUT: ['method', 'PUT'],
  METH_TRACE: ['method', 'TRACE'],
  HTTP_URL_ABS: ['url_reg', '^[^/:]*://'],
  HTTP_URL_SLASH: ['url_beg', '/'],
  HTTP_URL_STAR: ['url', '*'],
  HTTP_CONTENT: ['req.hdr_val(content-length)', 'gt', '0'],
  RDP_COOKIE: ['req.rdp_cookie_cnt', 'gt', '0'],
  REQ_CONTENT: ['req.len', 'gt', '0'],
  WAIT_END: ['wait_end'],
};

/**
 * Parse `if|unless <terms>` (words[0] is `if` or `unless`). `known` tells whether a named ACL
 * was declared earlier in the proxy.
 */
export function parseCondition(words: string[], known: (name: string) => boolean, where: Where): Condition {
  const kind = words[0];
  if (kind !== 'if' && kind !== 'unless') throw new LineError(`expects 'if' or 'unless', got '${kind ?? ''}'`);
  const or: CondTerm[][] = [];
  let group: CondTerm[] = [];
  let negate = false;
  for (let i = 1; i < words.length; i++) {
    let w = words[i]!;
    if (w === '||' || w === 'or') {
      if (negate) throw new LineError(`'!' must be followed by an ACL`);
      if (group.length === 0) throw new LineError(`'${w}' must follow an ACL in the condition`);
      or.push(group);
      group = [];
      continue;
    }
    while (w.startsWith('!')) {
      negate = !negate;
      w = w.slice(1);
    }
    if (w === '') continue;
    if (w === '{') {
      const close = words.indexOf('}', i + 1);
      if (close < 0) throw new LineError(`missing closing '}' in condition`);
      const inner = words.slice(i + 1, close);
      if (inner.length === 0) throw new LineError(`empty anonymous ACL '{ }' in condition`);
      group.push({ negate, acl: parseAclExpr(`{ ${inner.join(' ')} }`, inner, where) });
      negate = false;
      i = close;
      continue;
    }
    if (w === '}') throw new LineError(`unexpected '}' in condition`);
    if (known(w)) {
      group.push({ negate, acl: w });
    } else if (PREDEFINED[w]) {
      const expr = PREDEFINED[w];
      group.push({ negate, acl: parseAclExpr(w, expr, where) });
    } else {
      throw new LineError(`no such ACL : '${w}'`);
    }
    negate = false;
  }
  if (negate) throw new LineError(`'!' must be followed by an ACL`);
  if (group.length === 0) {
    if (or.length > 0) throw new LineError(`condition ends with '||'`);
    throw new LineError(`missing condition after '${kind}'`);
  }
  or.push(group);
  return { kind, or };
}

/** Split `[... ] if|unless ...` off the end of a rule's words. */
export function splitCondition(words: string[]): { head: string[]; cond?: string[] } {
  const at = words.findIndex((w) => w === 'if' || w === 'unless');
  if (at < 0) return { head: words };
  return { head: words.slice(0, at), cond: words.slice(at) };
}
