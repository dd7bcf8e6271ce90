// ACLs, conditions, formats and header edits of the compiled rules, on parsed requests.

import { describe, expect, it } from 'vitest';
import type { Acl, SampleFetch } from '../../proxy-core/config/model.ts';
import { findHeadEnd } from '../../proxy-core/l7/http1-parser.ts';
import { Txn } from '../../proxy-core/l7/message.ts';
import {
  compileAcl,
  compileCondition,
  compileFormat,
  redirectLocation,
  runFormat,
  runRules,
  V_CONTINUE,
  V_DENY,
  compileFrontendHttp,
} from '../../proxy-core/l7/rules.ts';
import { acl, cond, fetch, frontend, where } from './harness.ts';

function txn(request: string, src = '10.1.2.3'): Txn {
  const buf = Buffer.from(request, 'latin1');
  const t = new Txn();
  t.beginRequest();
  expect(t.req.head.parseRequest(buf, 0)).toBe(findHeadEnd(buf, 0, buf.length));
  t.setAddresses(src, 40000, '192.0.2.10', 8080);
  return t;
}

function matches(a: Acl, request: string, src?: string): boolean {
  return compileAcl(a)(txn(request, src));
}

const R = (path: string, headers = '') => `GET ${path} HTTP/1.1\r\nHost: www.Example.com\r\n${headers}\r\n`;
const withConv = (f: SampleFetch, ...convs: string[]): SampleFetch => ({ ...f, converters: convs.map((name) => ({ name, args: [] })) });

