// Starting and stopping proxy-core: pid file, stats socket, fatal bind errors, SIGTERM.

import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { freePort, startProxy, statsCommand, stopAllProxies } from '../helpers/proxy.ts';
import { proxyConfig } from './configs.ts';

let member: Member;
beforeEach(async () => {
  member = await startTcpMember('m1');
});
afterEach(async () => {
  await stopAllProxies();
  await member.close();
});

describe('proxy-core start and stop', () => {
  it('writes the pid file once serving; SIGTERM exits 0 and removes the pid file and the stats socket', async () => {
    const port = await freePort();
    let sock = '';
    const proxy = await startProxy((dir) => proxyConfig({ port, members: [member], statsSocket: (sock = join(dir, 'lb.sock')) }));
    expect(readFileSync(proxy.pidPath, 'utf8')).toBe(`${proxy.pid}\n`);
    expect(await tcpExchange(port, 'hello\n')).toBe('m1:hello\n');
    expect(existsSync(sock)).toBe(true);

    proxy.signal('SIGTERM');
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(proxy.pidPath)).toBe(false);
    expect(existsSync(sock)).toBe(false);
  });

  it('SIGINT stops like SIGTERM', async () => {
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, members: [member] }));
    proxy.signal('SIGINT');
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(proxy.pidPath)).toBe(false);
  });

  it('answers show info and show stat on the stats socket, and "Unknown command" otherwise', async () => {
    const port = await freePort();
    let sock = '';
    await startProxy((dir) => proxyConfig({ port, members: [member], statsSocket: (sock = join(dir, 'lb.sock')) }));
    expect(await tcpExchange(port, 'x\n')).toBe('m1:x\n');
    expect(await statsCommand(sock, 'show info')).toMatch(/^Pid: \d+$/m);
    expect(await statsCommand(sock, 'show stat')).toMatch(/^pool,m1,/m);
    expect(await statsCommand(sock, 'show me everything')).toMatch(/^Unknown command/);
  });

  it('a bind that cannot be opened is fatal: [ALERT] with the address, exit 1, no pid file', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const proxy = await startProxy(proxyConfig({ port, members: [member] }), { waitReady: false });
      const exit = await proxy.exited;
      expect(exit.code).toBe(1);
      expect(proxy.stderr).toMatch(new RegExp(`\\[ALERT\\].*cannot bind socket \\(Address already in use\\) \\[127\\.0\\.0\\.1:${port}\\]`));
      expect(existsSync(proxy.pidPath)).toBe(false);
    } finally {
      taken.close();
    }
  });

  it('a global maxconn above the open-file limit is a warning naming RLIMIT_NOFILE, not a failure', async () => {
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, members: [member], maxconn: 150000 }), { openFileLimit: 4096 });
    expect(proxy.stderr).toMatch(/\[WARNING\].*maxconn 150000.*RLIMIT_NOFILE\) is 4096/);
    expect(await tcpExchange(port, 'y\n')).toBe('m1:y\n');
  });
});
