// Mode-http rules on the wire: Octavia's L7 policies (use_backend on host/path/header/cookie,
// deny, redirects), HAProxy's evaluation order, and the headers Octavia inserts.

import { afterEach, describe, expect, it } from 'vitest';
import type { Backend, Frontend, FormatPart } from '../../proxy-core/config/model.ts';
import { parseConfig } from '../../proxy-core/config/parse.ts';
import { T } from '../../proxy-core/runtime/counters.ts';
import {
  acl,
  backend,
  Client,
  cond,
  config,
  fetch,
  frontend,
  oneShot,
  options,
  server,
  startHttpMember,
  startProxy,
  where,
  type HttpMember,
  type TestProxy,
} from './harness.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function members(...names: string[]): Promise<HttpMember[]> {
  const out: HttpMember[] = [];
  for (const n of names) {
    const m = await startHttpMember(n);
    cleanups.push(() => m.close());
    out.push(m);
  }
  return out;
}

async function start(fe: Frontend, bes: Backend[]): Promise<TestProxy> {
  const p = await startProxy(config([fe], bes));
  cleanups.push(() => p.close());
  return p;
}

const text = (t: string): FormatPart => ({ kind: 'text', text: t });
const sample = (name: string, ...args: string[]): FormatPart => ({ kind: 'sample', fetch: fetch(name, ...args), quote: false });

const get = (path: string, headers = 'Host: www.example.com\r\n') => `GET ${path} HTTP/1.1\r\n${headers}\r\n`;

describe('use_backend (Octavia REDIRECT_TO_POOL)', () => {
  it('routes on host, path, header and cookie, in order, else the default backend', async () => {
    const [host, path, header, cookie, dflt] = await members('host', 'path', 'header', 'cookie', 'default');
    const fe = frontend('fe', {
      acls: [
        acl('is_api_host', fetch('req.hdr', 'host'), 'str', ['API.example.com'], true),
        acl('is_images', fetch('path'), 'beg', ['/images/']),
        acl('is_beta', fetch('req.hdr', 'X-Env'), 'str', ['beta']),
        acl('is_gold', fetch('req.cook', 'tier'), 'str', ['gold']),
      ],
      useBackends: [
        { backend: 'b_host', cond: cond('is_api_host'), where: where() },
        { backend: 'b_path', cond: cond('is_images'), where: where() },
        { backend: 'b_header', cond: cond('is_beta'), where: where() },
        { backend: 'b_cookie', cond: cond('is_gold'), where: where() },
      ],
      defaultBackend: 'b_default',
    });
    const proxy = await start(fe, [
      backend('b_host', [server('s', host!.port)]),
      backend('b_path', [server('s', path!.port)]),
      backend('b_header', [server('s', header!.port)]),
      backend('b_cookie', [server('s', cookie!.port)]),
      backend('b_default', [server('s', dflt!.port)]),
    ]);
    const c = await Client.connect(proxy.port);
    cleanups.push(() => c.close());
    const ask = async (req: string) => {
      c.send(req);
      return (await c.response()).body.split(' ')[0];
    };
    expect(await ask(get('/x', 'Host: api.EXAMPLE.com\r\n'))).toBe('host');
    expect(await ask(get('/images/a.png'))).toBe('path');
    expect(await ask(get('/x', 'Host: a\r\nX-Env: beta\r\n'))).toBe('header');
    expect(await ask(get('/x', 'Host: a\r\nCookie: a=1; tier=gold; z=2\r\n'))).toBe('cookie');
    expect(await ask(get('/x', 'Host: a\r\nCookie: tier=silver\r\n'))).toBe('default');
    // First matching use_backend wins: host and path both match.
    expect(await ask(get('/images/a.png', 'Host: api.example.com\r\n'))).toBe('host');
  });
});

