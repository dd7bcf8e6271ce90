// The load-balancer lifecycle under the process service manager, for one engine (the
// lifecycle-<engine>.test.ts files call it): real traffic through a loopback VIP to loopback
// members, reload without a dropped connection, supervision, adoption after an agent restart,
// atomic refusal of a bad upload.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../agent/config.ts';
import type { AgentHandle } from '../../agent/main.ts';
import {
  AMP_ID,
  type AgentDir,
  eventually,
  freePort,
  httpGet,
  LB_ID,
  makeAgentDir,
  makePki,
  type Member,
  memberId,
  type Pki,
  processesMentioning,
  renderLbConfig,
  request,
  startMember,
  startTestAgent,
} from './helpers.ts';

export type SuitePart = 'serve' | 'supervise';

/** `serve`: traffic, reload, refused upload. `supervise`: restarts, adoption, agent restarts. */
export function lifecycleSuite(engine: Engine, parts: SuitePart[] = ['serve', 'supervise']): void {
  type Test = (name: string, fn: () => Promise<void>) => void;
  const skip: Test = () => {};
  const serve: Test = parts.includes('serve') ? it : skip;
  const supervise: Test = parts.includes('supervise') ? it : skip;


const FAST_SUPERVISION = { pollMs: 200, restartDelayMs: 100, stableMs: 60_000 };

let pki: Pki;
let dir: AgentDir;
let agent: AgentHandle | undefined;
let members: Member[];
let vipPort: number;

beforeAll(async () => {
  pki = makePki();
  members = await Promise.all(['alpha', 'beta', 'gamma'].map(startMember));
});

afterAll(async () => {
  await Promise.all(members.map((m) => m.close()));
});

afterEach(async () => {
  // Stop every engine a test left running (through a fresh agent if the test closed its own).
  if (!agent) agent = await startTestAgent(dir);
  for (const lb of agent.store.list()) await agent.lifecycle.remove(lb);
  await agent.close();
  agent = undefined;
  dir.cleanup();
});

async function setUp(): Promise<number> {
  dir = makeAgentDir(pki, { engine });
  agent = await startTestAgent(dir, { processManager: FAST_SUPERVISION });
  vipPort = await freePort();
  return agent.address.port;
}

function config(memberIdx: number[]): string {
  return renderLbConfig({ base: dir.base, vipPort, members: memberIdx.map((i) => ({ id: memberId(i), port: members[i].port })) });
}

async function uploadAndReload(port: number, text: string): Promise<void> {
  const up = await request(port, pki, 'PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, text);
  expect(up.status, up.text).toBe(202);
  const rl = await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/reload`);
  expect(rl.status, rl.text).toBe(202);
}

/** Bodies of `n` requests through the VIP. */
async function answers(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await httpGet(vipPort)).body);
  return out;
}

describe(`engine = ${engine}, process service manager`, () => {
  serve('serves traffic through the VIP to the members after upload + reload, round robin', async () => {
    const port = await setUp();
    await uploadAndReload(port, config([0, 1]));
    const got = await eventually(async () => {
      const a = await answers(4);
      return a.includes('alpha') && a.includes('beta') ? a : undefined;
    }, 'traffic to both members');
    expect(new Set(got)).toEqual(new Set(['alpha', 'beta']));
    // the stats socket of the config is up (the heartbeat reads it)
    expect(existsSync(join(dir.base, `${LB_ID}.sock`))).toBe(true);
    expect(readFileSync(join(dir.base, LB_ID, `${LB_ID}.pid`), 'utf8').trim()).toMatch(/^\d+$/);
  });

  serve('a reload applies the new config without dropping a connection in flight', async () => {
    const port = await setUp();
    await uploadAndReload(port, config([0]));
    await eventually(async () => (await httpGet(vipPort)).body === 'alpha', 'alpha serving');
    const pid = agent!.store.pid(LB_ID);
    // a slow request in flight across the reload
    const slow = httpGet(vipPort, '/slow');
    await new Promise((r) => setTimeout(r, 200));
    await uploadAndReload(port, config([2]));
    expect(await slow).toEqual({ status: 200, body: 'alpha' });
    await eventually(async () => (await httpGet(vipPort)).body === 'gamma', 'the new member after the reload');
    expect(agent!.store.pid(LB_ID)).toBe(pid); // a reload keeps the process (HAProxy: the same master)
  });

  serve('an invalid upload leaves the old files and the old process serving', async () => {
    const port = await setUp();
    const good = config([1]);
    await uploadAndReload(port, good);
    await eventually(async () => (await httpGet(vipPort)).body === 'beta', 'beta serving');
    const pid = agent!.store.pid(LB_ID);
    const bad = good.replace('balance roundrobin', 'balance nonsense');
    const r = await request(port, pki, 'PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, bad);
    expect(r.status).toBe(400);
    expect(readFileSync(join(dir.base, LB_ID, 'haproxy.cfg'), 'utf8')).toBe(good);
    // the controller would not reload after a 400; even if something does, the stored config is the good one
    expect((await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/reload`)).status).toBe(202);
    expect(agent!.store.pid(LB_ID)).toBe(pid);
    expect((await httpGet(vipPort)).body).toBe('beta');
  });

  serve('a reload right after the start is applied before the agent answers (HAProxy drops an early SIGUSR2: re-sent)', async () => {
    const port = await setUp();
    await uploadAndReload(port, config([0]));
    // no upload in between: the reload reaches the engine moments after it started
    expect((await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/reload`)).json().details).toContain('reloaded');
    const log = readFileSync(join(dir.base, LB_ID, 'engine.log'), 'utf8');
    if (engine === 'haproxy') expect(log.match(/Loading success\./g)).toHaveLength(2);
    else expect(log).toMatch(/reloaded: serving generation 2/);
  });

  serve('start of a running LB changes nothing; a reload of a config broken behind the agent\'s back is 500 and the engine keeps serving', async () => {
    const port = await setUp();
    const good = config([1]);
    await uploadAndReload(port, good);
    await eventually(async () => (await httpGet(vipPort)).body === 'beta', 'beta serving');
    const pid = agent!.store.pid(LB_ID);
    const start = await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/start`);
    expect(start.status).toBe(202);
    expect(agent!.store.pid(LB_ID)).toBe(pid);
    writeFileSync(join(dir.base, LB_ID, 'haproxy.cfg'), good.replace('balance roundrobin', 'balance nonsense'));
    const r = await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/reload`);
    expect(r.status).toBe(500);
    expect(r.json().message).toBe('Error reloading haproxy');
    expect(r.json().details).toMatch(/balance/);
    expect(agent!.store.pid(LB_ID)).toBe(pid);
    expect((await httpGet(vipPort)).body).toBe('beta');
  });

  supervise('restarts the engine when it dies (killed), and traffic comes back', async () => {
    const port = await setUp();
    await uploadAndReload(port, config([0]));
    await eventually(async () => (await httpGet(vipPort)).body === 'alpha', 'alpha serving');
    const pid = agent!.store.pid(LB_ID)!;
    process.kill(pid, 'SIGKILL');
    const newPid = await eventually(() => {
      const p = agent!.store.pid(LB_ID);
      return p !== undefined && p !== pid && agent!.store.isRunning(LB_ID) ? p : undefined;
    }, 'a new engine');
    expect(newPid).not.toBe(pid);
    await eventually(async () => (await httpGet(vipPort)).body === 'alpha', 'traffic after the restart');
  });

  supervise('a stopped LB is not restarted by the supervisor, nor by a restarted agent', async () => {
    const port = await setUp();
    await uploadAndReload(port, config([0]));
    expect((await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/stop`)).status).toBe(202);
    await new Promise((r) => setTimeout(r, 800));
    expect(agent!.store.isRunning(LB_ID)).toBe(false);
    await expect(httpGet(vipPort)).rejects.toThrow();
    await agent!.close();
    agent = await startTestAgent(dir, { processManager: FAST_SUPERVISION });
    expect(agent.store.isRunning(LB_ID)).toBe(false);
  });

  supervise('the engine outlives the agent; a restarted agent adopts it (still one process) and supervises it', async () => {
    const port = await setUp();
    await uploadAndReload(port, config([1]));
    await eventually(async () => (await httpGet(vipPort)).body === 'beta', 'beta serving');
    const configPath = join(dir.base, LB_ID, 'haproxy.cfg');
    const pid = agent!.store.pid(LB_ID)!;
    await agent!.close();
    agent = undefined;
    // data plane on its own
    expect((await httpGet(vipPort)).body).toBe('beta');
    agent = await startTestAgent(dir, { processManager: FAST_SUPERVISION });
    expect(agent.store.pid(LB_ID)).toBe(pid);
    // one master (and its worker), not a second instance
    const masters = processesMentioning(configPath).filter((p) => readFileSync(`/proc/${p}/stat`, 'utf8').split(' ')[3] !== String(pid));
    expect(masters).toEqual([pid]);
    const newPort = agent.address.port;
    expect((await request(newPort, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/reload`)).status).toBe(202);
    expect(agent.store.pid(LB_ID)).toBe(pid);
    // adopted engines are supervised too
    process.kill(pid, 'SIGKILL');
    await eventually(() => agent!.store.isRunning(LB_ID) && agent!.store.pid(LB_ID) !== pid, 'restart of the adopted engine');
    await eventually(async () => (await httpGet(vipPort)).body === 'beta', 'traffic after the restart');
  });

  supervise('after an agent restart, an LB that was running but whose engine is gone is started again', async () => {
    const port = await setUp();
    await uploadAndReload(port, config([2]));
    const pid = agent!.store.pid(LB_ID)!;
    await agent!.close();
    agent = undefined;
    process.kill(-pid, 'SIGKILL'); // e.g. a reboot took the data plane away
    await eventually(() => processesMentioning(join(dir.base, LB_ID, 'haproxy.cfg')).length === 0, 'engine gone');
    agent = await startTestAgent(dir, { processManager: FAST_SUPERVISION });
    expect(agent.store.isRunning(LB_ID)).toBe(true);
    await eventually(async () => (await httpGet(vipPort)).body === 'gamma', 'traffic after the agent start');
  });
});
}