describe('ACL match methods', () => {
  it('str, with and without -i', () => {
    expect(matches(acl('a', fetch('req.hdr', 'host'), 'str', ['www.example.com'], true), R('/'))).toBe(true);
    expect(matches(acl('a', fetch('req.hdr', 'host'), 'str', ['www.example.com']), R('/'))).toBe(false);
    expect(matches(acl('a', fetch('path'), 'str', ['/a', '/b']), R('/b'))).toBe(true);
  });

  it('beg, end, sub, reg on the path (not the query)', () => {
    expect(matches(acl('a', fetch('path_beg'), 'beg', ['/api/']), R('/api/v1?x=/y'))).toBe(true);
    expect(matches(acl('a', fetch('path_end'), 'end', ['.jpg']), R('/img/a.jpg?v=2'))).toBe(true);
    expect(matches(acl('a', fetch('path_end'), 'end', ['.JPG'], true), R('/img/a.jpg'))).toBe(true);
    expect(matches(acl('a', fetch('path'), 'sub', ['mid']), R('/a/middle/b'))).toBe(true);
    expect(matches(acl('a', fetch('path'), 'reg', ['^/v[0-9]+/']), R('/v12/x'))).toBe(true);
    expect(matches(acl('a', fetch('path'), 'reg', ['^/V1/']), R('/v1/x'))).toBe(false);
    expect(matches(acl('a', fetch('path'), 'reg', ['^/V1/'], true), R('/v1/x'))).toBe(true);
    expect(matches(acl('a', fetch('url'), 'sub', ['x=1']), R('/p?x=1'))).toBe(true);
  });

  it('dir and dom are delimited matches', () => {
    expect(matches(acl('a', fetch('path'), 'dir', ['img']), R('/static/img/a.png'))).toBe(true);
    expect(matches(acl('a', fetch('path'), 'dir', ['im']), R('/static/img/a.png'))).toBe(false);
    expect(matches(acl('a', fetch('req.hdr', 'host'), 'dom', ['example'], true), R('/'))).toBe(true);
    expect(matches(acl('a', fetch('req.hdr', 'host'), 'dom', ['exam'], true), R('/'))).toBe(false);
  });

  it('len, int with operators and ranges, found, bool', () => {
    expect(matches(acl('a', fetch('path'), 'len', ['gt', '3']), R('/abcd'))).toBe(true);
    expect(matches(acl('a', fetch('path'), 'len', ['1:3']), R('/abcd'))).toBe(false);
    expect(matches(acl('a', fetch('dst_port'), 'int', ['8080']), R('/'))).toBe(true);
    expect(matches(acl('a', fetch('dst_port'), 'int', ['1:1024']), R('/'))).toBe(false);
    expect(matches(acl('a', fetch('src_port'), 'int', ['ge', '40000']), R('/'))).toBe(true);
    expect(matches(acl('a', fetch('req.hdr', 'x-b'), 'int', ['lt', '10']), R('/', 'X-B: 7\r\n'))).toBe(true);
    expect(matches(acl('a', fetch('req.hdr', 'x-a'), 'found', []), R('/', 'X-A: \r\n'))).toBe(true);
    expect(matches(acl('a', fetch('req.hdr', 'x-a'), 'found', []), R('/'))).toBe(false);
    expect(matches(acl('a', fetch('ssl_fc'), 'bool', []), R('/'))).toBe(false);
    expect(matches(acl('a', fetch('always_true'), 'bool', []), R('/'))).toBe(true);
  });

  it('ip networks on src and dst', () => {
    expect(matches(acl('a', fetch('src'), 'ip', ['10.0.0.0/8']), R('/'))).toBe(true);
    expect(matches(acl('a', fetch('src'), 'ip', ['10.1.2.3']), R('/'))).toBe(true);
    expect(matches(acl('a', fetch('src'), 'ip', ['192.168.0.0/16']), R('/'))).toBe(false);
    expect(matches(acl('a', fetch('src'), 'ip', ['2001:db8::/32']), R('/'), '2001:db8::5')).toBe(true);
    expect(matches(acl('a', fetch('dst'), 'ip', ['192.0.2.0/255.255.255.0']), R('/'))).toBe(true);
  });

  it('a header ACL tries every occurrence and every comma-separated value', () => {
    const req = R('/', 'X-Tag: a, b\r\nX-Tag: c\r\n');
    expect(matches(acl('a', fetch('req.hdr', 'x-tag'), 'str', ['b']), req)).toBe(true);
    expect(matches(acl('a', fetch('req.hdr', 'x-tag'), 'str', ['c']), req)).toBe(true);
    expect(matches(acl('a', fetch('req.hdr', 'x-tag', '1'), 'str', ['c']), req)).toBe(false);
    expect(matches(acl('a', fetch('req.hdr', 'x-tag', '-1'), 'str', ['c']), req)).toBe(true);
  });

  it('cookies by name, in every Cookie header', () => {
    const req = R('/', 'Cookie: session=abc; tier=gold\r\nCookie: other=1\r\n');
    expect(matches(acl('a', fetch('req.cook', 'tier'), 'str', ['gold']), req)).toBe(true);
    expect(matches(acl('a', fetch('cook', 'other'), 'str', ['1']), req)).toBe(true);
    expect(matches(acl('a', fetch('req.cook', 'tie'), 'found', []), req)).toBe(false);
  });

  it('converters apply before matching', () => {
    expect(matches(acl('a', withConv(fetch('req.hdr', 'host'), 'lower'), 'str', ['www.example.com']), R('/'))).toBe(true);
    expect(matches(acl('a', withConv(fetch('path'), 'upper'), 'str', ['/ABC']), R('/abc'))).toBe(true);
    expect(matches(acl('a', withConv(fetch('path'), 'hex'), 'str', ['2F61']), R('/a'))).toBe(true);
  });

  it('no pattern never matches', () => {
    expect(matches(acl('a', fetch('path'), 'str', []), R('/'))).toBe(false);
  });
});

describe('conditions', () => {
  const acls = new Map([
    ['yes', () => true],
    ['no', () => false],
  ]);
  const t = txn(R('/'));
  it('AND inside a group, OR between groups, ! and unless', () => {
    expect(compileCondition(cond('yes no'), acls)!(t)).toBe(false);
    expect(compileCondition(cond('yes !no'), acls)!(t)).toBe(true);
    expect(compileCondition(cond('no || yes'), acls)!(t)).toBe(true);
    expect(compileCondition(cond('no', 'unless'), acls)!(t)).toBe(true);
    expect(compileCondition(cond('!yes'), acls)!(t)).toBe(false);
    expect(compileCondition(cond('yes yes || no', 'unless'), acls)!(t)).toBe(false);
  });

  it('ACL lines sharing a name are ORed', () => {
    const fe = frontend('fe', {
      acls: [acl('media', fetch('path'), 'end', ['.png']), acl('media', fetch('path'), 'end', ['.jpg'])],
      httpRequest: [{ action: 'deny', cond: cond('media'), where: where() }],
    });
    const http = compileFrontendHttp(fe, new Map());
    const a = txn(R('/a.jpg'));
    expect(runRules(http.requestRules, a, a.req)).toBe(V_DENY);
    const b = txn(R('/a.gif'));
    expect(runRules(http.requestRules, b, b.req)).toBe(V_CONTINUE);
  });
});

