// The runtime with mode http: reloads and soft stop as HTTP clients see them.

import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest, refused } from '../helpers/clients.ts';
import { startHttpMember, type Member } from '../helpers/members.ts';
import { freePort, sleep, startProxy, stopAllProxies, until } from '../helpers/proxy.ts';
import { proxyConfig, type MemberLine } from './configs.ts';

const members: Member[] = [];
afterEach(async () => {
  await stopAllProxies();
  await Promise.all(members.splice(0).map((m) => m.close()));
});

async function member(name: string, delayMs?: number): Promise<Member> {
  const m = await startHttpMember(name, { delayMs });
  members.push(m);
  return m;
}

/** Loops of GETs until stop(): `keepAlive` loops reuse one connection each, the others open one per request. */
function httpLoad(port: number, opts: { keepAlive: number; fresh: number }) {
  const statuses: number[] = [];
  const bodies: string[] = [];
  const failures: string[] = [];
  let stopping = false;
  const loop = async (agent: http.Agent | false, tag: string) => {
    for (let i = 0; !stopping; i++) {
      try {
        const r = await httpRequest(port, { path: `/${tag}/${i}`, agent });
        statuses.push(r.status);
        bodies.push(r.body);
        if (r.status !== 200) failures.push(`${tag}/${i}: ${r.status} ${r.body}`);
      } catch (e) {
        failures.push(`${tag}/${i}: ${(e as Error).message}`);
      }
    }
  };
  const agents = Array.from({ length: opts.keepAlive }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const loops = [...agents.map((a, i) => loop(a, `ka${i}`)), ...Array.from({ length: opts.fresh }, (_, i) => loop(false, `new${i}`))];
  return {
    async stop() {
      stopping = true;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
      return { statuses, bodies, failures };
    },
  };
}

const cfg = (port: number, ms: MemberLine[], nbthread = 2) => proxyConfig({ port, nbthread, mode: 'http', members: ms });

describe('mode http', () => {
  // Connections run on RawSocket (raw-socket.ts) unless AMPHORA_TS_NET_SOCKETS=1 keeps them
  // on net.Socket: both ways serve the same.
  it.each([
    ['on the TCP handle', {}],
    ['on net.Socket (AMPHORA_TS_NET_SOCKETS=1)', { AMPHORA_TS_NET_SOCKETS: '1' }],
  ])('reloads under keep-alive and new-connection load fail no request; every answer is 200 and the last config takes effect (%s)', async (_how, env) => {
    const [a, b] = [await member('a'), await member('b')];
    const port = await freePort();
    const proxy = await startProxy(cfg(port, [a]), { env });
    const load = httpLoad(port, { keepAlive: 2, fresh: 2 });
    await sleep(300);
    expect(await proxy.reload(cfg(port, [a, b]))).toBe('reloaded');
    await sleep(300);
    expect(await proxy.reload(cfg(port, [{ ...a, weight: 1 }, { ...b, weight: 4 }]))).toBe('reloaded');
    await sleep(300);
    expect(await proxy.reload(cfg(port, [b]))).toBe('reloaded');
    await sleep(300);
    const r = await load.stop();
    expect(r.failures).toEqual([]);
    expect(r.statuses.length).toBeGreaterThan(20);
    expect(r.bodies.some((body) => body.startsWith('b GET'))).toBe(true);
    // Keep-alive connections opened under the first config now reach b too: a request uses
    // the plan current when its head arrives.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 5; i++) expect((await httpRequest(port, { agent, path: `/after/${i}` })).body).toBe(`b GET /after/${i}\n`);
    agent.destroy();
  });

  it('soft stop: an in-flight slow request completes (Connection: close), an idle keep-alive connection is closed, the process exits 0', async () => {
    const slow = await member('slow', 1500);
    const port = await freePort();
    const proxy = await startProxy(cfg(port, [slow], 1));
    const idleAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await httpRequest(port, { agent: idleAgent, path: '/warm' })).status).toBe(200);
    const idleSocket = Object.values(idleAgent.freeSockets).flat()[0]!;
    const idleClosed = new Promise<void>((r) => idleSocket.once('close', () => r()));

    const inFlight = httpRequest(port, { path: '/slow', agent: new http.Agent({ keepAlive: true }) });
    await until(() => slow.hits === 2, 10_000, 'the slow request to reach the member');
    proxy.signal('SIGUSR1');
    await until(() => refused(port), 10_000, 'the listener to close');
    await idleClosed;
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.body).toBe('slow GET /slow\n');
    expect(r.headers.connection).toBe('close');
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    idleAgent.destroy();
  });
});
