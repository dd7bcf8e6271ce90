// `npm start`: the whole amphora on this machine, nothing else installed.
//
// Plays both sides of Octavia around a real agent:
// - makes a PKI shaped like the controller's (a server CA and the amphora's server.pem with
//   CN = SAN = the amphora id; a client CA and the controller's client certificate) in
//   ./.state/pki, once, and an agent config in ./.state (engine proxy-core, process service
//   manager, no network namespace, API on 127.0.0.1);
// - starts the agent in this process, and local pool members (HTTP and TCP echo);
// - as the controller: uploads an Octavia-shaped haproxy.cfg through the agent's own API over
//   mutual TLS and reloads it (what ListenersUpdate does);
// - as the health manager: receives the heartbeats on a local UDP port, verifies and decodes
//   them, prints one line each.
// Then prints where to send traffic and a curl line for the API. Ctrl-C stops the LB's
// proxy-core, the agent and the members.
//
// Environment: AMPHORA_TS_STATE_DIR (default ./.state), AMPHORA_TS_API_PORT (9443),
// DEMO_HTTP_PORT (8080), DEMO_TCP_PORT (8081), DEMO_HEARTBEAT_INTERVAL (5 s),
// DEMO_ENGINE (proxy-core | haproxy).

import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join, relative, resolve } from 'node:path';

import { loadAgentConfig, REPO_ROOT } from './config.ts';
import { unwrapEnvelope } from './heartbeat/envelope.ts';
import type { HeartbeatMessage } from './heartbeat/message.ts';
import { type AgentHandle, startAgent } from './main.ts';
import { issueAmphoraCert, issueCert, makeCa } from './pki.ts';

const HOST = '127.0.0.1';
const STATE = resolve(process.env.AMPHORA_TS_STATE_DIR ?? join(REPO_ROOT, '.state'));
const API_PORT = Number(process.env.AMPHORA_TS_API_PORT ?? 9443);
const HTTP_PORT = Number(process.env.DEMO_HTTP_PORT ?? 8080);
const TCP_PORT = Number(process.env.DEMO_TCP_PORT ?? 8081);
const HEARTBEAT_INTERVAL = Number(process.env.DEMO_HEARTBEAT_INTERVAL ?? 5);
const ENGINE = process.env.DEMO_ENGINE === 'haproxy' ? 'haproxy' : 'proxy-core';

// Ids of the demo load balancer (stable across runs, so a restart replaces the same LB).
const LB_ID = 'd3e0b1a2-0000-4000-8000-00000000de00';
const PROJECT_ID = 'a5ee7e6fd1b04a4f8d1ee0c5fdde0001';
const HTTP_LISTENER = 'd3e0b1a2-0000-4000-8000-000000000001';
const TCP_LISTENER = 'd3e0b1a2-0000-4000-8000-000000000002';
const HTTP_POOL = 'd3e0b1a2-0000-4000-8000-000000000101';
const TCP_POOL = 'd3e0b1a2-0000-4000-8000-000000000102';
const member = (n: number) => `d3e0b1a2-0000-4000-8000-00000000020${n}`;

// ------------------------------------------------------------------------------------ PKI

interface DevPki {
  amphoraId: string;
  dir: string;
  serverPem: string; // agent: agent_server_cert (certificate + key)
  clientCa: string; // agent: agent_server_ca
  serverCa: string; // controller side: verifies the agent
  clientCert: string; // controller side: its client certificate…
  clientKey: string; // …and key
}

