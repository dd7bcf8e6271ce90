// Mode tcp piping: half-close, timeouts, byte counting, aborts, backpressure.

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../proxy-core/config/parse.ts';
import { G, T } from '../../proxy-core/runtime/counters.ts';
import { listen, server } from '../compile/fixtures.ts';
import { exchange, hold, startMember, startProxy, stopAll, until, type Member } from './harness.ts';

afterEach(stopAll);

const at = (m: Member, o: Parameters<typeof server>[3] = {}) => server(m.name, '127.0.0.1', m.port, o);

describe('half-close', () => {
  it('forwards the client FIN and still delivers the member reply', async () => {
    const m = await startMember('m', 'reply');
    const proxy = await startProxy(listen('hc', [at(m)]));
    const r = await exchange(proxy.port, { send: 'hello', end: true });
    expect(r).toEqual({ data: 'm:hello', error: false });
    expect(m.got(0)).toBe('hello');
  });

  it('forwards a FIN the client sent before the member connection was up', async () => {
    // Connect-then-close with no data (a health probe's shape): the FIN arrives while the
    // member is being connected and must still reach it, not wait for timeout client.
    const m = await startMember('m', 'reply');
    const proxy = await startProxy(listen('hc', [at(m)]));
    const bounded = new Promise<string>((r) => setTimeout(() => r('no reply within 5 s'), 5000));
    const r = await Promise.race([exchange(proxy.port, { end: true }).then((x) => x.data), bounded]);
    expect(r).toBe('m:');
  });

  it('forwards the member FIN and still carries what the client sends afterwards', async () => {
    // The member writes, closes its side, and keeps reading until the client's FIN.
    const got: string[] = [];
    const srv = net.createServer({ allowHalfOpen: true }, (sock) => {
      let data = '';
      sock.on('data', (d: Buffer) => (data += d.toString()));
      sock.on('end', () => {
        got.push(data);
        sock.destroy();
      });
      sock.end('bye');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    try {
      const proxy = await startProxy(listen('hc', [server('m', '127.0.0.1', port)]));
      const client = net.connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
      let data = '';
      client.on('data', (d: Buffer) => (data += d.toString()));
      await new Promise<void>((r) => client.once('end', r));
      expect(data).toBe('bye');
      client.end('after-fin');
      await until(() => got.length === 1, 'the member to read the late bytes');
      expect(got[0]).toBe('after-fin');
      client.destroy();
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});

describe('member without a port', () => {
  it('connects to the port the client connected to', async () => {
    const proxy = await startProxy(listen('np', [server('m', '127.0.0.2', undefined)]));
    // The member listens on the proxy's port, on another loopback address.
    const member = net.createServer((sock) => sock.end(`port ${sock.localPort}`));
    await new Promise<void>((r) => member.listen(proxy.port, '127.0.0.2', r));
    try {
      expect((await exchange(proxy.port)).data).toBe(`port ${proxy.port}`);
    } finally {
      await new Promise<void>((r) => member.close(() => r()));
    }
  });
});

describe('bytes and sessions', () => {
  it('counts bytes in and out on frontend, backend and member, and every session out', async () => {
    const m = await startMember('member', 'reply');
    const proxy = await startProxy(listen('b', [at(m)]));
    const payload = 'x'.repeat(100_000);
    const r = await exchange(proxy.port, { send: payload, end: true });
    expect(r.data).toBe(`member:${payload}`);
    const c = proxy.counters;
    const fe = proxy.plan.frontends[0]!;
    const be = proxy.plan.backends[0]!;
    const mem = be.members[0]!;
    await until(() => c.gauge(fe.slot, G.scur) === 0 && c.gauge(0, G.scur) === 0, 'the frontend session to end');
    for (const slot of [fe.slot, be.slot, mem.slot]) {
      expect(c.sum(slot, T.bin)).toBe(100_000);
      expect(c.sum(slot, T.bout)).toBe(100_007);
      expect(c.sum(slot, T.stot)).toBe(1);
    }
    expect(c.gauge(be.slot, G.scur)).toBe(0);
    expect(c.gauge(mem.slot, G.scur)).toBe(0);
    expect(proxy.tracked.size).toBe(0);
  });

  it('stops reading the client while the member does not read, then delivers every byte', async () => {
    const size = 48 * 1024 * 1024;
    const m = await startMember('m', 'silent');
    m.pause();
    const proxy = await startProxy(listen('bp', [at(m)]));
    const client = net.connect({ host: '127.0.0.1', port: proxy.port });
    client.on('error', () => {});
    const chunk = Buffer.alloc(1024 * 1024, 1);
    for (let sent = 0; sent < size; sent += chunk.length) client.write(chunk);
    await until(() => m.open.size === 1 && proxy.tracked.size === 1, 'the session to be set up');
    const [proxySide] = proxy.tracked;
    // Let the buffers between client and member fill up, then look at what the proxy read.
    let last = -1;
    await until(() => {
      const now = proxySide!.bytesRead;
      const still = now === last;
      last = now;
      return still;
    }, 'the proxy to stop reading', 10_000);
    expect(proxySide!.bytesRead).toBeLessThan(size);
    expect(proxySide!.isPaused()).toBe(true);
    m.resume();
    await until(() => m.bytes(0) === size, 'every byte to reach the member', 20_000);
    client.destroy();
  });
});

describe('timeouts', () => {
  it('closes an idle session after timeout client', async () => {
    const m = await startMember('m', 'silent');
    const proxy = await startProxy(listen('t', [at(m)], { timeouts: { server: 60_000 } }, { timeouts: { client: 150 } }));
    const r = await exchange(proxy.port);
    expect(r.data).toBe('');
    const be = proxy.plan.backends[0]!;
    await until(() => m.open.size === 0, 'the member side to close');
    expect(proxy.counters.sum(be.slot, T.cliAbrt)).toBe(1);
  });

  it('closes an idle session after timeout server', async () => {
    const m = await startMember('m', 'silent');
    const proxy = await startProxy(listen('t', [at(m)], { timeouts: { server: 150 } }, { timeouts: { client: 60_000 } }));
    expect((await exchange(proxy.port)).data).toBe('');
    expect(proxy.counters.sum(proxy.plan.backends[0]!.slot, T.srvAbrt)).toBe(1);
  });

  it('lets timeout tunnel replace client and server timeouts once connected', async () => {
    const m = await startMember('m', 'hold');
    const proxy = await startProxy(
      listen('t', [at(m)], { timeouts: { server: 100, tunnel: 60_000 } }, { timeouts: { client: 100 } }),
    );
    const { sock } = await hold(proxy.port, 1);
    await new Promise((r) => setTimeout(r, 600));
    expect(sock.destroyed).toBe(false);
    sock.write('still-there');
    await until(() => m.got(0) === 'still-there', 'the member to receive');
  });

  it('applies timeout server-fin once the client has shut its side', async () => {
    const m = await startMember('m', 'deaf');
    const proxy = await startProxy(
      listen('t', [at(m)], { timeouts: { server: 60_000, serverFin: 150 } }, { timeouts: { client: 60_000 } }),
    );
    const r = await exchange(proxy.port, { send: 'x', end: true });
    expect(r.data).toBe('');
    expect(m.got(0)).toBe('x');
    expect(proxy.counters.sum(proxy.plan.backends[0]!.slot, T.srvAbrt)).toBe(1);
  });

  it('applies timeout client-fin once the member has shut its side', async () => {
    const m = await startMember('m', 'greet');
    const proxy = await startProxy(
      listen('t', [at(m)], { timeouts: { server: 60_000 } }, { timeouts: { client: 60_000, clientFin: 150 } }),
    );
    // A client that reads the answer but never closes its own side.
    const client = net.connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
    let data = '';
    client.on('data', (d: Buffer) => (data += d.toString()));
    client.on('error', () => {});
    await new Promise<void>((r) => client.once('end', () => r()));
    expect(data).toBe('m');
    await until(() => proxy.tracked.size === 0, 'the proxy to drop the half-closed client');
    expect(proxy.counters.sum(proxy.plan.backends[0]!.slot, T.cliAbrt)).toBe(1);
    client.destroy();
  });
});

describe('aborts', () => {
  it('takes the member side down when the client resets', async () => {
    const m = await startMember('m', 'hold');
    const proxy = await startProxy(listen('a', [at(m)]));
    const { sock } = await hold(proxy.port, 1);
    sock.resetAndDestroy();
    await until(() => m.open.size === 0, 'the member connection to close');
    const be = proxy.plan.backends[0]!;
    await until(() => proxy.counters.gauge(be.slot, G.scur) === 0, 'the backend session to end');
    expect(proxy.counters.sum(be.slot, T.cliAbrt)).toBe(1);
  });

  it('closes the client when the member resets', async () => {
    const m = await startMember('m', 'hold');
    const proxy = await startProxy(listen('a', [at(m)]));
    const client = hold(proxy.port, 1);
    const { sock } = await client;
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    await until(() => m.open.size === 1, 'the member to hold the connection');
    for (const s of m.open) s.resetAndDestroy();
    await closed;
    expect(proxy.counters.sum(proxy.plan.backends[0]!.slot, T.srvAbrt)).toBe(1);
  });
});

describe('from config text', () => {
  it('serves a parsed mode tcp listener with the defaults section applied', async () => {
    const m = await startMember('m', 'reply');
    const { config, errors } = parseConfig([
      {
        path: 'haproxy.cfg',
        text: `global
    maxconn 100
defaults
    retries 3
    option redispatch
    timeout connect 5000
frontend tcp-in
    bind 127.0.0.1:8443
    mode tcp
    default_backend pool
    timeout client 50000
backend pool
    mode tcp
    balance leastconn
    timeout server 50000
    server m1 127.0.0.1:${m.port} weight 1
`,
      },
    ]);
    expect(errors).toEqual([]);
    // The harness serves the frontend on a port of its own; the bind line is not opened.
    const proxy = await startProxy(config);
    expect(proxy.plan.backends[0]!.timeouts).toMatchObject({ connect: 5000, server: 50000, queue: 5000 });
    expect((await exchange(proxy.port, { send: 'ping', end: true })).data).toBe('m:ping');
    // show stat's lastsess and session times, on the member and the backend.
    const be = proxy.plan.backends[0]!;
    for (const slot of [be.slot, be.members[0]!.slot]) {
      expect(Math.floor(Date.now() / 1000) - proxy.counters.max(slot, T.lastSess)).toBeLessThan(60);
      await until(() => proxy.counters.sum(slot, T.timeSamples) === 1, 'the session times');
      expect(proxy.counters.averageTime(slot, T.rtime)).toBe(0);
    }
  });
});
