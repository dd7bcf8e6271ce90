// The `amphora-agent --config-file FILE` command (bin/amphora-agent.js) as Octavia's unit runs
// it: serves the API, sends heartbeats, shuts down on SIGTERM leaving the data plane running,
// refuses a bad configuration at start naming the problem.

import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../agent/config.ts';
import {
  AMP_ID,
  type AgentDir,
  eventually,
  freePort,
  httpGet,
  LB_ID,
  makeAgentDir,
  makePki,
  memberId,
  renderLbConfig,
  request,
  startMember,
  startTestAgent,
} from './helpers.ts';

const BIN = join(REPO_ROOT, 'bin', 'amphora-agent.js');
let child: ChildProcess | undefined;
let dir: AgentDir | undefined;

afterEach(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  child = undefined;
  const d = dir;
  dir = undefined;
  if (d) {
    // stop what a test left running (when its config is usable at all)
    const agent = await startTestAgent(d).catch(() => undefined);
    if (agent) {
      for (const lb of agent.store.list()) await agent.lifecycle.remove(lb);
      await agent.close();
    }
    d.cleanup();
  }
});

function run(args: string[]): { child: ChildProcess; output: () => string; listening: Promise<number> } {
  const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout!.on('data', (d) => (out += d));
  const listening = new Promise<number>((resolve, reject) => {
    c.stderr!.on('data', (d) => {
      out += d;
      const m = /listening on \S+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    c.once('exit', (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
  });
  listening.catch(() => {});
  return { child: c, output: () => out, listening };
}

describe('amphora-agent command', () => {
  it('serves the API, heartbeats to the configured controller, and on SIGTERM exits leaving the LB serving', async () => {
    const pki = makePki();
    const hm = dgram.createSocket('udp4');
    await new Promise<void>((r) => hm.bind(0, '127.0.0.1', () => r()));
    const hmPort = (hm.address() as AddressInfo).port;
    const datagrams: Buffer[] = [];
    hm.on('message', (m) => datagrams.push(m));
    dir = makeAgentDir(pki);
    writeFileSync(
      dir.configFile,
      readFileSync(dir.configFile, 'utf8')
        .replace('controller_ip_port_list = 127.0.0.1:5555', `controller_ip_port_list = 127.0.0.1:${hmPort}`)
        .replace('heartbeat_interval = 10', 'heartbeat_interval = 1'),
    );
    const member = await startMember('standalone');
    try {
      const agent = run(['--config-file', dir.configFile]);
      child = agent.child;
      const port = await agent.listening;
      expect((await request(port, pki, 'GET', '/')).json()).toEqual({ api_version: '1.0' });

      const vipPort = await freePort();
      const cfg = renderLbConfig({ base: dir.base, vipPort, members: [{ id: memberId(1), port: member.port }] });
      expect((await request(port, pki, 'PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, cfg)).status).toBe(202);
      expect((await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/reload`)).status).toBe(202);
      await eventually(async () => (await httpGet(vipPort)).body === 'standalone', 'traffic');

      const beat = await eventually(() => datagrams[0], 'a heartbeat datagram');
      expect(beat.subarray(beat.length - 64).toString('latin1')).toMatch(/^[0-9a-f]{64}$/);

      agent.child.kill('SIGTERM');
      const code = await new Promise((r) => agent.child.once('exit', r));
      expect(code).toBe(0);
      expect(agent.output()).toContain('load balancers keep running');
      expect((await httpGet(vipPort)).body).toBe('standalone');
    } finally {
      hm.close();
      await member.close();
    }
  });

  it('refuses to start on an unknown [amphora_ts] option, naming it (exit 2)', async () => {
    const pki = makePki();
    dir = makeAgentDir(pki, {}, 'servce_manager = process\n');
    const agent = run(['--config-file', dir.configFile]);
    child = agent.child;
    const code = await new Promise((r) => agent.child.once('exit', r));
    expect(code).toBe(2);
    expect(agent.output()).toMatch(/unknown option "servce_manager" in \[amphora_ts\]/);
  });

  it('refuses to start without --config-file (exit 2, usage)', async () => {
    const agent = run([]);
    child = agent.child;
    expect(await new Promise((r) => agent.child.once('exit', r))).toBe(2);
    expect(agent.output()).toContain('usage: amphora-agent --config-file FILE');
  });

  it('refuses to start when the TLS material cannot be read', async () => {
    const pki = makePki();
    dir = makeAgentDir(pki);
    writeFileSync(join(dir.dir, 'server.pem'), pki.server.certPem); // certificate without its key
    const agent = run(['--config-file', dir.configFile]);
    child = agent.child;
    expect(await new Promise((r) => agent.child.once('exit', r))).toBe(2);
    expect(agent.output()).toMatch(/unusable agent TLS material/);
    writeFileSync(join(dir.dir, 'server.pem'), pki.server.pem);
  });
});
