// The interop scenario, shared by the per-engine test files: test/interop/driver.py runs
// Octavia's own HaproxyAmphoraLoadBalancerDriver / AmphoraAPIClient1_0 / JinjaTemplater /
// health manager (Debian python3-octavia, /usr/bin/python3) against this agent, started here
// in-process with a generated config. The driver prints one JSON event per line; the checks it
// passed are printed in the test log.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { loadAgentConfig } from '../../agent/config.ts';
import { startAgent } from '../../agent/main.ts';
import { hasIpv6Loopback } from './octavia.ts';

const DRIVER = fileURLToPath(new URL('./driver.py', import.meta.url));

interface DriverEvent {
  event: 'ready' | 'check' | 'done' | 'fail';
  [k: string]: unknown;
}

/** The driver process and its stdout events, in order. */
class Driver {
  readonly events: DriverEvent[] = [];
  readonly stderr: string[] = [];
  readonly child: ChildProcess;
  private waiters: (() => void)[] = [];

  constructor(options: Record<string, unknown>) {
    this.child = spawn('/usr/bin/python3', [DRIVER, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as DriverEvent);
      } catch {
        this.stderr.push(line);
      }
      this.wake();
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
    this.child.on('exit', () => this.wake());
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first event named one of `names`; throws when the driver exits without it. */
  async next(names: DriverEvent['event'][], timeoutMs: number): Promise<DriverEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => names.includes(e.event));
      if (found) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`driver exited (${this.child.exitCode ?? this.child.signalCode}) without ${names.join('/')}:\n${this.stderr.slice(-40).join('\n')}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`driver: no ${names.join('/')} within ${timeoutMs} ms:\n${this.stderr.slice(-40).join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  send(obj: unknown): void {
    this.child.stdin!.write(`${JSON.stringify(obj)}\n`);
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Engines the agent started for a LB the scenario did not delete (a failed run). */
function killLeftoverEngines(base: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  for (const lb of entries) {
    try {
      const pid = Number(readFileSync(join(base, lb, `${lb}.pid`), 'utf8').split('\n')[0]);
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGTERM');
    } catch {
      // no pid file, or already gone
    }
  }
}

/** Names of the checks every engine must pass (the driver stops at the first failure). */
export const KEY_CHECKS = [
  'GET / answers api_version 1.0',
  'the agent stores the rendered config byte for byte',
  'round robin reaches both live members',
  'heartbeat lists exactly the enabled listeners',
  'the health manager refreshes liveness (listener count matches)',
  'the health manager derives the operating statuses',
  'stats are deltas that add up to the traffic',
  'after delete the heartbeat reports nothing',
];

/** Run the whole scenario with `engine`; resolves with the names of the passed checks, throws
 *  with the driver's traceback on the first failed one. `cleanups` receives what the caller
 *  must run afterwards (in reverse order), also when this throws. */
export async function runInterop(engine: 'proxy-core' | 'haproxy', cleanups: (() => unknown)[]): Promise<string[]> {
  const workdir = mkdtempSync(join(tmpdir(), `amphora-ts-interop-${engine}-`));
  cleanups.push(() => rmSync(workdir, { recursive: true, force: true }));
  const base = join(workdir, 'octavia');
  const certs = join(workdir, 'octavia', 'certs');
  const key = `interop-${Math.random().toString(16).slice(2)}`;

  const driver = new Driver({ workdir, base_path: base, base_cert_dir: certs, heartbeat_key: key, engine });
  cleanups.push(() => driver.stop());
  const ready = await driver.next(['ready'], 60_000);

  const ipv6 = await hasIpv6Loopback();
  const bindHost = ipv6 ? '::' : '127.0.0.1';
  const port = await freePort(bindHost);
  const confPath = join(workdir, 'amphora-agent.conf');
  // What the controller's AgentJinjaTemplater renders, plus our [amphora_ts] section.
  writeFileSync(
    confPath,
    [
      '[DEFAULT]',
      'debug = False',
      '',
      '[haproxy_amphora]',
      `base_cert_dir = ${certs}`,
      `base_path = ${base}`,
      `bind_host = ${bindHost}`,
      `bind_port = ${port}`,
      '',
      '[health_manager]',
      `controller_ip_port_list = 127.0.0.1:${ready.heartbeat_port}`,
      'heartbeat_interval = 1',
      `heartbeat_key = ${key}`,
      '',
      '[amphora_agent]',
      `agent_server_ca = ${ready.client_ca}`,
      `agent_server_cert = ${ready.server_pem}`,
      'agent_request_read_timeout = 180',
      `amphora_id = ${ready.amp_id}`,
      'agent_tls_protocol = TLSv1.2',
      '',
      '[controller_worker]',
      'loadbalancer_topology = SINGLE',
      '',
      '[amphora_ts]',
      `engine = ${engine}`,
      'service_manager = process',
      'netns =',
      '',
    ].join('\n'),
  );
  const agent = await startAgent(loadAgentConfig([confPath]));
  cleanups.push(() => killLeftoverEngines(base));
  cleanups.push(() => agent.close());

  driver.send({ agent_port: port, bind_host: bindHost, ipv6 });
  const end = await driver.next(['done', 'fail'], 200_000);
  const checks = driver.events.filter((e) => e.event === 'check').map((e) => e.name);
  console.log(`engine ${engine}: ${checks.length} checks passed\n  ${checks.join('\n  ')}`);
  if (end.event === 'fail') {
    throw new Error(`${end.error}\n${end.traceback}\n--- driver stderr ---\n${driver.stderr.slice(-60).join('\n')}`);
  }
  return checks as string[];
}

/** The interop scenario as one vitest case for `engine`, cleaning up after itself. Each engine
 *  has its own test file so that each stays within a file's time budget. */
export function describeInterop(engine: 'proxy-core' | 'haproxy'): void {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // keep cleaning up
      }
    }
  });

  describe(`an unmodified Octavia controller drives the agent (engine ${engine})`, () => {
    it('uploads, reloads, routes traffic and is heard by the health manager', async () => {
      const checks = await runInterop(engine, cleanups);
      expect(checks).toEqual(expect.arrayContaining(KEY_CHECKS));
    }, 300_000);
  });
}