describe('HAProxy evaluation order', () => {
  it('deny answers 403 before use_backend even when written after it', async () => {
    const [a] = await members('a');
    const fe = frontend('fe', {
      acls: [acl('admin', fetch('path'), 'beg', ['/admin'])],
      // use_backend first in the file, deny after: HAProxy still denies first.
      useBackends: [{ backend: 'b', cond: cond('admin'), where: where() }],
      httpRequest: [{ action: 'deny', cond: cond('admin'), where: where() }],
      defaultBackend: 'b',
    });
    const proxy = await start(fe, [backend('b', [server('s', a!.port)])]);
    const c = await Client.connect(proxy.port);
    cleanups.push(() => c.close());
    c.send(get('/admin/panel'));
    const r = await c.response();
    expect(r.status).toBe(403);
    expect(r.head).toMatch(/^HTTP\/1\.1 403 Forbidden\r\ncontent-length: \d+\r\ncache-control: no-cache\r\ncontent-type: text\/html\r\n\r\n$/);
    // As HAProxy 2.6: a deny keeps the connection when the request was read whole.
    c.send(get('/public'));
    expect((await c.response()).status).toBe(200);
    expect(a!.received.length).toBe(1);
    expect(proxy.total(proxy.plan.frontends[0]!.slot, T.dreq)).toBe(1);
  });

  it('deny_status sets the status; reject closes without a response', async () => {
    const [a] = await members('a');
    const fe = frontend('fe', {
      acls: [acl('slow', fetch('path'), 'str', ['/slow']), acl('bad', fetch('path'), 'str', ['/bad'])],
      httpRequest: [
        { action: 'deny', status: 429, cond: cond('slow'), where: where() },
        { action: 'reject', cond: cond('bad'), where: where() },
      ],
      defaultBackend: 'b',
    });
    const proxy = await start(fe, [backend('b', [server('s', a!.port)])]);
    expect((await oneShot(proxy.port, get('/slow'))).status).toBe(429);
    const c = await Client.connect(proxy.port);
    c.send(get('/bad'));
    await c.waitClosed();
    expect(c.unread).toBe('');
  });

  it('http-request rules run before redirect rules, redirects before use_backend', async () => {
    const [a] = await members('a');
    const fe = frontend('fe', {
      acls: [acl('old', fetch('path'), 'beg', ['/old'])],
      useBackends: [{ backend: 'b', cond: cond('old'), where: where() }],
      redirects: [
        { type: 'location', value: 'https://new.example.com/', code: 302, dropQuery: false, appendSlash: false, cond: cond('old'), where: where() },
      ],
      httpRequest: [
        { action: 'deny', cond: { kind: 'if', or: [[{ negate: false, acl: acl('secret', fetch('path'), 'sub', ['secret']) }]] }, where: where() },
      ],
      defaultBackend: 'b',
    });
    const proxy = await start(fe, [backend('b', [server('s', a!.port)])]);
    expect((await oneShot(proxy.port, get('/old/secret'))).status).toBe(403);
    const r = await oneShot(proxy.port, get('/old/page'));
    expect(r.status).toBe(302);
    expect(a!.received.length).toBe(0);
  });
});

describe('redirects (Octavia REDIRECT_TO_URL / REDIRECT_PREFIX)', () => {
  it('writes the status line, Location and cache-control as HAProxy, and keeps the connection', async () => {
    const [a] = await members('a');
    const fe = frontend('fe', {
      acls: [acl('loc', fetch('path'), 'str', ['/loc']), acl('pre', fetch('path'), 'beg', ['/pre'])],
      redirects: [
        { type: 'location', value: 'http://other.example.com/x', code: 301, dropQuery: false, appendSlash: false, cond: cond('loc'), where: where() },
        { type: 'prefix', value: 'https://new.example.com', code: 308, dropQuery: false, appendSlash: false, cond: cond('pre'), where: where() },
      ],
      defaultBackend: 'b',
    });
    const proxy = await start(fe, [backend('b', [server('s', a!.port)])]);
    const c = await Client.connect(proxy.port);
    cleanups.push(() => c.close());
    c.send(get('/loc'));
    const r1 = await c.response();
    expect(r1.raw).toBe('HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: http://other.example.com/x\r\n\r\n');
    c.send(get('/pre/a?q=1'));
    const r2 = await c.response();
    expect(r2.raw).toBe('HTTP/1.1 308 Permanent Redirect\r\ncontent-length: 0\r\nlocation: https://new.example.com/pre/a?q=1\r\n\r\n');
    c.send(get('/other'));
    expect((await c.response()).status).toBe(200);
    expect(proxy.total(proxy.plan.frontends[0]!.slot, T.intercepted)).toBe(2);
  });

  it('scheme redirects use the Host header; drop-query and append-slash apply', async () => {
    const [a] = await members('a');
    const fe = frontend('fe', {
      redirects: [
        { type: 'scheme', value: 'https', code: 302, dropQuery: true, appendSlash: true, cond: { kind: 'unless', or: [[{ negate: false, acl: acl('ssl', fetch('ssl_fc'), 'bool', []) }]] }, where: where() },
      ],
      defaultBackend: 'b',
    });
    const proxy = await start(fe, [backend('b', [server('s', a!.port)])]);
    const r = await oneShot(proxy.port, get('/dir?x=1', 'Host: shop.example.com\r\n'));
    expect(r.raw).toBe('HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: https://shop.example.com/dir/\r\ncache-control: no-cache\r\n\r\n');
  });

  it('a redirect of a request with a body still on its way closes the connection', async () => {
    const [a] = await members('a');
    const fe = frontend('fe', {
      redirects: [{ type: 'location', value: '/elsewhere', code: 307, dropQuery: false, appendSlash: false, where: where() }],
      defaultBackend: 'b',
    });
    const proxy = await start(fe, [backend('b', [server('s', a!.port)])]);
    const c = await Client.connect(proxy.port);
    cleanups.push(() => c.close());
    c.send('POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345');
    const r = await c.response();
    expect(r.status).toBe(307);
    expect(r.headers.connection).toBe('close');
    await c.waitClosed();
  });
});

