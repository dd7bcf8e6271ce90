// Soft stop (SIGUSR1): stop accepting, let what is in flight finish, then exit 0.

import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { LineClient, refused, tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { freePort, startProxy, stopAllProxies, until } from '../helpers/proxy.ts';
import { proxyConfig } from './configs.ts';

let member: Member | undefined;
afterEach(async () => {
  await stopAllProxies();
  await member?.close();
});

describe('soft stop', () => {
  it('SIGUSR1 finishes an in-flight slow request, refuses new connections, then exits 0', async () => {
    member = await startTcpMember('slow', { delayMs: 1500 });
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, nbthread: 2, members: [member] }));
    const inFlight = tcpExchange(port, 'slow-request\n');
    await until(() => member!.hits === 1, 10_000, 'the member to get the request');

    proxy.signal('SIGUSR1');
    await until(() => refused(port), 10_000, 'the listeners to close');
    expect(proxy.running).toBe(true);
    expect(await inFlight).toBe('slow:slow-request\n');
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(proxy.pidPath)).toBe(false);
  });

  it('waits for a long-lived connection to end before exiting', async () => {
    member = await startTcpMember('m1');
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, members: [member] }));
    const client = await LineClient.connect(port);
    expect(await client.request('one')).toBe('m1:one');

    proxy.signal('SIGUSR1');
    await until(() => refused(port), 10_000, 'the listener to close');
    expect(await client.request('two')).toBe('m1:two');
    expect(proxy.running).toBe(true);
    client.close();
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
  });

  it('gives up on connections still open after hard-stop-after', async () => {
    member = await startTcpMember('m1');
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, members: [member] }), { env: { AMPHORA_TS_HARD_STOP_AFTER: '500' } });
    const client = await LineClient.connect(port);
    expect(await client.request('one')).toBe('m1:one');
    proxy.signal('SIGUSR1');
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    expect(proxy.stderr).toMatch(/\[WARNING\].*1 connection\(s\) still open after 500 ms/);
    client.close();
  });

  it('SIGTERM during a soft stop closes the remaining connections at once', async () => {
    member = await startTcpMember('m1');
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, members: [member] }));
    const client = await LineClient.connect(port);
    expect(await client.request('one')).toBe('m1:one');
    proxy.signal('SIGUSR1');
    await until(() => refused(port), 10_000, 'the listener to close');
    proxy.signal('SIGTERM');
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    await expect(client.request('two')).rejects.toThrow();
  });
});
