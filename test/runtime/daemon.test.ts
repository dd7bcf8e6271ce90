// -D: the command returns once the background process serves, or fails with its reasons.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { alive, freePort, runProxyCli, stopAllProxies, tempDir, until } from '../helpers/proxy.ts';
import { proxyConfig } from './configs.ts';

let member: Member;
beforeEach(async () => {
  member = await startTcpMember('m1');
});
afterEach(async () => {
  await stopAllProxies();
  await member.close();
});

describe('proxy-core -D', () => {
  it('returns 0 once the background process serves; the pid file names it; SIGTERM stops it', async () => {
    const port = await freePort();
    const dir = tempDir();
    const cfg = join(dir, 'haproxy.cfg');
    const pidPath = join(dir, 'lb.pid');
    writeFileSync(cfg, proxyConfig({ port, members: [member] }));
    const r = await runProxyCli(['-D', '-f', cfg, '-p', pidPath]);
    expect(r.code).toBe(0);
    const pid = Number(readFileSync(pidPath, 'utf8'));
    try {
      expect(alive(pid)).toBe(true);
      expect(await tcpExchange(port, 'bg\n')).toBe('m1:bg\n');
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    await until(() => !alive(pid), 10_000, 'the daemon to exit');
    expect(existsSync(pidPath)).toBe(false);
  });

  it('fails with the background process status and its [ALERT] lines when it cannot serve', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    const dir = tempDir();
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, proxyConfig({ port, members: [member] }));
    try {
      const r = await runProxyCli(['-D', '-f', cfg, '-p', join(dir, 'lb.pid')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`\\[ALERT\\].*cannot bind socket.*\\[127\\.0\\.0\\.1:${port}\\]`));
      expect(existsSync(join(dir, 'lb.pid'))).toBe(false);
    } finally {
      taken.close();
    }
  });

  it('an invalid config fails at once with the [ALERT] lines, exit 1', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, 'global\n    bogus-directive\n');
    const r = await runProxyCli(['-D', '-f', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`[ALERT] ${cfg}:2 : `);
  });
});
