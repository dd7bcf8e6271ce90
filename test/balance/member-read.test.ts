// Member connections read into reused buffers: kept bytes stay intact, unkept reads share
// one buffer, buffers of closed connections serve new ones, bytes before a reader wait.

import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { connectMember, setReader, type MemberReader } from '../../proxy-core/balance/member-read.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A member that sends `parts` one at a time (each after the previous one was read back), then closes. */
async function sender(parts: Buffer[], opts: { waitForAck?: boolean } = {}): Promise<number> {
  const srv = net.createServer((s) => {
    let i = 0;
    const next = () => {
      if (i < parts.length) s.write(parts[i++]!);
      else s.end();
    };
    if (opts.waitForAck) s.on('data', next);
    else parts.forEach(() => next());
    next();
  });
  cleanups.push(() => srv.close());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as net.AddressInfo).port;
}

const part = (c: string, n: number) => Buffer.alloc(n, c);

/** Collects what the member sends; `keep`: hold on to the chunks themselves (and say so). */
function collect(socket: net.Socket, keep: boolean): Promise<{ chunks: Buffer[]; copies: Buffer[] }> {
  const chunks: Buffer[] = [];
  const copies: Buffer[] = [];
  const reader: MemberReader = {
    memberBytes(s, chunk) {
      chunks.push(chunk);
      copies.push(Buffer.from(chunk));
      s.write('k'); // ask for the next part only once this one was read
      return keep;
    },
  };
  setReader(socket, reader);
  return new Promise((resolve) =>
    socket.on('end', () => {
      socket.end();
      resolve({ chunks, copies });
    }),
  );
}

