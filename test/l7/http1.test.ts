// The mode-http engine over loopback sockets: framing, keep-alive on both sides, pipelining,
// interim responses, upgrades and every status the engine answers by itself.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { T } from '../../proxy-core/runtime/counters.ts';
import { tcpExchange } from '../helpers/clients.ts';
import { showStat } from '../../proxy-core/stats/show-stat.ts';
import { statRecords } from '../stats/csv.ts';
import { compilePlan, countSlots } from '../../proxy-core/compile/compile.ts';
import { allocateCounters, Counters } from '../../proxy-core/runtime/counters.ts';
import {
  acl,
  backend,
  Client,
  config,
  cond,
  deadPort,
  fetch,
  frontend,
  oneShot,
  options,
  server,
  startHttpMember,
  startProxy,
  startRawMember,
  until,
  where,
  type HttpMember,
  type RawMember,
  type TestProxy,
} from './harness.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function proxyTo(ports: number[], be: Parameters<typeof backend>[2] = {}, fe: Parameters<typeof frontend>[1] = {}) {
  const cfg = config(
    [frontend('fe', { defaultBackend: 'be', ...fe })],
    [backend('be', ports.map((p, i) => server(`s${i + 1}`, p)), be)],
  );
  const proxy = await startProxy(cfg);
  cleanups.push(() => proxy.close());
  return proxy;
}

async function member(name = 'm1', handler?: Parameters<typeof startHttpMember>[1]): Promise<HttpMember> {
  const m = await startHttpMember(name, handler);
  cleanups.push(() => m.close());
  return m;
}

async function raw(onData: Parameters<typeof startRawMember>[0]): Promise<RawMember> {
  const m = await startRawMember(onData);
  cleanups.push(() => m.close());
  return m;
}

async function client(proxy: TestProxy): Promise<Client> {
  const c = await Client.connect(proxy.port);
  cleanups.push(() => c.close());
  return c;
}

/** Three requests in one write (GET, POST with body `hello`, GET: `${prefix}1..3`); the bodies of the answers. */
async function pipelineThree(c: Client, prefix: string): Promise<string[]> {
  c.send(
    `GET ${prefix}1 HTTP/1.1\r\nHost: x\r\n\r\n` +
      `POST ${prefix}2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello` +
      `GET ${prefix}3 HTTP/1.1\r\nHost: x\r\n\r\n`,
  );
  const bodies: string[] = [];
  for (let i = 0; i < 3; i++) bodies.push((await c.response()).body);
  return bodies;
}

const beSlot = (p: TestProxy) => p.plan.backends[0]!.slot;
const srvSlot = (p: TestProxy, i = 0) => p.plan.backends[0]!.members[i]!.slot;
const feSlot = (p: TestProxy) => p.plan.frontends[0]!.slot;

