// Reload changing what the process itself holds: binds, worker threads, and a reload after
// user/group were switched.

import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { answersFrom, LineClient, refused, tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { freePort, sleep, startProxy, statsCommand, stopAllProxies, until } from '../helpers/proxy.ts';
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

describe('reload of binds, threads and identity', () => {
  it('opens added binds and closes removed ones; connections accepted on a removed bind go on', async () => {
    const a = await member('a');
    const [port, extra] = [await freePort(), await freePort()];
    const proxy = await startProxy(proxyConfig({ port, members: [a] }));
    expect(await refused(extra)).toBe(true);

    expect(await proxy.reload(proxyConfig({ port, members: [a], moreFrontends: { extra } }))).toBe('reloaded');
    expect(await tcpExchange(extra, 'x\n')).toBe('a:x\n');
    const held = await LineClient.connect(extra);
    expect(await held.request('held-1')).toBe('a:held-1');

    expect(await proxy.reload(proxyConfig({ port, members: [a] }))).toBe('reloaded');
    expect(await refused(extra)).toBe(true);
    expect(await held.request('held-2')).toBe('a:held-2');
    expect(await tcpExchange(port, 'main\n')).toBe('a:main\n');
    held.close();
  });

  it('a changed stats socket path opens the new socket and removes the old one', async () => {
    const a = await member('a');
    const port = await freePort();
    let dir = '';
    const proxy = await startProxy((d) => proxyConfig({ port, members: [a], statsSocket: join((dir = d), 'one.sock') }));
    expect(await statsCommand(join(dir, 'one.sock'), 'show info')).toMatch(/^Pid: \d+$/m);
    expect(await proxy.reload(proxyConfig({ port, members: [a], statsSocket: join(dir, 'two.sock') }))).toBe('reloaded');
    expect(await statsCommand(join(dir, 'two.sock'), 'show stat')).toMatch(/^pool,a,/m);
    expect(existsSync(join(dir, 'one.sock'))).toBe(false);
  });

  it('nbthread may change on reload: added workers serve at once, surplus ones are retired', async () => {
    const a = await member('a');
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, members: [a], nbthread: 1 }));
    const load = runLoad(port, { conns: 2, persistent: 1 });
    expect(await proxy.reload(proxyConfig({ port, members: [a], nbthread: 3 }))).toBe('reloaded');
    await sleep(300);
    const r = await load.stop();
    expect(r.failures).toEqual([]);
    // Shrinking closes the retired workers' listening sockets: a connection waiting in one of
    // their accept queues at that instant is reset (unless net.ipv4.tcp_migrate_req=1), so
    // no load runs across this one.
    const held = await LineClient.connect(port);
    expect(await held.request('held')).toBe('a:held');
    expect(await proxy.reload(proxyConfig({ port, members: [a], nbthread: 1 }))).toBe('reloaded');
    expect(await answersFrom(port, 10)).toEqual(new Set(['a']));
    // A connection served by a retired worker goes on until it ends (that worker drains).
    expect(await held.request('still')).toBe('a:still');
    held.close();
  });

  it('a reload reads a root-only config after user/group were switched (root only)', async ({ skip }) => {
    if (process.getuid?.() !== 0) skip();
    const [a, b] = [await member('a'), await member('b')];
    const port = await freePort();
    const globalExtra = ['user nobody', 'group nogroup'];
    const proxy = await startProxy(proxyConfig({ port, members: [a], globalExtra }));
    // The pid file is written with root's ids taken back for the write (its directory is
    // usually root's), so a reader that sees it may catch the switch back in flight.
    const status = () => readFileSync(`/proc/${proxy.pid}/status`, 'utf8');
    await until(() => /^Uid:\s+0\s+65534\s/m.test(status()), 10_000, 'the switch to nobody');
    expect(status()).toMatch(/^Uid:\s+0\s+65534\s/m);
    expect(status()).toMatch(/^Gid:\s+0\s+65534\s/m);
    chmodSync(proxy.configPath, 0o600);
    expect(await proxy.reload(proxyConfig({ port, members: [b], globalExtra }))).toBe('reloaded');
    expect(await tcpExchange(port, 'priv\n')).toBe('b:priv\n');
    const stopped = await proxy.stop();
    expect(stopped).toEqual({ code: 0, signal: null });
  });
});
