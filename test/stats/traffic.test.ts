// `show stat` on the stats socket of a running proxy-core, read by a CSV reader, against
// traffic the test sent and counted itself: requests answered by members (200, 404), by
// proxy-core (503 without a server, 400 for malformed and cut-short requests), TCP sessions
// echoed and refused. With one thread and with two: the counters of every worker thread
// add up in the socket's answer. The expected figures are what HAProxy 2.6 shows for the
// same traffic (bytes aside: HAProxy counts HTTP bytes in its internal representation;
// proxy-core counts the bytes on the wire, which the test can sum).

import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { refused, tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { freePort, startProxy, statsCommand, stopAllProxies, until } from '../helpers/proxy.ts';
import { parseCsv } from './csv.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await stopAllProxies();
  for (const close of closers.splice(0)) await close();
});

/** HTTP member: 404 for /missing, 200 otherwise, the body naming the member. */
async function httpMember(name: string): Promise<number> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = `${name} ${req.url}\n`;
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r()));
  });
  return (server.address() as net.AddressInfo).port;
}

/** The bytes this side sent and received over every connection it made. */
interface Tally {
  sent: number;
  received: number;
}

/**
 * One connection: send `bytes`, then half-close (`end`) or wait for the proxy to close;
 * what came back (ASCII here: one character per byte), counted in `tally`.
 */
async function exchange(port: number, bytes: string, tally: Tally, how: 'wait' | 'end' = 'wait'): Promise<string> {
  const got = await tcpExchange(port, bytes, { end: how === 'end' });
  tally.sent += Buffer.byteLength(bytes, 'latin1');
  tally.received += Buffer.byteLength(got, 'latin1');
  return got;
}

type Stats = Map<string, Record<string, string>>;

/** `show stat` over the socket, parsed; rows by `pxname/svname`. */
async function showStat(sock: string): Promise<Stats> {
  const rows = parseCsv(await statsCommand(sock, 'show stat'));
  const header = rows[0]!;
  expect(header[0]).toBe('# pxname');
  header[0] = 'pxname';
  const out: Stats = new Map();
  for (const row of rows.slice(1)) {
    if (row.length === 1 && row[0] === '') continue; // the empty line that ends the answer
    expect(row).toHaveLength(header.length);
    out.set(`${row[0]}/${row[1]}`, Object.fromEntries(header.map((h, i) => [h, row[i]!])));
  }
  return out;
}

/** The named cells of a row, as numbers. */
function cells(stats: Stats, row: string, names: string[]): Record<string, number> {
  const r = stats.get(row);
  expect(r, `row ${row}`).toBeDefined();
  return Object.fromEntries(names.map((n) => [n, Number(r![n])]));
}

const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: lb.example.com\r\nConnection: close\r\n\r\n`;

describe.each([1, 2])('show stat against the traffic sent, nbthread %i', (nbthread) => {
  it('counts sessions, requests, statuses, errors and bytes as HAProxy does', async () => {
    const [a, b] = [await httpMember('a'), await httpMember('b')];
    const echo: Member = await startTcpMember('e');
    closers.push(() => echo.close());
    const [web, tcp, tcpNone] = [await freePort(), await freePort(), await freePort()];
    let sock = '';
    await startProxy((dir) => {
      sock = join(dir, 'lb.sock');
      return `global
    nbthread ${nbthread}
    stats socket ${sock} mode 0666 level user

defaults
    timeout client 20s
    timeout server 20s
    timeout connect 2s

frontend web
    bind 127.0.0.1:${web}
    mode http
    acl to_none path_beg /none
    use_backend none if to_none
    default_backend pool

frontend tcp
    bind 127.0.0.1:${tcp}
    mode tcp
    default_backend echo

frontend tcp-none
    bind 127.0.0.1:${tcpNone}
    mode tcp
    default_backend tcp-none

backend pool
    mode http
    balance roundrobin
    server a 127.0.0.1:${a}
    server b 127.0.0.1:${b}

backend none
    mode http

backend echo
    mode tcp
    server e 127.0.0.1:${echo.port}

backend tcp-none
    mode tcp
