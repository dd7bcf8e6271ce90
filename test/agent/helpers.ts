// Shared fixtures of the agent tests: a throwaway PKI made the way Octavia makes it, an agent
// config in a temp directory, an mTLS client, Octavia-shaped haproxy.cfg texts, members.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { type AgentConfig, parseAgentConfig } from '../../agent/config.ts';
import { silentLogger } from '../../agent/lb/log.ts';
import { type AgentHandle, type StartOptions, startAgent } from '../../agent/main.ts';
import { type CertificateAuthority, type IssuedCertificate, issueAmphoraCert, issueCert, makeCa } from '../../agent/pki.ts';

export const AMP_ID = '5e1c2a40-9f3c-4e55-9a5d-111111111111';
export const LB_ID = 'a1b2c3d4-0000-4000-8000-000000001b01';
export const LISTENER_ID = '00000000-0000-4000-8000-000000000001';
export const POOL_ID = '00000000-0000-4000-8000-000000000201';
export const memberId = (n: number) => `00000000-0000-4000-8000-0000000003${String(n).padStart(2, '0')}`;

export interface Pki {
  /** Signs the amphora's server certificate; the controller verifies the agent with it. */
  serverCa: CertificateAuthority;
  /** Signs the controller's client certificate; the agent verifies the controller with it. */
  clientCa: CertificateAuthority;
  server: IssuedCertificate;
  client: IssuedCertificate;
  /** A client certificate from a CA the agent does not trust. */
  stranger: IssuedCertificate;
}

export function makePki(ampId = AMP_ID): Pki {
  const serverCa = makeCa('Octavia server CA (test)');
  const clientCa = makeCa('Octavia client CA (test)');
  const otherCa = makeCa('Somebody else');
  return {
    serverCa,
    clientCa,
    server: issueAmphoraCert(serverCa, ampId),
    client: issueCert(clientCa, { cn: 'controller', serverAuth: false, clientAuth: true }),
    stranger: issueCert(otherCa, { cn: 'controller', serverAuth: false, clientAuth: true }),
  };
}

export interface AgentDir {
  dir: string;
  base: string;
  certs: string;
  configFile: string;
  cleanup(): void;
}

/** A temp directory with server.pem, client_ca.pem and an amphora-agent.conf pointing there. */
export function makeAgentDir(pki: Pki, amphoraTs: Record<string, string> = {}, extra = ''): AgentDir {
  const dir = mkdtempSync(join(tmpdir(), 'amphora-agent-test-'));
  const base = join(dir, 'octavia');
  const certs = join(base, 'certs');
  writeFileSync(join(dir, 'server.pem'), pki.server.pem, { mode: 0o600 });
  writeFileSync(join(dir, 'client_ca.pem'), pki.clientCa.certPem);
  const ts = { engine: 'haproxy', service_manager: 'process', netns: '', ...amphoraTs };
  const configFile = join(dir, 'amphora-agent.conf');
  writeFileSync(
    configFile,
    `[DEFAULT]
debug = False

[haproxy_amphora]
base_cert_dir = ${certs}
base_path = ${base}
bind_host = 127.0.0.1
bind_port = 0
haproxy_cmd = /usr/sbin/haproxy

[health_manager]
controller_ip_port_list = 127.0.0.1:5555
heartbeat_interval = 10
heartbeat_key = insecure

[amphora_agent]
agent_server_ca = ${join(dir, 'client_ca.pem')}
agent_server_cert = ${join(dir, 'server.pem')}
agent_request_read_timeout = 180
amphora_id = ${AMP_ID}
amphora_udp_driver = keepalived_lvs
agent_tls_protocol = TLSv1.2

[controller_worker]
loadbalancer_topology = SINGLE

[amphora_ts]
${Object.entries(ts)
  .map(([k, v]) => `${k} = ${v}`)
  .join('\n')}
${extra}`,
    { mode: 0o600 },
  );
  const cleanup = () => {
    stopStrays(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, base, certs, configFile, cleanup };
}

export function loadConfig(d: AgentDir): AgentConfig {
  return parseAgentConfig([{ path: d.configFile, text: readFileSync(d.configFile, 'utf8') }]);
}

export const stubSystem = {
  info: async () => ({ hostname: 'amphora-test', haproxy_version: '2.6.12', api_version: '1.0', keepalived_version: '', ipvsadm_version: '' }),
  details: async () => ({ hostname: 'amphora-test', active: true, listeners: [] }),
};

export async function startTestAgent(d: AgentDir, options: StartOptions = {}): Promise<AgentHandle> {
  return startAgent(loadConfig(d), { log: silentLogger, heartbeat: false, system: stubSystem, ...options });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): any;
}

