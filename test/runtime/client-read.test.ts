// Accepted client sockets read with `onread` into one shared buffer (client-read.ts): every
// reader gets its own intact bytes, bytes sent before a reader is set are handed over in
// order, and a socket without a reader stops reading until it gets one.

import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { acceptWithOnread, setClientReader, type ClientReader } from '../../proxy-core/runtime/client-read.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A loopback server whose accepted sockets come from acceptWithOnread(). */
async function server(onSocket: (s: net.Socket) => void, host = '127.0.0.1'): Promise<number> {
  const srv = net.createServer();
  const sockets = new Set<net.Socket>();
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  await new Promise<void>((r) => srv.listen(0, host, r));
  const ok = acceptWithOnread(
    srv,
    (s) => {
      sockets.add(s);
      onSocket(s);
    },
    (err) => {
      throw err;
    },
  );
  expect(ok).toBe(true);
  srv.removeAllListeners('connection');
  return (srv.address() as net.AddressInfo).port;
}

function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, host, () => resolve(c));
    c.on('error', reject);
    cleanups.push(() => c.destroy());
  });
}

/** Collects every chunk; resolves on 'end' with the bytes and the chunks. */
function collector(socket: net.Socket): { reader: ClientReader; done: Promise<{ bytes: Buffer; chunks: Buffer[] }> } {
  const chunks: Buffer[] = [];
  const reader: ClientReader = { clientBytes: (_s, chunk) => void chunks.push(chunk) };
  const done = new Promise<{ bytes: Buffer; chunks: Buffer[] }>((resolve) =>
    socket.on('end', () => resolve({ bytes: Buffer.concat(chunks), chunks })),
  );
  return { reader, done };
}

const pattern = (seed: number, n: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

describe('client reads', () => {
  it('connections reading into the shared buffer each get their own intact bytes', async () => {
    const results: Promise<{ bytes: Buffer; chunks: Buffer[] }>[] = [];
    const port = await server((s) => {
      const c = collector(s);
      setClientReader(s, c.reader);
      results.push(c.done);
    });
    const payloads = [1, 2, 3, 4].map((seed) => pattern(seed, 300_000));
    const clients = await Promise.all(payloads.map(() => connect(port)));
    // Interleaved writes: the four connections' reads alternate on the shared buffer.
    for (let off = 0; off < 300_000; off += 10_000) clients.forEach((c, i) => c.write(payloads[i]!.subarray(off, off + 10_000)));
    clients.forEach((c) => c.end());
    while (results.length < 4) await new Promise((r) => setTimeout(r, 5));
    const got = await Promise.all(results);
    // Order of acceptance is the order of connection.
    const sorted = got.map((g) => g.bytes).sort((a, b) => a[0]! - b[0]!);
    expect(sorted.map((b, i) => b.equals(payloads[i]!))).toEqual([true, true, true, true]);
  });

  it('bytes sent before the reader is set are handed over first, in order, then the rest', async () => {
    const { promise: acceptedP, resolve: onAccepted } = Promise.withResolvers<net.Socket>();
    const client = await connect(await server(onAccepted));
    const accepted = await acceptedP;
    // 200 KiB before any reader: more than a socket keeps without one (it stops reading).
    const before = pattern(7, 200 * 1024);
    client.write(before);
    await new Promise((r) => setTimeout(r, 100));
    // It stopped reading past what it keeps without a reader (64 KiB, plus at most one read).
    expect(accepted.bytesRead).toBeLessThanOrEqual(128 * 1024);
    const c = collector(accepted);
    setClientReader(accepted, c.reader);
    const after = pattern(9, 50_000);
    client.end(after);
    const { bytes } = await c.done;
    expect(bytes.equals(Buffer.concat([before, after]))).toBe(true);
  });

  it('a plain socket (not accepted here) is read through its data events', async () => {
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      const c = collector(s);
      setClientReader(s, c.reader);
      void c.done.then(({ bytes }) => s.end(String(bytes.length)));
    });
    cleanups.push(() => srv.close());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const client = await connect((srv.address() as net.AddressInfo).port);
    client.end(pattern(3, 70_000));
    const answer = await new Promise<string>((resolve) => {
      let s = '';
      client.on('data', (d) => (s += d));
      client.on('end', () => resolve(s));
    });
    expect(answer).toBe('70000');
  });

  it('accepted sockets know their local address: the bound one, or the real one on a wildcard listener', async () => {
    const seen: { address?: string; port?: number; remote?: string }[] = [];
    const record = (s: net.Socket) => seen.push({ address: s.localAddress, port: s.localPort, remote: s.remoteAddress });
    const one = await server(record, '127.0.0.2');
    const any = await server(record, '0.0.0.0');
    await connect(one, '127.0.0.2');
    await connect(any, '127.0.0.3');
    await connect(any, '127.0.0.4');
    for (let i = 0; i < 200 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([
      { address: '127.0.0.2', port: one, remote: '127.0.0.1' },
      { address: '127.0.0.3', port: any, remote: '127.0.0.1' },
      { address: '127.0.0.4', port: any, remote: '127.0.0.1' },
    ]);
  });
});