describe('member connection pool', () => {
  it('keeps no more idle member connections than recently needed: a connection per request leaves few open', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    // 5 clients at a time, 6 rounds, each request on its own client connection: under
    // http-reuse safe every one is a first request and gets a new member connection.
    for (let round = 0; round < 6; round++) {
      const rs = await Promise.all(Array.from({ length: 5 }, () => oneShot(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')));
      for (const r of rs) expect(r.status).toBe(200);
    }
    expect(m.connections).toBe(30);
    // What comes back is kept only up to the 5 used at once (plus one spare); the rest closes.
    await until(() => m.open() <= 6);
    expect(m.open()).toBeLessThanOrEqual(6);
  });

  it('drops the idle member connections it does not keep with a reset, as HAProxy does (no TIME_WAIT on the proxy)', async () => {
    const m = await raw((s, got) => {
      if (got.endsWith('\r\n\r\n')) s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const proxy = await proxyTo([m.port]);
    for (let round = 0; round < 3; round++) {
      const rs = await Promise.all(Array.from({ length: 4 }, () => oneShot(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')));
      for (const r of rs) expect(r.status).toBe(200);
    }
    expect(m.connections).toBe(12);
    // At most the recent need plus one spare stay open; every one dropped was reset, none got a FIN.
    await until(() => m.ends.filter(Boolean).length >= 7);
    expect(m.ends.filter((e) => e === 'fin')).toEqual([]);
    expect(m.ends.filter((e) => e === 'reset').length).toBeGreaterThanOrEqual(7);
  });

  it('keep-alive clients go on reusing the member connections they cycle through', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const clients = await Promise.all(Array.from({ length: 4 }, () => client(proxy)));
    await Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < 10; i++) {
          c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
          expect((await c.response()).status).toBe(200);
        }
      }),
    );
    expect(m.received.length).toBe(40);
    expect(m.connections).toBeLessThanOrEqual(6);
  });
});

describe('keep-alive', () => {
  it('serves many requests on one client connection over one reused member connection', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    for (let i = 0; i < 5; i++) {
      c.send(`GET /r${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(r.body).toBe(`m1 GET /r${i}`);
    }
    expect(c.isClosed).toBe(false);
    expect(m.received.map((r) => r.url)).toEqual(['/r0', '/r1', '/r2', '/r3', '/r4']);
    expect(m.connections).toBe(1);
    expect(m.received.every((r) => r.conn === 0)).toBe(true);
    expect(proxy.total(beSlot(proxy), T.connReuse)).toBe(4);
    expect(proxy.total(feSlot(proxy), T.reqTot)).toBe(5);
    expect(proxy.total(srvSlot(proxy), T.hrsp2xx)).toBe(5);
  });

  it('http-reuse safe: a new client connection never takes an idle member connection for its first request', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const a = await client(proxy);
    a.send('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    await a.response();
    const b = await client(proxy);
    b.send('GET /b1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await b.response();
    expect(m.connections).toBe(2);
    // Second request of b may use any idle connection: no third connection.
    b.send('GET /b2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await b.response();
    expect(m.connections).toBe(2);
  });

  it('http-reuse always: the first request of a new client connection reuses an idle one', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], { httpReuse: 'always' });
    for (let i = 0; i < 3; i++) {
      const r = await oneShot(proxy.port, `GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(r.status).toBe(200);
    }
    expect(m.connections).toBe(1);
  });

  it('retries on a new connection when a reused member connection was closed by the member', async () => {
    // The member closes every connection right after its first response, without saying so.
    const m = await raw((s, got) => {
      const n = got.split('\r\n\r\n').length - 1;
      if (n === 1) s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).status).toBe(200);
    await until(() => m.connections === 1);
    await new Promise((r) => setTimeout(r, 50));
    c.send('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(200);
    expect(r.body).toBe('ok');
    expect(m.connections).toBe(2);
  });

  it('closes after the response when the client says Connection: close; the member connection stays (HAProxy)', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], { httpReuse: 'always' });
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(200);
    expect(r.headers.connection).toBe('close');
    await c.waitClosed();
    // HAProxy does not pass the client's close on: the member connection is kept and reused.
    expect(m.received[0]!.headers.connection).toBeUndefined();
    expect((await oneShot(proxy.port, 'GET /2 HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(200);
    expect(m.connections).toBe(1);
  });

  it('writes requests to members as HAProxy 2.6 does: names in lower case, own Connection header, HTTP/1.1', async () => {
    const m = await raw((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET /a HTTP/1.2\r\nHost: X\r\nX-MiXeD: v\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n');
    expect((await c.response()).status).toBe(200);
    expect(m.data[0]).toBe('GET /a HTTP/1.1\r\nhost: X\r\nx-mixed: v\r\nkeep-alive: timeout=5\r\n\r\n');
    c.send('GET /b HTTP/1.0\r\nHost: X\r\n\r\n');
    await c.response();
    expect(m.data[0]!.slice(m.data[0]!.indexOf('GET /b'))).toBe('GET /b HTTP/1.0\r\nhost: X\r\nconnection: keep-alive\r\n\r\n');
  });

  it('replaces the member Connection header with its own in responses and keeps Keep-Alive', async () => {
    const m = await raw((s) =>
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\nok'),
    );
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).raw).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nok');
    c.send('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect((await c.response()).raw).toBe(
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\nconnection: close\r\n\r\nok',
    );
  });

  it('unwraps a chunked response for an HTTP/1.0 client and closes after it', async () => {
    const m = await raw((s) =>
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5\r\nhello\r\n6;e=1\r\n world\r\n0\r\nT: x\r\n\r\n'),
    );
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET / HTTP/1.0\r\n\r\n');
    await c.waitClosed();
    expect(c.unread).toBe('HTTP/1.1 200 OK\r\nX-A: 1\r\nconnection: close\r\n\r\nhello world');
  });

  it('keeps the client connection when the member says Connection: close, without forwarding it', async () => {
    const m = await member('m1', (_req, res) => {
      res.setHeader('connection', 'close');
      res.setHeader('content-length', '2');
      res.end('hi');
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    for (let i = 0; i < 2; i++) {
      c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const r = await c.response();
      expect(r.body).toBe('hi');
      expect(r.headers.connection).toBeUndefined();
    }
    expect(c.isClosed).toBe(false);
    expect(m.connections).toBe(2);
  });

  it('HTTP/1.0 without keep-alive: answer then close; with keep-alive: say so and stay', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const c1 = await client(proxy);
    c1.send('GET /a HTTP/1.0\r\n\r\n');
    const r1 = await c1.response();
    expect(r1.status).toBe(200);
    expect(r1.headers.connection).toBe('close');
    await c1.waitClosed();

    const c2 = await client(proxy);
    c2.send('GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const r2 = await c2.response();
    expect(r2.headers.connection).toBe('keep-alive');
    c2.send('GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect((await c2.response()).body).toBe('m1 GET /c');
    expect(c2.isClosed).toBe(false);
    // The member saw HTTP/1.0 requests with keep-alive asked for on its side.
    expect(m.received[1]!.httpVersion).toBe('1.0');
    expect(m.received[1]!.headers.connection).toBe('keep-alive');
  });

  it('closes an idle keep-alive connection silently after timeout http-keep-alive', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], {}, { timeouts: { client: 5000, httpKeepAlive: 300 } });
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.response();
    await c.waitClosed(5000);
    expect(c.unread).toBe('');
  });

  it('answers pipelined requests in order', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    expect(await pipelineThree(c, '/')).toEqual(['m1 GET /1', 'm1 POST /2', 'm1 GET /3']);
    expect(m.received[1]!.body.toString()).toBe('hello');
  });
});

describe('requests parsed where they were read', () => {
  // Client bytes are read into one buffer per thread, and a request is parsed there
  // (client-read.ts, H1Conn.clientBytes): what is kept past the read must be a copy, or the
  // next read of any connection overwrites it.

  it('a head in pieces, pipelined requests and body bytes survive the reads of other connections', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const a = await client(proxy);
    const b = await client(proxy);
    const piece = 'GET /a-in-pieces HTTP/1.1\r\nHo';
    a.send(piece);
    // The proxy has read the piece (bytes in) before b sends anything.
    await until(() => proxy.total(feSlot(proxy), T.bin) === piece.length);
    expect(await pipelineThree(b, '/b')).toEqual(['m1 GET /b1', 'm1 POST /b2', 'm1 GET /b3']);
    a.send('st: x\r\n\r\n');
    expect((await a.response()).body).toBe('m1 GET /a-in-pieces');
    // The next request of a goes out on an idle member connection at once; its body came in
    // the same read as its head, and b reads meanwhile.
    a.send('POST /a2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
    b.send('POST /b4 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz');
    expect((await a.response()).body).toBe('m1 POST /a2');
    expect((await b.response()).body).toBe('m1 POST /b4');
    const byUrl = new Map(m.received.map((r) => [r.url, r.body.toString()]));
    expect(byUrl.get('/b2')).toBe('hello');
    expect(byUrl.get('/a2')).toBe('abc');
    expect(byUrl.get('/b4')).toBe('xyz');
    expect(m.received.map((r) => r.headers.host)).toEqual(Array(6).fill('x'));
  });

  it('a request queued for its member keeps its head and the body that came with it while others read', async () => {
    let held: (() => void) | undefined;
    const m = await member('m1', (req, res, body) => {
      const reply = () => {
        const text = `${req.method} ${req.url} ${body.toString()}`;
        res.writeHead(200, { 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.url === '/held') held = reply;
      else reply();
    });
    const cfg = config([frontend('fe', { defaultBackend: 'be' })], [backend('be', [server('s1', m.port, { maxconn: 1 })])]);
    const proxy = await startProxy(cfg);
    cleanups.push(() => proxy.close());
    const a = await client(proxy);
    a.send('GET /held HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => held !== undefined);
    // The member's one slot is taken: b waits in the queue with its body.
    const b = await client(proxy);
    b.send('POST /queued HTTP/1.1\r\nHost: queued\r\nContent-Length: 9\r\n\r\nbody-of-b');
    await until(() => proxy.total(proxy.plan.frontends[0]!.slot, T.reqTot) === 2);
    const c = await client(proxy);
    c.send('PUT /c-writes-other-bytes-over-the-read-buffer HTTP/1.1\r\nHost: c\r\nContent-Length: 9\r\n\r\nbody-of-c');
    await until(() => proxy.total(proxy.plan.frontends[0]!.slot, T.reqTot) === 3);
    held!();
    expect((await a.response()).body).toBe('GET /held ');
    expect((await b.response()).body).toBe('POST /queued body-of-b');
    expect((await c.response()).body).toBe('PUT /c-writes-other-bytes-over-the-read-buffer body-of-c');
    expect(m.received.map((r) => r.headers.host)).toEqual(['x', 'queued', 'c']);
  });

  it('http-response rules see the request they answer when other connections read before the response comes', async () => {
    let held: (() => void) | undefined;
    const m = await member('m1', (req, res) => {
      const reply = () => {
        res.writeHead(200, { 'content-length': 2 });
        res.end('ok');
      };
      if (req.url === '/api/held') held = reply;
      else reply();
    });
    const proxy = await proxyTo([m.port], {}, {
      acls: [acl('api', fetch('path'), 'beg', ['/api/'])],
      httpResponse: [{ action: 'set-header', name: 'X-Api', value: [{ kind: 'text', text: 'yes' }], cond: cond('api'), where: where() }],
    });
    const a = await client(proxy);
    a.send('GET /api/first HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await a.response()).headers['x-api']).toBe('yes');
    // Sent on the member connection a's first request left idle, within the read.
    a.send('GET /api/held HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => held !== undefined);
    const b = await client(proxy);
    b.send('GET /elsewhere/padding/padding HTTP/1.1\r\nHost: y\r\n\r\n');
    expect((await b.response()).headers['x-api']).toBeUndefined();
    held!();
    expect((await a.response()).headers['x-api']).toBe('yes');
  });
});

describe('bodies', () => {
  it('streams a Content-Length request body and a Content-Length response', async () => {
    const m = await member('m1', (_req, res, body) => {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    const big = Buffer.alloc(300_000, 'abcdefghij');
    c.send(`POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n`);
    c.send(big);
    const r = await c.response();
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(big.length);
    expect(Buffer.from(r.body, 'latin1').equals(big)).toBe(true);
    expect(m.received[0]!.body.equals(big)).toBe(true);
    expect(proxy.total(feSlot(proxy), T.bin)).toBeGreaterThan(big.length);
    expect(proxy.total(srvSlot(proxy), T.bout)).toBeGreaterThan(big.length);
  });

  it('a client that reads slowly gets a large response whole, and the member connection is reused after', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 'xyz');
    const m = await member('m1', (_req, res) => {
      res.writeHead(200, { 'content-length': big.length });
      res.end(big);
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.socket.pause();
    c.send('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 300));
    c.socket.resume();
    const r = await c.response();
    expect(r.body.length).toBe(big.length);
    c.send('GET /again HTTP/1.1\r\nHost: x\r\n\r\n');
    const r2 = await c.response();
    expect(r2.status).toBe(200);
    expect(r2.body.length).toBe(big.length);
    expect(m.connections).toBe(1);
  });

  it('bodies arrive byte-exact through reused read buffers: jittery and fast clients, reused and replaced member connections', async () => {
    // Every response has its own bytes. Some clients read in fits and starts, so writes to
    // them complete partly and queue on our side while member bytes keep coming (the read
    // buffers they hold must not be read into again); others read at once. Member
    // connections are reused between clients and closed by the member every few requests,
    // so read buffers go on to new connections.
    const body = (id: number, size: number) => {
      const b = Buffer.allocUnsafe(size);
      for (let j = 0; j < size; j++) b[j] = (id * 131 + j * 7 + (j >> 9)) & 255;
      return b;
    };
    let served = 0;
    const m = await member('m1', (req, res) => {
      const [, , id, size] = req.url!.split('/');
      const close = ++served % 5 === 0;
      res.writeHead(200, { 'content-length': Number(size), ...(close ? { connection: 'close' } : {}) });
      res.end(body(Number(id), Number(size)));
    });
    const proxy = await proxyTo([m.port]);
    const clients = await Promise.all(Array.from({ length: 6 }, () => client(proxy)));
    await Promise.all(
      clients.map(async (c, k) => {
        const jitter = k % 2 === 0 ? setInterval(() => (c.socket.isPaused() ? c.socket.resume() : c.socket.pause()), 2) : undefined;
        try {
          for (let i = 0; i < 4; i++) {
            const id = k * 10 + i;
            const size = [70_000, 3_000_000, 1_000, 1_200_000][(k + i) % 4]!;
            c.send(`GET /b/${id}/${size} HTTP/1.1\r\nHost: x\r\n\r\n`);
            const r = await c.response();
            expect(r.status).toBe(200);
            expect(Buffer.from(r.body, 'latin1').equals(body(id, size))).toBe(true);
          }
        } finally {
          clearInterval(jitter);
          c.socket.resume();
        }
      }),
    );
    expect(m.connections).toBeGreaterThan(1);
  });

  it('forwards a chunked request body and a chunked response unchanged', async () => {
    const m = await member('m1', (_req, res, body) => {
      res.writeHead(200, { 'content-type': 'text/plain' }); // node chunks it
      res.write('part1-');
      res.end(body);
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    const chunked = '5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n';
    c.send(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
    const r = await c.response();
    expect(r.status).toBe(200);
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.body).toBe('part1-hello world');
    expect(m.received[0]!.body.toString()).toBe('hello world');
    // Keep-alive holds after a chunked exchange.
    c.send('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).status).toBe(200);
  });

  it('a chunked request body split over many writes arrives whole', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    const msg = 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n';
    for (const ch of msg) {
      c.send(ch);
      await new Promise((r) => setImmediate(r));
    }
    expect((await c.response()).status).toBe(200);
    expect(m.received[0]!.body.toString()).toBe('0123456789abc');
  });

  it('HEAD, 204 and 304 responses carry no body and keep the framing of the connection', async () => {
    const m = await raw((s, got) => {
      const reqs = got.split('\r\n\r\n').length - 1;
      const last = got.split('\r\n\r\n')[reqs - 1]!;
      if (last.startsWith('HEAD')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      else if (last.includes('/nc')) s.write('HTTP/1.1 204 No Content\r\n\r\n');
      else if (last.includes('/nm')) s.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n');
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody');
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
    const h = await c.response({ head: true });
    expect(h.raw).toBe('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
    c.send('GET /nc HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).raw).toBe('HTTP/1.1 204 No Content\r\n\r\n');
    c.send('GET /nm HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).raw).toBe('HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n');
    c.send('GET /x HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).body).toBe('body');
    expect(c.unread).toBe('');
    expect(m.connections).toBe(1);
  });

  it('a response without length is forwarded until the member closes, then the client is closed', async () => {
    const m = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstream until close'));
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.response();
    expect(r.body).toBe('stream until close');
    expect(r.headers.connection).toBe('close');
    await c.waitClosed();
  });

  it('relays 100 Continue to a client that waits for it before sending the body', async () => {
    const m = await member('m1', (_req, res, body) => {
      res.writeHead(201, { 'content-length': body.length });
      res.end(body);
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
    const interim = await c.response();
    expect(interim.status).toBe(100);
    expect(interim.raw).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.send('data');
    const r = await c.response();
    expect(r.status).toBe(201);
    expect(r.body).toBe('data');
    expect(m.received[0]!.headers.expect).toBe('100-continue');
  });
});

describe('upgrade', () => {
  it('turns into a raw tunnel after 101 Switching Protocols', async () => {
    const m = await raw((s, got) => {
      if (!s.listenerCount('tunnel-started')) {
        s.on('tunnel-started', () => {});
        s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        const rest = got.slice(got.indexOf('\r\n\r\n') + 4);
        if (rest) s.write(`echo:${rest}`);
        s.on('data', (d: Buffer) => s.write(`echo:${d.toString('latin1')}`));
        s.on('end', () => s.end());
      }
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(101);
    c.send('frame-1');
    await until(() => c.unread.includes('echo:frame-1'));
    c.send('frame-2');
    await until(() => c.unread.includes('echo:frame-2'));
    // The member saw the upgrade headers.
    expect(m.data[0]).toContain('connection: Upgrade\r\n');
    expect(m.data[0]).toContain('upgrade: websocket\r\n');
    c.socket.end();
    await c.waitClosed();
  });

  it('closes both sides of an idle tunnel after timeout tunnel', async () => {
    const m = await raw((s, got) => {
      if (got.includes('\r\n\r\n') && !s.listenerCount('tunnel-started')) {
        s.on('tunnel-started', () => {});
        s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      }
    });
    const proxy = await proxyTo([m.port], { timeouts: { connect: 1000, server: 20_000, tunnel: 300 } }, { timeouts: { client: 20_000 } });
    const c = await client(proxy);
    c.send('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect((await c.response()).status).toBe(101);
    // Nothing crosses the tunnel: timeout tunnel (not client or server, 20 s) ends it.
    await c.waitClosed();
    await until(() => m.ends[0] !== undefined);
  });

  it('once one direction of a tunnel is shut, timeout server-fin / client-fin bound the wait for the other', async () => {
    const upgrade = (s: net.Socket, got: string) => {
      if (got.includes('\r\n\r\n') && !s.listenerCount('tunnel-started')) {
        s.on('tunnel-started', () => {});
        s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      }
    };
    const hello = 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
    // The member never closes its side: without server-fin the tunnel would stay for 60 s.
    const m = await raw(upgrade);
    const long = { tunnel: 60_000, client: 60_000, server: 60_000 };
    const proxy = await proxyTo([m.port], { timeouts: { ...long, connect: 2000, serverFin: 1000 } }, { timeouts: long });
    const c = await client(proxy);
    c.send(hello);
    expect((await c.response()).status).toBe(101);
    c.socket.end();
    await c.waitClosed(5000);
    await until(() => m.ends[0] === 'fin');

    // The member half-closes and the client stays silent: client-fin closes the tunnel.
    const m2 = await raw((s, got) => {
      upgrade(s, got);
      s.end();
    });
    const proxy2 = await proxyTo([m2.port], { timeouts: { ...long, connect: 2000 } }, { timeouts: { ...long, clientFin: 1000 } });
    // A client that keeps its own side open after the proxy's FIN.
    const c2 = net.connect({ port: proxy2.port, host: '127.0.0.1', allowHalfOpen: true });
    cleanups.push(() => void c2.destroy());
    c2.on('error', () => {});
    let got = '';
    c2.on('data', (d: Buffer) => (got += d.toString('latin1')));
    let ended = false;
    c2.on('end', () => (ended = true));
    c2.write(hello);
    await until(() => ended && got.startsWith('HTTP/1.1 101'));
    expect(proxy2.env.tracked).toBe(1);
    await until(() => proxy2.env.tracked === 0, 5000);
  });
});

describe('time statistics', () => {
  it('show stat has the queue, connect, response and total times and lastsess of what was served', async () => {
    const m = await member('m1', (_req, res) => {
      setTimeout(() => res.end('slow'), 300);
    });
    // maxconn 1: of two requests sent together, one waits in the queue for the other.
    const proxy = await proxyTo([m.port], {}, {});
    const memberPlan = proxy.plan.backends[0]!.members[0]!;
    memberPlan.maxconn = 1;
    const rows = () => statRecords(showStat(proxy.plan, undefined));
    const before = rows().find((r) => r.svname === 's1')!;
    expect([before.qtime, before.rtime, before.ttime, before.lastsess]).toEqual(['0', '0', '0', '-1']);

    const [a, b] = await Promise.all([client(proxy), client(proxy)]);
    a!.send('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n');
    b!.send('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await a!.response()).status).toBe(200);
    expect((await b!.response()).status).toBe(200);

    for (const row of [rows().find((r) => r.svname === 's1')!, rows().find((r) => r.svname === 'BACKEND' && r.pxname === 'be')!]) {
      const n = (k: string) => Number(row[k]);
      // Both waited 300 ms for the member's answer; one also about as long in the queue.
      expect(n('rtime')).toBeGreaterThanOrEqual(140);
      expect(n('rtime_max')).toBeGreaterThanOrEqual(140);
      expect(n('qtime_max')).toBeGreaterThanOrEqual(100);
      expect(n('qtime')).toBeGreaterThanOrEqual(50);
      expect(n('ttime_max')).toBeGreaterThanOrEqual(n('qtime_max') + 140);
      expect(n('ttime')).toBeGreaterThanOrEqual(n('rtime'));
      expect(n('ctime')).toBeLessThanOrEqual(n('ctime_max'));
      expect(n('lastsess')).toBeGreaterThanOrEqual(0);
      expect(n('lastsess')).toBeLessThan(60);
    }
  });
});

describe('statuses the engine answers', () => {
  it('503 when the backend has no usable member', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    // Put the only member in maintenance.
    proxy.counters.setGauge(srvSlot(proxy), 4 /* G.state */, 3 /* maint */);
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(503);
    // HAProxy 2.6: lower-case names, no Connection header, the connection stays open.
    expect(r.head).toBe(`HTTP/1.1 503 Service Unavailable\r\ncontent-length: ${r.body.length}\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n`);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n12');
    const r2 = await c.response();
    expect(r2.status).toBe(503);
    // The request body was not read: this time the connection ends.
    expect(r2.headers.connection).toBe('close');
    await c.waitClosed();
    expect(proxy.total(feSlot(proxy), T.hrsp5xx)).toBe(2);
    expect(m.received.length).toBe(0);
  });

  it('503 when every connect attempt is refused after the retries', async () => {
    const port = await deadPort();
    const proxy = await proxyTo([port], { retries: 1, timeouts: { connect: 500, server: 2000 } });
    const r = await oneShot(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(r.status).toBe(503);
    expect(proxy.total(beSlot(proxy), T.econ)).toBe(1);
    // As HAProxy: the server counts a session per connection attempt, the backend one.
    expect([proxy.total(srvSlot(proxy), T.stot), proxy.total(beSlot(proxy), T.stot)]).toEqual([2, 1]);
  });

  it('503 when every connect attempt runs into timeout connect after the retries', async () => {
    const port = await unansweredPort();
    const proxy = await proxyTo([port], { retries: 1, timeouts: { connect: 200, server: 2000 } });
    const r = await oneShot(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(r.status).toBe(503);
    expect([T.econ, T.wretr].map((t) => proxy.total(beSlot(proxy), t))).toEqual([1, 1]);
  });

  it('503 when a request waited in its member\'s queue for timeout queue', async () => {
    const m = await raw(() => {}); // takes requests, never answers
    const cfg = config(
      [frontend('fe', { defaultBackend: 'be' })],
      [backend('be', [server('s1', m.port, { maxconn: 1 })], { timeouts: { connect: 1000, server: 20_000, queue: 300 } })],
    );
    const proxy = await startProxy(cfg);
    cleanups.push(() => proxy.close());
    const first = await client(proxy);
    first.send('GET /first HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => m.data.length === 1);
    // The member's one slot is taken: the next request queues, then gives up.
    const r = await oneShot(proxy.port, 'GET /second HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(r.status).toBe(503);
    expect(m.data).toHaveLength(1);
    expect(proxy.total(feSlot(proxy), T.hrsp5xx)).toBe(1);
  });

  it('504 when the member does not answer within timeout server', async () => {
    const m = await raw(() => {});
    const proxy = await proxyTo([m.port], { timeouts: { connect: 1000, server: 300 } });
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(504);
    expect(r.headers.connection).toBeUndefined();
    expect(c.isClosed).toBe(false);
    expect(proxy.total(beSlot(proxy), T.eresp)).toBe(1);
  });

  it('502 when the member resets the connection before answering', async () => {
    const m = await raw((s) => s.resetAndDestroy());
    const proxy = await proxyTo([m.port]);
    const r = await oneShot(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(r.status).toBe(502);
    expect(proxy.total(srvSlot(proxy), T.eresp)).toBe(1);
  });

  it('502 when the member sends an invalid response head', async () => {
    const m = await raw((s) => s.write('HTTP/1.1 OK\r\nfoo\r\n\r\n'));
    const proxy = await proxyTo([m.port]);
    const r = await oneShot(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(r.status).toBe(502);
  });

  it('502 when the member closes after part of a head', async () => {
    const m = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Le'));
    const proxy = await proxyTo([m.port]);
    const r = await oneShot(proxy.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(r.status).toBe(502);
  });

  it('the client connection is cut when the member dies in the middle of a body', async () => {
    const m = await raw((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => s.destroy(), 50);
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitClosed();
    expect(c.unread).toBe('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
    expect(proxy.total(srvSlot(proxy), T.srvAbrt)).toBe(1);
  });

  const malformed: [string, string, number][] = [
    ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['two different Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400],
    ['bad chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', 400],
    ['bare CR', 'GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n', 400],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  c\r\n\r\n', 400],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
    ['Transfer-Encoding not ending in chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
    ['Transfer-Encoding with a coding before chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 422],
    ['HTTP/1.0 GET with a body', 'GET / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab', 413],
    ['garbage request line', 'HELLO\r\n\r\n', 400],
  ];
  for (const [what, request, status] of malformed) {
    it(`${status} for ${what}, and the member sees nothing`, async () => {
      const m = await member();
      const proxy = await proxyTo([m.port]);
      const c = await client(proxy);
      c.send(request);
      const r = await c.response();
      expect(r.status).toBe(status);
      expect(r.headers.connection).toBe('close');
      await c.waitClosed();
      expect(m.received.length).toBe(0);
      expect(proxy.total(feSlot(proxy), T.ereq)).toBe(1);
    });
  }

  it('400 for a request head larger than tune.bufsize - tune.maxrewrite, as HAProxy', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    // 15360 bytes fit (16384 - 1024); a head of 16000 does not.
    const fits = `GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(15000)}\r\n\r\n`;
    expect((await oneShot(proxy.port, fits)).status).toBe(200);
    const c = await client(proxy);
    c.send(`GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(16000)}\r\n`);
    const r = await c.response();
    expect(r.status).toBe(400);
    await c.waitClosed();
    expect(m.received.length).toBe(1);
  });

  it('408 when the head is not complete within timeout http-request', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], {}, { timeouts: { client: 5000, httpRequest: 300 } });
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n');
    const r = await c.response();
    expect(r.status).toBe(408);
    await c.waitClosed();
    expect(m.received.length).toBe(0);
  });

  it('408 also when a first request never starts, silence when a later one never starts', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], {}, { timeouts: { client: 5000, httpRequest: 300, httpKeepAlive: 300 } });
    const c = await client(proxy);
    expect((await c.response()).status).toBe(408);
  });

  it('http-ignore-probes: a connection that ends or times out before its first byte is closed silently, uncounted', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], {}, { timeouts: { client: 5000, httpRequest: 300 }, options: options({ httpIgnoreProbes: true }) });
    // Half-closed before any byte; silent until timeout http-request; part of a head, then
    // half-closed: only the last is a request (400, counted), as HAProxy does.
    expect(await tcpExchange(proxy.port, '')).toBe('');
    expect(await tcpExchange(proxy.port, '', { end: false })).toBe('');
    expect((await tcpExchange(proxy.port, 'GET / HTTP/1.1\r\n')).slice(0, 12)).toBe('HTTP/1.1 400');
    expect([T.reqTot, T.ereq, T.hrsp4xx].map((t) => proxy.total(feSlot(proxy), t))).toEqual([1, 1, 1]);
  });

  it('option dontlognull changes no answer: 408 to a connection silent from the start, as HAProxy', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], {}, { timeouts: { client: 5000, httpRequest: 300 }, options: options({ dontlognull: true }) });
    expect((await tcpExchange(proxy.port, '', { end: false })).slice(0, 12)).toBe('HTTP/1.1 408');
    expect((await tcpExchange(proxy.port, '')).slice(0, 12)).toBe('HTTP/1.1 400');
  });

  it('serves members on IPv4 and counts the client session in the frontend and global gauges', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.response();
    expect(proxy.counters.gauge(feSlot(proxy), 0)).toBe(1);
    expect(proxy.counters.gauge(0, 0)).toBe(1);
    c.close();
    await until(() => proxy.counters.gauge(feSlot(proxy), 0) === 0);
    expect(proxy.counters.gauge(0, 0)).toBe(0);
    expect(proxy.counters.gauge(srvSlot(proxy), 0)).toBe(0);
    expect(proxy.env.tracked).toBe(0);
  });

  it('soft stop: the next response says Connection: close and the connection ends', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).headers.connection).not.toBe('close');
    proxy.env.stopping = true;
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).headers.connection).toBe('close');
    await c.waitClosed();
  });

  it('a client that closes mid-body is counted as a client abort and frees the member slot', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-some');
    await until(() => m.connections === 1);
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    await until(() => proxy.total(feSlot(proxy), T.cliAbrt) === 1);
    await until(() => proxy.counters.gauge(srvSlot(proxy), 0) === 0);
  });
});

describe('connection modes and reloads', () => {
  it('a client that asked to close is let go with its response; one we close lingers until its FIN', async () => {
    const m = await member();
    // client-fin 60 s: a lingering close outlasts the test by far.
    const long = { client: 60_000, clientFin: 60_000 };
    const proxy = await proxyTo([m.port], {}, { timeouts: long });
    const proxyHttpClose = await proxyTo([m.port], {}, { timeouts: long, options: options({ httpClose: true }) });
    // A client that keeps its own side open after the proxy's FIN.
    const halfOpen = (port: number, request: string) => {
      const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      cleanups.push(() => void s.destroy());
      s.on('error', () => {});
      const st = { got: '', ended: false, socket: s };
      s.on('data', (d: Buffer) => (st.got += d.toString('latin1')));
      s.on('end', () => (st.ended = true));
      s.write(request);
      return st;
    };
    // Connection: close, and HTTP/1.0 without keep-alive: the proxy holds nothing once the
    // response and its FIN are out, though the client has not closed.
    for (const request of ['GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'GET / HTTP/1.0\r\n\r\n']) {
      const c = halfOpen(proxy.port, request);
      await until(() => c.ended && c.got.startsWith('HTTP/1.1 200'));
      await until(() => proxy.env.tracked === 0, 5000);
      expect(c.got).toContain('\r\nconnection: close\r\n');
    }
    // A keep-alive request the proxy decides to close (option httpclose): the client may still
    // be sending, so the proxy reads on until the client's FIN before letting go.
    const k = halfOpen(proxyHttpClose.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => k.ended && k.got.startsWith('HTTP/1.1 200'));
    expect(k.got).toContain('\r\nconnection: close\r\n');
    k.socket.write('GET /late HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    expect(proxyHttpClose.env.tracked).toBe(1);
    k.socket.end();
    await until(() => proxyHttpClose.env.tracked === 0, 5000);
    // The late request was read and dropped, never forwarded.
    expect(m.received.map((r) => r.url)).not.toContain('/late');
  });

  it('http-reuse never: a client keeps its own member connection, never shared', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], { httpReuse: 'never' });
    const a = await client(proxy);
    for (let i = 0; i < 3; i++) {
      a.send(`GET /a${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect((await a.response()).status).toBe(200);
    }
    expect(m.connections).toBe(1);
    const b = await client(proxy);
    for (let i = 0; i < 2; i++) {
      b.send(`GET /b${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect((await b.response()).status).toBe(200);
    }
    expect(m.connections).toBe(2);
    expect(m.received.filter((r) => r.url.startsWith('/a')).every((r) => r.conn === 0)).toBe(true);
    expect(m.received.filter((r) => r.url.startsWith('/b')).every((r) => r.conn === 1)).toBe(true);
  });

  it('option http-server-close: the member connection closes after each request, the client stays', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], { options: options({ httpServerClose: true }) });
    const c = await client(proxy);
    for (let i = 0; i < 3; i++) {
      c.send(`GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(r.headers.connection).not.toBe('close');
    }
    expect(c.isClosed).toBe(false);
    expect(m.connections).toBe(3);
    expect(m.received.every((r) => r.headers.connection === 'close')).toBe(true);
  });

  it('a request head sent again goes through the rules of its own time, after a reload too', async () => {
    const m = await raw((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const set = (name: string, value: string) => ({ action: 'set-header' as const, name, value: [{ kind: 'text' as const, text: value }], where: where() });
    const variants = [
      { rules: [], want: 'x-a: 1\r\nx-forwarded-proto: gopher\r\n' },
      { rules: [{ action: 'del-header' as const, name: 'X-A', where: where() }], want: 'x-forwarded-proto: gopher\r\n' },
      { rules: [], want: 'x-a: 1\r\nx-forwarded-proto: gopher\r\n' },
      { rules: [set('X-Proto', 'http')], want: 'x-a: 1\r\nx-forwarded-proto: gopher\r\nx-proto: http\r\n' },
      { rules: [set('X-Proto', 'https')], want: 'x-a: 1\r\nx-forwarded-proto: gopher\r\nx-proto: https\r\n' },
      { rules: [set('X-Forwarded-Proto', 'http')], want: 'x-a: 1\r\nx-forwarded-proto: http\r\n' },
    ];
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    const request = 'GET /same HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-Forwarded-Proto: gopher\r\n\r\n';
    for (const v of variants) {
      const cfg = config([frontend('fe', { defaultBackend: 'be' })], [backend('be', [server('s1', m.port)], { httpRequest: v.rules })]);
      proxy.env.plan = compilePlan(cfg, new Counters(allocateCounters(countSlots(cfg), 1), countSlots(cfg), 0), 2, true);
      // Twice per plan: the second one is the very same bytes through the very same rules.
      for (let i = 0; i < 2; i++) {
        const before = m.data.map((d) => d.length);
        c.send(request);
        expect((await c.response()).status).toBe(200);
        const sent = m.data.map((d, k) => d.slice(before[k] ?? 0)).join('');
        expect(sent).toBe(`GET /same HTTP/1.1\r\nhost: x\r\n${v.want}\r\n`);
      }
    }
  });

  it('a reload applies from the next request of a kept-alive connection', async () => {
    const m1 = await member('old');
    const m2 = await member('new');
    const proxy = await proxyTo([m1.port]);
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).body).toBe('old GET /');
    const cfg2 = config([frontend('fe', { defaultBackend: 'be2' })], [backend('be2', [server('n1', m2.port)])]);
    proxy.env.plan = compilePlan(cfg2, new Counters(allocateCounters(countSlots(cfg2), 1), countSlots(cfg2), 0), 2, true);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).body).toBe('new GET /');
    expect(c.isClosed).toBe(false);
  });
});

describe('more statuses', () => {
  it('408 when a request body stops arriving for timeout client', async () => {
    const m = await member();
    const proxy = await proxyTo([m.port], {}, { timeouts: { client: 300 } });
    const c = await client(proxy);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    const r = await c.response();
    expect(r.status).toBe(408);
    await c.waitClosed();
  });

  it('a denied HEAD request gets the error head without a body', async () => {
    const m = await member();
    const cfg = config(
      [frontend('fe', { defaultBackend: 'be', httpRequest: [{ action: 'deny', where: where() }] })],
      [backend('be', [server('s1', m.port)])],
    );
    const proxy = await startProxy(cfg);
    cleanups.push(() => proxy.close());
    const c = await client(proxy);
    c.send('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.response({ head: true });
    expect(r.status).toBe(403);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).status).toBe(403);
    expect(c.unread).toBe('');
  });

  it('a final answer to Expect: 100-continue instead of 100 ends the connection after it', async () => {
    const m = await raw((s) => s.write('HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n'));
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    const r = await c.response();
    expect(r.status).toBe(417);
    expect(r.headers.connection).toBe('close');
    await c.waitClosed();
  });
});

describe('member connection pool', () => {
  it('drops an idle member connection that the member closes', async () => {
    const sockets: net.Socket[] = [];
    const m = await raw((s) => {
      sockets.push(s);
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    });
    const proxy = await proxyTo([m.port]);
    const c = await client(proxy);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.response();
    sockets[0]!.end();
    await new Promise((r) => setTimeout(r, 100));
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).status).toBe(200);
    expect(m.connections).toBe(2);
  });
});

/**
 * A loopback port whose SYNs go unanswered, as behind a firewall that drops them: a listener
 * with a backlog of 0 that never accepts, its accept queue filled by one connection (Linux
 * drops a SYN while the queue is full). Node's own servers accept at once, so a Python
 * process holds it; it ends with the test.
 */
async function unansweredPort(): Promise<number> {
  const script =
    'import socket, sys\n' +
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)\n' +
    'c = socket.create_connection(s.getsockname())\n' +
    'print(s.getsockname()[1], flush=True)\n' +
    'sys.stdin.read()\n';
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanups.push(() => {
    child.kill();
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`python3 exited (${code})`)));
  });
  return Number(line);
}
