// `npm start`: proxy-core serving a demo load balancer on this machine, nothing else needed.
//
// Starts three local HTTP members and a TCP echo member, writes a haproxy.cfg shaped like the
// one Octavia's combined_listeners template renders (an HTTP listener with round robin and a
// backup member, a TCP listener with least connections), runs `proxy-core -f` on it and
// prints where to send traffic. Ctrl-C stops everything.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const HTTP_PORT = Number(process.env.DEMO_HTTP_PORT ?? 8080);
const TCP_PORT = Number(process.env.DEMO_TCP_PORT ?? 8081);
const LB_ID = 'd3e0b1a2-0000-4000-8000-00000000de00';
const HTTP_LISTENER = 'd3e0b1a2-0000-4000-8000-000000000001';
const TCP_LISTENER = 'd3e0b1a2-0000-4000-8000-000000000002';
const HTTP_POOL = 'd3e0b1a2-0000-4000-8000-000000000101';
const TCP_POOL = 'd3e0b1a2-0000-4000-8000-000000000102';
const member = (n: number) => `d3e0b1a2-0000-4000-8000-00000000020${n}`;

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function httpMember(name: string): http.Server {
  return http.createServer((req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${name} answered ${req.method} ${req.url} (${size} body bytes, from ${req.headers['x-forwarded-for'] ?? req.socket.remoteAddress})\n`);
    });
  });
}

function renderConfig(dir: string, httpPorts: number[], echoPort: number): string {
  const servers = httpPorts
    .map((port, i) => {
      const backup = i === httpPorts.length - 1 ? ' backup' : '';
      return `    server ${member(i + 1)} ${HOST}:${port} weight ${i + 1} check inter 2s fall 3 rise 2${backup}`;
    })
    .join('\n');
  return `# Configuration for loadbalancer ${LB_ID} (amphora-ts demo)
global
    log /run/rsyslog/octavia/log local0
    log /run/rsyslog/octavia/log local1 notice
    stats socket ${join(dir, `${LB_ID}.sock`)} mode 0666 level user
    maxconn 100000

defaults
    log global
    retries 3
    option redispatch
    option splice-request
    option splice-response
    option http-keep-alive

frontend ${HTTP_LISTENER}
    maxconn 50000
    bind ${HOST}:${HTTP_PORT}
    mode http
    default_backend ${HTTP_POOL}:${HTTP_LISTENER}
    timeout client 50000

backend ${HTTP_POOL}:${HTTP_LISTENER}
    mode http
    http-reuse safe
    balance roundrobin
    timeout check 2s
    option httpchk GET /
    http-check expect rstatus 200
    option forwardfor
    http-request set-header X-Forwarded-Port %[dst_port]
    http-request set-header X-Forwarded-Proto http
    fullconn 50000
    option allbackups
    timeout connect 5000
    timeout server 50000
${servers}

frontend ${TCP_LISTENER}
    maxconn 50000
    bind ${HOST}:${TCP_PORT}
    mode tcp
    default_backend ${TCP_POOL}:${TCP_LISTENER}
    timeout client 50000

backend ${TCP_POOL}:${TCP_LISTENER}
    mode tcp
    balance leastconn
    fullconn 50000
    option allbackups
    timeout connect 5000
    timeout server 50000
    server ${member(9)} ${HOST}:${echoPort} weight 1
`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'amphora-ts-demo-'));
  const members = [httpMember('member-1'), httpMember('member-2'), httpMember('member-3 (backup)')];
  const httpPorts = await Promise.all(members.map(listen));
  const echo = net.createServer((sock) => sock.pipe(sock));
  const echoPort = await listen(echo);

  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, renderConfig(dir, httpPorts, echoPort));
  const cli = fileURLToPath(new URL('../bin/proxy-core.js', import.meta.url));
  const child = spawn(process.execPath, [cli, '-f', cfg], { stdio: 'inherit' });

  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    child.kill('SIGTERM');
    for (const m of members) m.close();
    echo.close();
    rmSync(dir, { recursive: true, force: true });
    process.exitCode = code;
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  child.on('exit', (code) => {
    if (!stopping) {
      console.error(`proxy-core exited with code ${code}`);
      stop(code ?? 1);
    }
  });

  console.log(`
amphora-ts demo load balancer ${LB_ID}
  config:        ${cfg}
  HTTP listener: curl http://${HOST}:${HTTP_PORT}/   (round robin, weights 1:2, backup member)
  TCP listener:  echo hello | nc -q1 ${HOST} ${TCP_PORT}   (echo member, least connections)
  stats socket:  echo 'show stat' | nc -U ${join(dir, `${LB_ID}.sock`)}
  reload:        kill -USR2 ${child.pid}
Ctrl-C stops it.
`);
}

await main();