describe('formats and header edits', () => {
  it('formats mix literal text, samples and converters', () => {
    const f = compileFormat([
      { kind: 'text', text: 'port=' },
      { kind: 'sample', fetch: fetch('dst_port'), quote: false },
      { kind: 'text', text: ' host=' },
      { kind: 'sample', fetch: withConv(fetch('req.hdr', 'host'), 'lower'), quote: true },
      { kind: 'text', text: ' ssl=' },
      { kind: 'sample', fetch: fetch('ssl_fc'), quote: false },
      { kind: 'text', text: ' src=' },
      { kind: 'sample', fetch: fetch('src'), quote: false },
      { kind: 'text', text: ' none=' },
      { kind: 'sample', fetch: fetch('req.hdr', 'x-missing'), quote: false },
    ]);
    expect(f.literal).toBeUndefined();
    expect(runFormat(f, txn(R('/')))).toBe('port=8080 host="www.example.com" ssl=0 src=10.1.2.3 none=');
    expect(compileFormat([{ kind: 'text', text: 'https' }]).literal).toBe('https');
  });

  it('set-header replaces every occurrence, add-header appends, del-header removes, later rules see edits', () => {
    const fe = frontend('fe', {
      acls: [acl('has_b', fetch('req.hdr', 'x-b'), 'found', [])],
      httpRequest: [
        { action: 'set-header', name: 'X-A', value: [{ kind: 'text', text: 'new' }], where: where() },
        { action: 'add-header', name: 'X-B', value: [{ kind: 'sample', fetch: fetch('req.hdr', 'x-a'), quote: false }], where: where() },
        { action: 'del-header', name: 'X-C', where: where() },
        { action: 'deny', status: 418, cond: cond('has_b'), where: where() },
      ],
    });
    const http = compileFrontendHttp(fe, new Map());
    const t = txn(R('/', 'X-A: old1\r\nX-C: gone\r\nX-A: old2\r\n'));
    expect(runRules(http.requestRules, t, t.req)).toBe(V_DENY);
    expect(t.denyStatus).toBe(418);
    const xa = Buffer.from('x-a');
    expect(t.req.headerValue(xa, 'x-a', false, 0)).toBe('new');
    expect(t.req.headerValue(Buffer.from('x-b'), 'x-b', false, 0)).toBe('new');
    expect(t.req.has(Buffer.from('x-c'), 'x-c')).toBe(false);
    // Wire form: kept original lines, then the added ones, in lower case.
    const out = Buffer.alloc(1024);
    let off = t.req.writeKept(out, 0, 0);
    off += out.write(t.req.addedText(), off, "latin1");
    expect(out.toString('latin1', 0, off)).toBe('Host: www.Example.com\r\nx-a: new\r\nx-b: new\r\n');
  });
});

describe('redirect locations', () => {
  const plan = (type: 'location' | 'prefix' | 'scheme', value: string, dropQuery = false, appendSlash = false) => {
    const fe = frontend('fe', {
      redirects: [{ type, value, code: 302, dropQuery, appendSlash, where: where() }],
    });
    return compileFrontendHttp(fe, new Map()).redirects[0]!;
  };
  it('prefix keeps path and query; "/" as prefix adds nothing', () => {
    expect(redirectLocation(plan('prefix', 'https://a.example'), txn(R('/p?q=1')))).toBe('https://a.example/p?q=1');
    expect(redirectLocation(plan('prefix', 'https://a.example', true), txn(R('/p?q=1')))).toBe('https://a.example/p');
    expect(redirectLocation(plan('prefix', '/'), txn(R('/p')))).toBe('/p');
    expect(redirectLocation(plan('prefix', 'https://a.example', true, true), txn(R('/p?q=1')))).toBe('https://a.example/p/');
  });
  it('scheme uses the Host header; location is taken as is', () => {
    expect(redirectLocation(plan('scheme', 'https'), txn(R('/x?y')))).toBe('https://www.Example.com/x?y');
    expect(redirectLocation(plan('location', 'https://z/'), txn(R('/x')))).toBe('https://z/');
  });
  it('absolute-form request targets redirect on their path', () => {
    expect(redirectLocation(plan('prefix', 'https://n'), txn('GET http://h.example/a/b?c HTTP/1.1\r\nHost: h.example\r\n\r\n'))).toBe('https://n/a/b?c');
  });
});
