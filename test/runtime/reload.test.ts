// Reload (SIGUSR2 / SIGHUP): re-read the files, switch every worker to the new config while
// traffic flows, keep serving the old config when the new one is invalid.

import { afterEach, describe, expect, it } from 'vitest';
import { answersFrom, LineClient, tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { freePort, sleep, startProxy, stopAllProxies } from '../helpers/proxy.ts';
import { proxyConfig } from './configs.ts';
import { runLoad } from './load.ts';

const members: Member[] = [];
afterEach(async () => {
  await stopAllProxies();
  await Promise.all(members.splice(0).map((m) => m.close()));
});

async function member(name: string): Promise<Member> {
  const m = await startTcpMember(name);
  members.push(m);
  return m;
}

describe('reload', () => {
  it('under continuous load, several reloads changing members and weights fail no request, and the last config takes effect', async () => {
    const [a, b] = [await member('a'), await member('b')];
    const port = await freePort();
    const cfg = (ms: { name: string; port: number; weight?: number }[]) => proxyConfig({ port, nbthread: 2, members: ms });
    const proxy = await startProxy(cfg([a]));
    const load = runLoad(port, { conns: 3, persistent: 2 });
    await sleep(300);
    expect(await proxy.reload(cfg([a, b]))).toBe('reloaded');
    await sleep(300);
    expect(await proxy.reload(cfg([{ ...a, weight: 1 }, { ...b, weight: 5 }]))).toBe('reloaded');
    await sleep(300);
    expect(await proxy.reload(cfg([b]))).toBe('reloaded');
    await sleep(300);
    const r = await load.stop();
    expect(r.failures).toEqual([]);
    expect(r.answers.length).toBeGreaterThan(20);
    expect(r.answers.some((x) => x.startsWith('b:'))).toBe(true);
    // New connections now all go to b.
    expect(await answersFrom(port, 10)).toEqual(new Set(['b']));
    expect(proxy.generation).toBe(4);
  });

  it('an invalid config is logged with [ALERT] file:line and the running config keeps serving', async () => {
    const a = await member('a');
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, members: [a] }));
    const client = await LineClient.connect(port);
    expect(await client.request('before')).toBe('a:before');
    const from = proxy.stderr.length;
    expect(await proxy.reload('global\n    nbthread 1\n    not-a-directive here\n')).toBe('failed');
    expect(proxy.stderr.slice(from)).toContain(`[ALERT] ${proxy.configPath}:3 : `);
    expect(await client.request('after')).toBe('a:after');
    expect(await tcpExchange(port, 'new\n')).toBe('a:new\n');
    client.close();
  });

  it('SIGHUP reloads too', async () => {
    const [a, b] = [await member('a'), await member('b')];
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, members: [a] }));
    expect(await proxy.reload(proxyConfig({ port, members: [b] }), { signal: 'SIGHUP' })).toBe('reloaded');
    expect(await tcpExchange(port, 'hup\n')).toBe('b:hup\n');
  });
});
