// Loopback members for health-check tests: TCP, HTTP (raw, to see the exact request bytes)
// and TLS servers on ports from listen(0), each with a way to stop and to look at what it got.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

export interface Member {
  port: number;
  /** Raw bytes received on each connection, in order. */
  requests: Buffer[];
  connections: number;
  close(): Promise<void>;
}

function track(server: net.Server, m: Member, onData?: (socket: net.Socket, data: Buffer, index: number) => void): void {
  const sockets = new Set<net.Socket>();
  server.on(server instanceof tls.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    sockets.add(socket);
    const index = m.connections++;
    m.requests[index] = Buffer.alloc(0);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      m.requests[index] = Buffer.concat([m.requests[index]!, d]);
      onData?.(socket, m.requests[index]!, index);
    });
  });
  m.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

function listen(server: net.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** Accepts connections (and keeps them open until the peer closes). */
export async function tcpMember(port = 0): Promise<Member> {
  const server = net.createServer();
  const m: Member = { port: 0, requests: [], connections: 0, close: async () => {} };
  track(server, m);
  m.port = await listen(server, port);
  return m;
}

/**
 * Answers each complete request head with `respond()`'s bytes (a full HTTP response), then
 * closes. `respond` may change between requests.
 */
export async function httpMember(respond: () => string, port = 0, secure?: { key: Buffer; cert: Buffer }): Promise<Member> {
  const server = secure ? tls.createServer({ key: secure.key, cert: secure.cert }) : net.createServer();
  const m: Member = { port: 0, requests: [], connections: 0, close: async () => {} };
  track(server, m, (socket, data) => {
    if (data.includes('\r\n\r\n')) socket.end(respond());
  });
  m.port = await listen(server, port);
  return m;
}

/** Answers the first bytes it receives with `reply`, then closes. */
export async function replyMember(reply: string): Promise<Member> {
  const server = net.createServer();
  const m: Member = { port: 0, requests: [], connections: 0, close: async () => {} };
  track(server, m, (socket) => socket.end(reply));
  m.port = await listen(server);
  return m;
}

/** Accepts and never answers. */
export async function silentMember(): Promise<Member> {
  return tcpMember();
}

/** A port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A throwaway self-signed certificate made with the openssl CLI. */
export function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'health-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=member'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Poll `cond` every 5 ms until it holds or `ms` passed; returns whether it held. */
export async function waitFor(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return cond();
}
