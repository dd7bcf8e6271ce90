// maxconn: at the limit, new connections wait (as in a kernel backlog) and are served once a
// slot frees — in any worker thread — instead of being refused.

import { afterEach, describe, expect, it } from 'vitest';
import { LineClient, tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { freePort, sleep, startProxy, stopAllProxies, until } from '../helpers/proxy.ts';
import { proxyConfig } from './configs.ts';

let member: Member | undefined;
afterEach(async () => {
  await stopAllProxies();
  await member?.close();
});

describe('maxconn', () => {
  it('frontend maxconn 1: a second connection waits until the first ends, then is served', async () => {
    member = await startTcpMember('m1');
    const port = await freePort();
    await startProxy(proxyConfig({ port, nbthread: 2, feMaxconn: 1, members: [member] }));
    const first = await LineClient.connect(port);
    expect(await first.request('a')).toBe('m1:a');

    const second = tcpExchange(port, 'b\n');
    let settled = false;
    void second.finally(() => (settled = true));
    await sleep(500);
    // Connected (the handshake completes, as with a kernel backlog) but not served yet.
    expect(settled).toBe(false);
    expect(member.hits).toBe(1);

    first.close();
    expect(await second).toBe('m1:b\n');
    expect(member.hits).toBe(2);
  });

  it('global maxconn 2 holds across worker threads, and every waiting connection is served in the end', async () => {
    member = await startTcpMember('m1');
    const port = await freePort();
    await startProxy(proxyConfig({ port, nbthread: 2, maxconn: 2, members: [member] }));
    const held = [await LineClient.connect(port), await LineClient.connect(port)];
    for (const [i, c] of held.entries()) expect(await c.request(`h${i}`)).toBe(`m1:h${i}`);

    const waiting = Array.from({ length: 4 }, (_, i) => tcpExchange(port, `w${i}\n`));
    await sleep(500);
    expect(member.hits).toBe(2);
    for (const c of held) c.close();
    expect(await Promise.all(waiting)).toEqual(['m1:w0\n', 'm1:w1\n', 'm1:w2\n', 'm1:w3\n']);
    await until(() => member!.hits === 6, 5_000, 'every connection to reach the member');
  });
});
