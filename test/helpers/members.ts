// Loopback members for proxy-core tests: a line-echo TCP member (mode tcp) and an HTTP member
// (mode http). Each says who it is in every answer, so a test can see which member served.

import http from 'node:http';
import net from 'node:net';

export interface Member {
  name: string;
  port: number;
  /** Connections (tcp) or requests (http) received so far. */
  hits: number;
  close(): Promise<void>;
}

export interface TcpMemberOptions {
  host?: string;
  /** Wait this long before answering each line. */
  delayMs?: number;
}

/**
 * TCP member: answers every received line `x` with `<name>:x\n`; ends its side when the
 * client ends. Closes every connection on close().
 */
export async function startTcpMember(name: string, opts: TcpMemberOptions = {}): Promise<Member> {
  const sockets = new Set<net.Socket>();
  const member: Member = { name, port: 0, hits: 0, close: () => Promise.resolve() };
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    member.hits++;
    sockets.add(sock);
    let buf = '';
    let pending = 0;
    let ended = false;
    const maybeEnd = () => {
      if (ended && pending === 0 && !sock.destroyed) sock.end();
    };
    sock.on('error', () => {});
    sock.on('close', () => sockets.delete(sock));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const answer = `${name}:${line}\n`;
        if (opts.delayMs) {
          pending++;
          setTimeout(() => {
            pending--;
            if (!sock.destroyed) sock.write(answer);
            maybeEnd();
          }, opts.delayMs);
        } else {
          sock.write(answer);
        }
      }
    });
    sock.on('end', () => {
      ended = true;
      maybeEnd();
    });
  });
  member.port = await listen(server, opts.host ?? '127.0.0.1');
  member.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  };
  return member;
}

export interface HttpMemberOptions {
  host?: string;
  /** Wait this long before answering. */
  delayMs?: number;
}

/** HTTP member: 200 with body `<name> <method> <url>\n` (keep-alive as the client asks). */
export async function startHttpMember(name: string, opts: HttpMemberOptions = {}): Promise<Member> {
  const member: Member = { name, port: 0, hits: 0, close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    member.hits++;
    req.resume();
    req.on('end', () => {
      const answer = () => {
        const body = `${name} ${req.method} ${req.url}\n`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-member': name });
        res.end(body);
      };
      if (opts.delayMs) setTimeout(answer, opts.delayMs);
      else answer();
    });
  });
  member.port = await listen(server, opts.host ?? '127.0.0.1');
  member.close = () => {
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r()));
  };
  return member;
}

function listen(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}