`;
    });

    // HTTP: one request per connection, each answered and closed.
    const h: Tally = { sent: 0, received: 0 };
    const status = (answer: string) => Number(answer.slice(9, 12));
    for (let i = 0; i < 12; i++) expect(status(await exchange(web, request(`/ok/${i}`), h))).toBe(200);
    for (let i = 0; i < 4; i++) expect(status(await exchange(web, request('/missing'), h))).toBe(404);
    for (let i = 0; i < 3; i++) expect(status(await exchange(web, request('/none'), h))).toBe(503);
    for (let i = 0; i < 2; i++) expect(status(await exchange(web, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', h))).toBe(400);
    // Cut short: a half-close before any byte, and part of a head, are answered 400; a reset
    // before any byte has no one to answer. All three are request errors.
    expect(status(await exchange(web, '', h, 'end'))).toBe(400);
    expect(status(await exchange(web, 'GET /ok HTTP/1.1\r\nHo', h, 'end'))).toBe(400);
    expect(await refused(web)).toBe(false); // connects, then resets

    // TCP: echoed sessions, and sessions to a backend without a server (closed at once).
    const t: Tally = { sent: 0, received: 0 };
    for (let i = 0; i < 3; i++) expect(await exchange(tcp, `hello ${i}\n`, t, 'end')).toBe(`e:hello ${i}\n`);
    const none: Tally = { sent: 0, received: 0 };
    for (let i = 0; i < 2; i++) expect(await exchange(tcpNone, '', none, 'end')).toBe('');

    // Every session has ended (the last counters are taken as a connection closes).
    let stats: Stats = new Map();
    await until(
      async () => {
        stats = await showStat(sock);
        const fe = cells(stats, 'web/FRONTEND', ['scur', 'stot', 'bout']);
        return fe.scur === 0 && fe.stot === 24 && fe.bout === h.received;
      },
      10_000,
      'the frontend to count every connection as ended',
    );

    expect(cells(stats, 'web/FRONTEND', ['stot', 'req_tot', 'ereq', 'hrsp_2xx', 'hrsp_4xx', 'hrsp_5xx', 'bin', 'bout'])).toEqual({
      stot: 24,
      req_tot: 24,
      ereq: 2 + 3,
      hrsp_2xx: 12,
      hrsp_4xx: 4 + 2 + 3,
      hrsp_5xx: 3,
      bin: h.sent,
      bout: h.received,
    });
    expect(cells(stats, 'pool/BACKEND', ['scur', 'stot', 'req_tot', 'econ', 'eresp', 'hrsp_2xx', 'hrsp_4xx', 'hrsp_5xx'])).toEqual({
      scur: 0,
      stot: 16,
      req_tot: 16,
      econ: 0,
      eresp: 0,
      hrsp_2xx: 12,
      hrsp_4xx: 4,
      hrsp_5xx: 0,
    });
    const servers = ['pool/a', 'pool/b'].map((r) => cells(stats, r, ['stot', 'req_tot', 'hrsp_2xx', 'hrsp_4xx', 'bin', 'bout']));
    const sum = (k: string) => servers.reduce((n, s) => n + s[k]!, 0);
    expect({ stot: sum('stot'), req_tot: sum('req_tot'), hrsp_2xx: sum('hrsp_2xx'), hrsp_4xx: sum('hrsp_4xx') }).toEqual({
      stot: 16,
      req_tot: 16,
      hrsp_2xx: 12,
      hrsp_4xx: 4,
    });
    // Bytes the members got and sent, summed over the members, are the backend's.
    expect(sum('bin')).toBe(Number(stats.get('pool/BACKEND')!.bin));
    expect(sum('bout')).toBe(Number(stats.get('pool/BACKEND')!.bout));
    expect(sum('bin')).toBeGreaterThan(0);
    if (nbthread === 1) {
      // One thread: round robin alternates, /ok then /missing.
      expect(servers.map((s) => [s.stot, s.hrsp_2xx, s.hrsp_4xx])).toEqual([
        [8, 6, 2],
        [8, 6, 2],
      ]);
    }
    // No server: the requests entered the backend and failed to connect there.
    expect(cells(stats, 'none/BACKEND', ['stot', 'req_tot', 'econ', 'hrsp_5xx'])).toEqual({ stot: 3, req_tot: 3, econ: 3, hrsp_5xx: 3 });

    expect(cells(stats, 'tcp/FRONTEND', ['scur', 'stot', 'bin', 'bout'])).toEqual({ scur: 0, stot: 3, bin: t.sent, bout: t.received });
    expect(cells(stats, 'echo/BACKEND', ['stot', 'bin', 'bout', 'econ'])).toEqual({ stot: 3, bin: t.sent, bout: t.received, econ: 0 });
    expect(cells(stats, 'echo/e', ['stot', 'bin', 'bout'])).toEqual({ stot: 3, bin: t.sent, bout: t.received });
    expect(cells(stats, 'tcp-none/FRONTEND', ['stot', 'bin', 'bout'])).toEqual({ stot: 2, bin: 0, bout: 0 });
    expect(cells(stats, 'tcp-none/BACKEND', ['stot', 'econ'])).toEqual({ stot: 2, econ: 2 });
    // mode tcp has no HTTP cells: empty, not 0.
    expect(stats.get('tcp/FRONTEND')!.hrsp_2xx).toBe('');
  });
});