describe('redirect values from config text', () => {
  it("'redirect' places its value verbatim; 'http-request redirect' evaluates it as a log-format", async () => {
    const [a] = await members('a');
    const { config: cfg, errors } = parseConfig([
      {
        path: 'haproxy.cfg',
        text: `frontend fe
    mode http
    bind 127.0.0.1:8080
    http-request redirect location https://%[req.hdr(host),lower]/moved%[path] code 301 if { path_beg /hr }
    http-request redirect prefix /v2/%[src] if { path_beg /pf }
    redirect location /literal/%[path] if { path_beg /plain }
    default_backend b
backend b
    mode http
    server s 127.0.0.1:${a!.port}
`,
      },
    ]);
    expect(errors).toEqual([]);
    const proxy = await startProxy(cfg);
    cleanups.push(() => proxy.close());
    const location = async (path: string) => (await oneShot(proxy.port, get(path, 'Host: WWW.Example.com\r\n'))).headers.location;
    expect(await location('/hr/x?q=1')).toBe('https://www.example.com/moved/hr/x');
    expect(await location('/pf/y?z')).toBe('/v2/127.0.0.1/pf/y?z');
    expect(await location('/plain/p')).toBe('/literal/%[path]');
    expect(a!.received.length).toBe(0);
  });
});

describe('headers Octavia inserts', () => {
  it('X-Forwarded-For (option forwardfor), X-Forwarded-Port and X-Forwarded-Proto reach the member', async () => {
    const [a] = await members('a');
    const be = backend('pool', [server('s', a!.port)], {
      options: options({ forwardfor: { header: 'X-Forwarded-For', ifNone: false } }),
      httpRequest: [
        { action: 'set-header', name: 'X-Forwarded-Port', value: [sample('dst_port')], where: where() },
        { action: 'set-header', name: 'X-Forwarded-Proto', value: [text('http')], where: where() },
      ],
    });
    const proxy = await start(frontend('fe', { defaultBackend: 'pool' }), [be]);
    const r = await oneShot(proxy.port, get('/', 'Host: a\r\nX-Forwarded-Proto: gopher\r\nX-Forwarded-For: 10.9.9.9\r\n'));
    expect(r.status).toBe(200);
    const got = a!.received[0]!;
    expect(got.headers['x-forwarded-port']).toBe(String(proxy.port));
    // set-header replaced the client's value.
    expect(got.headers['x-forwarded-proto']).toBe('http');
    // forwardfor appends a header: the client's one stays, ours comes last.
    const xff = got.rawHeaders.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === 'x-forwarded-for' ? [got.rawHeaders[i + 1]] : []));
    expect(xff).toEqual(['10.9.9.9', '127.0.0.1']);
    // The inserted lines are in HAProxy's lower case, after the request's own headers.
    expect(got.rawHeaders.slice(-6)).toEqual(['x-forwarded-port', String(proxy.port), 'x-forwarded-proto', 'http', 'x-forwarded-for', '127.0.0.1']);
  });

  it('forwardfor if-none keeps a header the client sent', async () => {
    const [a] = await members('a');
    const be = backend('pool', [server('s', a!.port)], {
      options: options({ forwardfor: { header: 'X-Client', ifNone: true } }),
    });
    const proxy = await start(frontend('fe', { defaultBackend: 'pool' }), [be]);
    await oneShot(proxy.port, get('/', 'Host: a\r\nX-Client: 1.2.3.4\r\n'));
    await oneShot(proxy.port, get('/', 'Host: a\r\n'));
    expect(a!.received[0]!.headers['x-client']).toBe('1.2.3.4');
    expect(a!.received[1]!.headers['x-client']).toBe('127.0.0.1');
  });

  it('http-response set-header adds HSTS; del-header removes a member header', async () => {
    const [a] = await members('a');
    const fe = frontend('fe', {
      defaultBackend: 'pool',
      httpResponse: [
        { action: 'set-header', name: 'Strict-Transport-Security', value: [text('max-age=31536000; includeSubDomains;')], where: where() },
        { action: 'del-header', name: 'Content-Type', where: where() },
      ],
    });
    const proxy = await start(fe, [backend('pool', [server('s', a!.port)])]);
    const r = await oneShot(proxy.port, get('/'));
    expect(r.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains;');
    expect(r.headers['content-type']).toBeUndefined();
    expect(r.body).toBe('a GET /');
  });

  it('a listen section runs its http-request rules once', async () => {
    const [a] = await members('a');
    const rules = [{ action: 'add-header' as const, name: 'X-Seen', value: [text('1')], where: where() }];
    const fe = frontend('app', { defaultBackend: 'app', fromListen: true, httpRequest: rules });
    const be = backend('app', [server('s', a!.port)], { fromListen: true, httpRequest: rules });
    const proxy = await start(fe, [be]);
    await oneShot(proxy.port, get('/'));
    expect(a!.received[0]!.headers['x-seen']).toBe('1');
  });
});