/** The PKI of ./.state/pki, made on first use and kept (so the curl line stays valid). */
function ensurePki(dir: string): DevPki {
  const pki: DevPki = {
    amphoraId: '',
    dir,
    serverPem: join(dir, 'server.pem'),
    clientCa: join(dir, 'client_ca.pem'),
    serverCa: join(dir, 'server_ca.pem'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
  const idFile = join(dir, 'amphora-id');
  if ([idFile, pki.serverPem, pki.clientCa, pki.serverCa, pki.clientCert, pki.clientKey].every((f) => existsSync(f))) {
    pki.amphoraId = readFileSync(idFile, 'utf8').trim();
    const cert = new X509Certificate(readFileSync(pki.serverPem));
    if (cert.subject === `CN=${pki.amphoraId}` && Date.parse(cert.validTo) > Date.now() + 86_400_000) return pki;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  pki.amphoraId = randomUUID();
  const serverCa = makeCa('amphora-ts dev server CA');
  const clientCa = makeCa('amphora-ts dev client CA');
  const server = issueAmphoraCert(serverCa, pki.amphoraId, 3650);
  const client = issueCert(clientCa, { cn: 'octavia-controller', serverAuth: false, clientAuth: true, days: 3650 });
  const files: [string, string][] = [
    [pki.serverPem, server.pem],
    [pki.clientCa, clientCa.certPem],
    [pki.serverCa, serverCa.certPem],
    [pki.clientCert, client.certPem],
    [pki.clientKey, client.keyPem],
    [idFile, `${pki.amphoraId}\n`],
  ];
  for (const [path, text] of files) writeFileSync(path, text, { mode: 0o600 });
  return pki;
}

// ------------------------------------------------------------------------------- members

function listen(server: net.Server, port = 0): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolvePort((server.address() as net.AddressInfo).port);
    });
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

// ---------------------------------------------------------------------- the demo config

/** A config shaped like Octavia's combined_listeners render for HAProxy 2.6 (the dialect
 *  proxy-core reports): an HTTP listener, round robin with an HTTP health monitor and a backup
 *  member; a TCP listener, least connections, no monitor. Connection limits of 4000 per
 *  listener (global maxconn = their sum, as Octavia computes it) keep within a desktop's
 *  open-file limit. */
function renderDemoConfig(basePath: string, httpPorts: number[], echoPort: number): string {
  const logFormat = (http: boolean) =>
    `${PROJECT_ID}\\ ${LB_ID}\\ %f\\ %ci\\ %cp\\ %t\\ ${http ? '%{+Q}r\\ %ST' : '-\\ -'}\\ %B\\ %U\\ %[ssl_c_verify]\\ %{+Q}[ssl_c_s_dn]\\ %b\\ %s\\ %Tt\\ %tsc`;
  const servers = httpPorts
    .map((port, i) => {
      const backup = i === httpPorts.length - 1 ? ' backup' : '';
      return `    server ${member(i + 1)} ${HOST}:${port} weight ${i + 1} check inter 2s fall 3 rise 2${backup}`;
    })
    .join('\n');
  return `# Configuration for loadbalancer ${LB_ID}
global
    daemon
    user nobody
    log /run/rsyslog/octavia/log local0
    log /run/rsyslog/octavia/log local1 notice
    stats socket ${join(basePath, `${LB_ID}.sock`)} mode 0666 level user
    server-state-file ${join(basePath, LB_ID, 'servers-state')}
    maxconn 8000

defaults
    log global
    retries 3
    option redispatch
    option splice-request
    option splice-response
    option http-keep-alive

frontend ${HTTP_LISTENER}
    maxconn 4000
    bind ${HOST}:${HTTP_PORT}
    mode http
    default_backend ${HTTP_POOL}:${HTTP_LISTENER}
    timeout client 50000
    log-format ${logFormat(true)}

backend ${HTTP_POOL}:${HTTP_LISTENER}
    mode http
    http-reuse safe
    balance roundrobin
    load-server-state-from-file global
    timeout check 2s
    option httpchk GET /
    http-check expect rstatus 200
    option forwardfor
    http-request set-header X-Forwarded-Port %[dst_port]
    http-request set-header X-Forwarded-Proto http
    fullconn 4000
    option allbackups
    timeout connect 5000
    timeout server 50000
${servers}

frontend ${TCP_LISTENER}
    maxconn 4000
    bind ${HOST}:${TCP_PORT}
    mode tcp
    default_backend ${TCP_POOL}:${TCP_LISTENER}
    timeout client 50000
    log-format ${logFormat(false)}

backend ${TCP_POOL}:${TCP_LISTENER}
    mode tcp
    balance leastconn
    fullconn 4000
    option allbackups
    timeout connect 5000
    timeout server 50000
    server ${member(9)} ${HOST}:${echoPort} weight 1
`;
}

// ------------------------------------------------------------- the controller's side

/** One API call over mutual TLS, checking the server certificate against the amphora id as
 *  the controller does. */
function api(pki: DevPki, port: number, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolveCall, reject) => {
    const req = https.request(
      {
        host: HOST,
        port,
        method,
        path,
        ca: readFileSync(pki.serverCa),
        cert: readFileSync(pki.clientCert),
        key: readFileSync(pki.clientKey),
        servername: pki.amphoraId,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolveCall({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function expectStatus(call: Promise<{ status: number; text: string }>, status: number, what: string): Promise<void> {
  const r = await call;
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.text}`);
}

// ------------------------------------------------------------ the health manager's side

const NAMES: Record<string, string> = {
  [HTTP_LISTENER]: 'http-listener',
  [TCP_LISTENER]: 'tcp-listener',
  [`${HTTP_POOL}:${HTTP_LISTENER}`]: 'http-pool',
  [`${TCP_POOL}:${TCP_LISTENER}`]: 'tcp-pool',
  [member(1)]: 'member-1',
  [member(2)]: 'member-2',
  [member(3)]: 'member-3',
  [member(9)]: 'echo',
};
const name = (id: string) => NAMES[id] ?? id.slice(0, 8);

/** `heartbeat #3 amp 1a2b3c4d: http-listener OPEN 0 conns (+2 new, +180 B in, +620 B out), … | http-pool UP: member-1 UP, … ` */
function summarize(msg: HeartbeatMessage): string {
  const listeners = Object.entries(msg.listeners).map(
    ([id, l]) => `${name(id)} ${l.status} ${l.stats.conns} conns (+${l.stats.totconns} new, +${l.stats.rx} B in, +${l.stats.tx} B out)`,
  );
  const pools = Object.entries(msg.pools).map(
    ([key, p]) => `${name(key)} ${p.status}: ${Object.entries(p.members).map(([m, s]) => `${name(m)} ${s}`).join(', ') || 'no members'}`,
  );
  return `heartbeat #${msg.seq} amp ${msg.id.slice(0, 8)}: ${listeners.join(', ') || 'no listeners'} | ${pools.join(' | ') || 'no pools'}`;
}

function listenHeartbeats(key: string): Promise<{ socket: dgram.Socket; port: number }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (datagram) => {
    try {
      console.log(summarize(unwrapEnvelope(datagram, key) as HeartbeatMessage));
    } catch (err) {
      console.log(`heartbeat dropped: ${(err as Error).message}`);
    }
  });
  return new Promise((resolveBind) => socket.bind(0, HOST, () => resolveBind({ socket, port: socket.address().port })));
}

// ---------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const basePath = join(STATE, 'octavia');
  const certPath = join(STATE, 'octavia', 'certs');
  mkdirSync(basePath, { recursive: true });
  const pki = ensurePki(join(STATE, 'pki'));
  const key = randomBytes(16).toString('hex');
  const heartbeats = await listenHeartbeats(key);

  const members = [httpMember('member-1'), httpMember('member-2'), httpMember('member-3 (backup)')];
  const httpPorts = await Promise.all(members.map((m) => listen(m)));
  const echo = net.createServer((sock) => sock.pipe(sock));
  const echoPort = await listen(echo);

  // The agent config, as the controller's AgentJinjaTemplater renders it + [amphora_ts].
  const confPath = join(STATE, 'amphora-agent.conf');
  writeFileSync(
    confPath,
    `# Written by agent/dev.ts (npm start) on every run.
[DEFAULT]
debug = False

[haproxy_amphora]
base_cert_dir = ${certPath}
base_path = ${basePath}
bind_host = ${HOST}
bind_port = ${API_PORT}

[health_manager]
controller_ip_port_list = ${HOST}:${heartbeats.port}
heartbeat_interval = ${HEARTBEAT_INTERVAL}
heartbeat_key = ${key}

[amphora_agent]
agent_server_ca = ${pki.clientCa}
agent_server_cert = ${pki.serverPem}
amphora_id = ${pki.amphoraId}
agent_tls_protocol = TLSv1.2

[controller_worker]
loadbalancer_topology = SINGLE

[amphora_ts]
engine = ${ENGINE}
service_manager = process
netns =
`,
    { mode: 0o600 },
  );

  let agent: AgentHandle | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping: load balancer, agent, members');
    if (agent) {
      // The agent leaves engines running when it stops (the data plane outlives it); the demo
      // does not: stop the LB through the API first.
      await api(pki, agent.address.port, 'PUT', `/1.0/loadbalancer/${LB_ID}/stop`).catch(() => undefined);
      await agent.close().catch(() => undefined);
    }
    for (const m of members) m.close();
    echo.close();
    heartbeats.socket.close();
    process.exitCode = code;
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  try {
    agent = await startAgent(loadAgentConfig([confPath]));
    const port = agent.address.port;
    // What the controller's ListenersUpdate does: upload the rendered config, then reload.
    const config = renderDemoConfig(basePath, httpPorts, echoPort);
    await expectStatus(api(pki, port, 'PUT', `/1.0/loadbalancer/${pki.amphoraId}/${LB_ID}/haproxy`, config), 202, 'config upload');
    await expectStatus(api(pki, port, 'PUT', `/1.0/loadbalancer/${LB_ID}/reload`), 202, 'reload');
  } catch (err) {
    const inUse = /EADDRINUSE|already in use|cannot bind/i.test((err as Error).message);
    const hint = inUse ? ' (set AMPHORA_TS_API_PORT, DEMO_HTTP_PORT, DEMO_TCP_PORT to free ports)' : '';
    console.error(`amphora-ts dev: ${(err as Error).message}${hint}`);
    await stop(1);
    return;
  }

  const rel = (p: string) => relative(process.cwd(), p) || '.';
  console.log(`
amphora-ts dev mode: agent ${pki.amphoraId} (engine ${ENGINE}) serving demo load balancer ${LB_ID}
  HTTP listener: curl http://${HOST}:${HTTP_PORT}/      (round robin, weights 1:2, a backup member, health checks)
  TCP listener:  echo hello | nc -q1 ${HOST} ${TCP_PORT}   (echo member, least connections)
  agent API:     curl --cacert ${rel(pki.serverCa)} --cert ${rel(pki.clientCert)} --key ${rel(pki.clientKey)} \\
                   --resolve ${pki.amphoraId}:${API_PORT}:${HOST} https://${pki.amphoraId}:${API_PORT}/1.0/details
  stats socket:  echo 'show stat' | nc -U ${rel(join(basePath, `${LB_ID}.sock`))}
  state:         ${rel(STATE)} (config, PKI, load balancer files)
Heartbeats to ${HOST}:${heartbeats.port} every ${HEARTBEAT_INTERVAL} s are printed below. Ctrl-C stops everything.
`);
}

await main();
