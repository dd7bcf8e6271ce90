// Test helpers shared by the interop and heartbeat tests: Octavia's own heartbeat envelope
// code run through /usr/bin/python3 (Debian python3-octavia), UDP receivers on loopback.

import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A UDP socket on loopback collecting datagrams. */
export class UdpCollector {
  readonly datagrams: Buffer[] = [];
  private readonly socket: dgram.Socket;
  private readonly family: 4 | 6;
  private waiters: (() => void)[] = [];

  constructor(family: 4 | 6 = 4) {
    this.family = family;
    this.socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    this.socket.on('message', (msg) => {
      this.datagrams.push(msg);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  async bind(): Promise<number> {
    const host = this.family === 6 ? '::1' : '127.0.0.1';
    await new Promise<void>((resolve) => this.socket.bind(0, host, () => resolve()));
    return this.socket.address().port;
  }

  /** Resolves once `count` datagrams arrived; rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.datagrams.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} datagrams, got ${this.datagrams.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.datagrams.slice(0, count);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Can this machine bind ::1? (IPv6 may be disabled in a container.) */
export async function hasIpv6Loopback(): Promise<boolean> {
  const s = dgram.createSocket('udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '::1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      s.close();
    } catch {
      // not bound
    }
  }
}

/** Octavia's status_message.unwrap_envelope on `envelope`, run by the system Python. */
export async function octaviaUnwrap(envelope: Buffer, key: string): Promise<unknown> {
  const script = [
    'import sys, json',
    'from octavia.amphorae.backends.health_daemon import status_message',
    'obj = status_message.unwrap_envelope(bytes.fromhex(sys.argv[1]), sys.argv[2])',
    'print(json.dumps(obj))',
  ].join('\n');
  const { stdout } = await run('/usr/bin/python3', ['-c', script, envelope.toString('hex'), key]);
  return JSON.parse(stdout);
}

/** Octavia's status_message.wrap_envelope of `obj` (hex digest unless `hex` is false). */
export async function octaviaWrap(obj: unknown, key: string, hex = true): Promise<Buffer> {
  const script = [
    'import sys, json',
    'from octavia.amphorae.backends.health_daemon import status_message',
    'env = status_message.wrap_envelope(json.loads(sys.argv[1]), sys.argv[2], hex=sys.argv[3] == "1")',
    'print(env.hex())',
  ].join('\n');
  const { stdout } = await run('/usr/bin/python3', ['-c', script, JSON.stringify(obj), key, hex ? '1' : '0']);
  return Buffer.from(stdout.trim(), 'hex');
}