describe('member reads', () => {
  it('chunks a reader keeps stay intact while later reads arrive', async () => {
    const parts = ['a', 'b', 'c', 'd'].map((c) => part(c, 3000));
    const s = connectMember('127.0.0.1', await sender(parts, { waitForAck: true }));
    cleanups.push(() => s.destroy());
    const { chunks } = await collect(s, true);
    expect(Buffer.concat(chunks).equals(Buffer.concat(parts))).toBe(true);
  });

  it('reads a reader does not keep go to one buffer', async () => {
    const parts = ['a', 'b', 'c'].map((c) => part(c, 2000));
    const s = connectMember('127.0.0.1', await sender(parts, { waitForAck: true }));
    cleanups.push(() => s.destroy());
    const { chunks, copies } = await collect(s, false);
    expect(Buffer.concat(copies).equals(Buffer.concat(parts))).toBe(true);
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(1);
  });

  it('a closed connection hands its buffer to the next one, unless the buffer is kept', async () => {
    const port = await sender([part('x', 1000)]);
    const first = connectMember('127.0.0.1', port);
    const { chunks: firstChunks } = await collect(first, false);
    await new Promise((r) => first.once('close', r));
    const second = connectMember('127.0.0.1', port);
    const { chunks: secondChunks } = await collect(second, true);
    expect(secondChunks[0]!.buffer).toBe(firstChunks[0]!.buffer);
    await new Promise((r) => second.once('close', r));
    // The second connection kept its bytes: a third connection reads elsewhere.
    const third = connectMember('127.0.0.1', await sender([part('y', 1000)]));
    const { chunks: thirdChunks } = await collect(third, false);
    expect(thirdChunks[0]!.buffer).not.toBe(secondChunks[0]!.buffer);
    expect(secondChunks[0]!.equals(part('x', 1000))).toBe(true);
  });

  it('bytes that come before the reader is set are handed over when it is', async () => {
    const parts = [part('e', 500), part('f', 500)];
    const s = connectMember('127.0.0.1', await sender(parts, { waitForAck: true }));
    cleanups.push(() => s.destroy());
    await new Promise((r) => s.once('connect', r));
    await new Promise((r) => setTimeout(r, 50)); // the first part is read meanwhile
    const { copies } = await collect(s, false);
    expect(Buffer.concat(copies).equals(Buffer.concat(parts))).toBe(true);
  });
  it('a read that fills the buffer moves the connection to larger reads, and small reads move it back', async () => {
    const big = Buffer.alloc(4 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    const smalls = ['p', 'q', 'r'].map((c) => part(c, 100));
    // The member sends the big part at once, then each small part once the previous one was read.
    const srv = net.createServer((sock) => {
      let i = 0;
      sock.write(big);
      sock.on('data', () => {
        if (i < smalls.length) sock.write(smalls[i++]!);
        else sock.end();
      });
    });
    cleanups.push(() => srv.close());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const s = connectMember('127.0.0.1', (srv.address() as net.AddressInfo).port);
    cleanups.push(() => s.destroy());
    const sizes: number[] = [];
    const buffers: number[] = [];
    const copies: Buffer[] = [];
    let got = 0;
    let first = true;
    setReader(s, {
      memberBytes(sock, chunk) {
        if (first) {
          // Let the big part pile up in the socket so that reads fill the buffer.
          first = false;
          const until = Date.now() + 50;
          while (Date.now() < until);
        }
        sizes.push(chunk.length);
        buffers.push(chunk.buffer.byteLength);
        copies.push(Buffer.from(chunk));
        got += chunk.length;
        if (got >= big.length) sock.write('n'); // the big part is in: ask for the next small one
        return false;
      },
    });
    await new Promise((r) => s.once('end', r));
    s.end();
    expect(Buffer.concat(copies).equals(Buffer.concat([big, ...smalls]))).toBe(true);
    expect(Math.max(...sizes)).toBeGreaterThan(64 * 1024);
    // The last small parts were read into a small buffer again.
    expect(sizes.at(-1)).toBe(100);
    expect(buffers.at(-1)).toBe(64 * 1024);
  });
});

describe('member connections', () => {
  /** A member that records what it receives and how its connection ended. */
  async function recorder(): Promise<{ port: number; got: () => string; ended: Promise<string>; pause: () => void; resume: () => void }> {
    let sock: net.Socket | undefined;
    let data = '';
    let resolveEnd!: (how: string) => void;
    const ended = new Promise<string>((r) => (resolveEnd = r));
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      sock = s;
      s.on('data', (d: Buffer) => (data += d.toString('latin1')));
      s.on('end', () => resolveEnd('fin'));
      s.on('error', (e: NodeJS.ErrnoException) => resolveEnd(e.code ?? 'error'));
    });
    cleanups.push(() => {
      sock?.destroy();
      srv.close();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return {
      port: (srv.address() as net.AddressInfo).port,
      got: () => data,
      ended,
      pause: () => sock?.pause(),
      resume: () => sock?.resume(),
    };
  }

  it('write() says when to wait, and "drain" when the member has taken everything', async () => {
    const m = await recorder();
    const s = connectMember('127.0.0.1', m.port);
    cleanups.push(() => s.destroy());
    setReader(s, { memberBytes: () => false });
    await new Promise((r) => s.once('connect', r));
    m.pause();
    await new Promise((r) => setTimeout(r, 20));
    // Far more than the socket buffers hold while the member does not read.
    const chunk = Buffer.alloc(1 << 20, 'z');
    let writes = 0;
    while (s.write(chunk) && writes < 64) writes++;
    expect(writes).toBeLessThan(64);
    expect(s.writableLength).toBeGreaterThan(0);
    const drained = new Promise((r) => s.once('drain', r));
    m.resume();
    await drained;
    expect(s.writableLength).toBe(0);
    s.end('!');
    expect(await m.ended).toBe('fin');
    expect(m.got().length).toBe((writes + 1) * chunk.length + 1);
    expect(m.got().endsWith('z!')).toBe(true);
  });

  it('resetAndDestroy() closes with a reset; destroy() and end() with a FIN', async () => {
    for (const [close, want] of [
      [(s: net.Socket) => s.resetAndDestroy(), 'ECONNRESET'],
      [(s: net.Socket) => s.destroy(), 'fin'],
      [(s: net.Socket) => s.end(), 'fin'],
    ] as const) {
      const m = await recorder();
      const s = connectMember('127.0.0.1', m.port);
      cleanups.push(() => s.destroy());
      setReader(s, { memberBytes: () => false });
      await new Promise((r) => s.once('connect', r));
      s.write('hello');
      close(s);
      expect(await m.ended).toBe(want);
      expect(m.got()).toBe('hello');
    }
  });

  it('a refused connection is an "error" then "close"; a silent one a "timeout"', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const s = connectMember('127.0.0.1', port);
    const events: string[] = [];
    s.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.code}`));
    await new Promise((r) => s.once('close', r));
    expect(events).toEqual(['error ECONNREFUSED']);

    const m = await recorder();
    const t = connectMember('127.0.0.1', m.port);
    cleanups.push(() => t.destroy());
    setReader(t, { memberBytes: () => false });
    t.setTimeout(100);
    await new Promise((r) => t.once('timeout', r));
    expect(t.destroyed).toBe(false);
  });

  it('an IPv6 member address connects over IPv6', async () => {
    const srv = net.createServer((sock) => sock.end(`hello ${sock.remoteAddress}`));
    cleanups.push(() => srv.close());
    await new Promise<void>((r) => srv.listen(0, '::1', r));
    const s = connectMember('::1', (srv.address() as net.AddressInfo).port);
    cleanups.push(() => s.destroy());
    const { copies } = await collect(s, false);
    expect(Buffer.concat(copies).toString()).toBe('hello ::1');
    expect(s.remoteAddress).toBe('::1');
  });

  it('a member named by host name gets a plain net.Socket that reads the same way', async () => {
    const parts = [part('h', 700), part('i', 700)];
    const s = connectMember('localhost', await sender(parts, { waitForAck: true }));
    cleanups.push(() => s.destroy());
    expect(s).toBeInstanceOf(net.Socket);
    const { copies } = await collect(s, false);
    expect(Buffer.concat(copies).equals(Buffer.concat(parts))).toBe(true);
  });
});
