// `-sf` / `-st`: a new process takes over the binds of a running one (binary upgrade); with
// SO_REUSEPORT both serve the same ports until the old one has stopped.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LineClient, tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { freePort, startProxy, statsCommand, stopAllProxies, tempDir } from '../helpers/proxy.ts';
import { proxyConfig } from './configs.ts';

let member: Member | undefined;
afterEach(async () => {
  await stopAllProxies();
  await member?.close();
});

describe('process replacement', () => {
  it('-sf PID: the new process serves, the old one soft-stops (finishing its connections) and leaves the new stats socket and pid file alone', async () => {
    member = await startTcpMember('m1');
    const port = await freePort();
    let sock = '';
    let pidPath = '';
    const text = (dir: string) => proxyConfig({ port, members: [member!], statsSocket: (sock ||= join(dir, 'lb.sock')) });
    const old = await startProxy(text, { args: ['-p', (pidPath = join(tempDir(), 'lb.pid'))] });
    const held = await LineClient.connect(port);
    expect(await held.request('old')).toBe('m1:old');

    const next = await startProxy(text, { args: ['-p', pidPath, '-sf', String(old.pid)] });
    expect(readFileSync(pidPath, 'utf8')).toBe(`${next.pid}\n`);
    // The old process drains: its connection goes on, new ones reach the new process.
    expect(await held.request('still-old')).toBe('m1:still-old');
    expect(await tcpExchange(port, 'new\n')).toBe('m1:new\n');
    expect(old.running).toBe(true);
    held.close();
    expect(await old.exited).toEqual({ code: 0, signal: null });

    expect(existsSync(pidPath)).toBe(true);
    expect(readFileSync(pidPath, 'utf8')).toBe(`${next.pid}\n`);
    expect(await statsCommand(sock, 'show info')).toMatch(new RegExp(`^Pid: ${next.pid}$`, 'm'));
    await next.stop();
    expect(existsSync(pidPath)).toBe(false);
  });

  it('-st PID: the old process stops at once', async () => {
    member = await startTcpMember('m1');
    const port = await freePort();
    const old = await startProxy(proxyConfig({ port, members: [member] }));
    const held = await LineClient.connect(port);
    expect(await held.request('old')).toBe('m1:old');
    await startProxy(proxyConfig({ port, members: [member] }), { args: ['-st', String(old.pid)] });
    expect(await old.exited).toEqual({ code: 0, signal: null });
    await expect(held.request('gone')).rejects.toThrow();
    expect(await tcpExchange(port, 'new\n')).toBe('m1:new\n');
  });
});