export interface ClientOptions {
  /** Client certificate (default: the controller's); null = none. */
  cert?: IssuedCertificate | null;
  maxVersion?: tls.SecureVersion;
  minVersion?: tls.SecureVersion;
  /** Hostname the server certificate must match (default the amphora id, as the controller). */
  servername?: string;
}

/** One request over a fresh mTLS connection, as the controller's requests session would. */
export function request(
  port: number,
  pki: Pki,
  method: string,
  path: string,
  body?: string | Buffer,
  opts: ClientOptions = {},
): Promise<Reply> {
  const cert = opts.cert === undefined ? pki.client : opts.cert;
  const servername = opts.servername ?? AMP_ID;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        ca: pki.serverCa.certPem,
        cert: cert?.certPem,
        key: cert?.keyPem,
        servername,
        checkServerIdentity: (_host, peer) => tls.checkServerIdentity(servername, peer),
        maxVersion: opts.maxVersion,
        minVersion: opts.minVersion,
        headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: b,
            text: b.toString('utf8'),
            json: () => JSON.parse(b.toString('utf8')),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Member {
  name: string;
  port: number;
  server: http.Server;
  hits: number;
  close(): Promise<void>;
}

/** An HTTP member answering `<name>`. `hold` delays answers to requests whose path is /slow. */
export async function startMember(name: string): Promise<Member> {
  const m = { name, port: 0, hits: 0 } as Member;
  const server = http.createServer((req, res) => {
    m.hits++;
    const answer = () => {
      res.setHeader('content-type', 'text/plain');
      res.end(name);
    };
    if (req.url === '/slow') setTimeout(answer, 1500);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  m.port = (server.address() as net.AddressInfo).port;
  m.server = server;
  m.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return m;
}

export interface RenderOptions {
  lbId?: string;
  base: string;
  vipPort: number;
  members: { id: string; port: number }[];
  mode?: 'http' | 'tcp';
}

/** An haproxy.cfg shaped like Octavia's combined_listeners output (one listener, one pool). */
export function renderLbConfig(o: RenderOptions): string {
  const lbId = o.lbId ?? LB_ID;
  const mode = o.mode ?? 'http';
  const servers = o.members.map((m) => `    server ${m.id} 127.0.0.1:${m.port} weight 1`).join('\n');
  return `# Configuration for loadbalancer ${lbId}
global
    daemon
    user nobody
    log /run/rsyslog/octavia/log local0
    log /run/rsyslog/octavia/log local1 notice
    stats socket ${o.base}/${lbId}.sock mode 0666 level user
    server-state-file ${o.base}/${lbId}/servers-state
    maxconn 4000

defaults
    log global
    retries 3
    option redispatch
    option splice-request
    option splice-response
    option http-keep-alive

frontend ${LISTENER_ID}
    maxconn 4000
    bind 127.0.0.1:${o.vipPort}
    mode ${mode}
    default_backend ${POOL_ID}:${LISTENER_ID}
    timeout client 50000

backend ${POOL_ID}:${LISTENER_ID}
    mode ${mode}
${mode === 'http' ? '    http-reuse safe\n' : ''}    balance roundrobin
    fullconn 4000
    option allbackups
    timeout connect 5000
    timeout server 50000
${servers}
`;
}

/** GET http://127.0.0.1:port/path through the VIP; resolves with the body. */
export function httpGet(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

/** Poll `fn` until it returns a truthy value (bounded; no timing assertion). */
export async function eventually<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/**
 * A test leaves nothing running: an engine (or agent) whose command line still points into
 * the test directory when the directory goes is killed, with its process group, and named
 * on stderr. Tests stop what they start; this keeps a missed one (a race between a
 * supervisor restart and the test's end, seen once in a full run) from outliving the run.
 */
function stopStrays(dir: string): void {
  const strays = processesWithArgUnder(dir);
  if (strays.length === 0) return;
  process.stderr.write(`test cleanup: processes left running under ${dir}: ${strays.map(describeProcess).join('; ')}; killing them\n`);
  for (const pid of strays) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // not a group leader, or gone
      }
    }
  }
}

function describeProcess(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
  } catch {
    return String(pid);
  }
}

/** Live processes with a command-line argument inside `dir`. */
function processesWithArgUnder(dir: string): number[] {
  const prefix = `${dir}/`;
  return livePids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.startsWith(prefix));
    } catch {
      return false;
    }
  });
}

/** Pids in /proc, zombies left out. */
function livePids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (!stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Processes whose command line mentions `needle` (to count engines). */
export function processesMentioning(needle: string): number[] {
  return livePids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(needle);
    } catch {
      return false;
    }
  });
}
