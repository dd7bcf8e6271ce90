// Bind addresses as HAProxy reads them: '' and '*' are IPv4 any, '::' is dual stack unless
// `v6only`, IPv6 literals bind that address. (Tests only listen on loopback: the any-address
// cases are checked on the listen() arguments, without opening them.)

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bind } from '../../proxy-core/config/model.ts';
import type { Plan } from '../../proxy-core/compile/plan.ts';
import { bindSpecs } from '../../proxy-core/runtime/listeners.ts';
import { refused, tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { freePort, startProxy, stopAllProxies } from '../helpers/proxy.ts';

let member: Member | undefined;
afterEach(async () => {
  await stopAllProxies();
  await member?.close();
});

const where = { file: 't.cfg', line: 1 };
const bind = (address: string, port: number, options: Record<string, string | true> = {}): Bind => ({ address, port, acceptProxy: false, options, where });

/** A mode tcp frontend on `binds` (each a bind line's arguments) in front of one member. */
const tcpConfig = (binds: string[], memberPort: number) => `global
    maxconn 500

defaults
    mode tcp
    timeout client 10s
    timeout server 10s
    timeout connect 2s

frontend fe
${binds.map((b) => `    bind ${b}`).join('\n')}
    default_backend be

backend be
    server m1 127.0.0.1:${memberPort}
`;

/** Just what bindSpecs reads of a plan. */
function planOf(frontends: { name: string; binds: Bind[]; maxconn?: number; disabled?: boolean }[], nbthread?: number): Plan {
  return {
    config: { global: { nbthread }, frontends: frontends.map((f) => ({ name: f.name, disabled: f.disabled ?? false })) },
    frontends: frontends.map((f) => ({ name: f.name, binds: f.binds, maxconn: f.maxconn ?? 0 })),
  } as unknown as Plan;
}

describe('bind addresses', () => {
  it("'' and '*' listen on 0.0.0.0; '::' is dual stack, 'v6only' is not; labels as HAProxy prints them", () => {
    const specs = bindSpecs(
      planOf([{ name: 'fe', binds: [bind('', 80), bind('*', 81), bind('::', 82), bind('::', 83, { v6only: true }), bind('2001:db8::10', 84)] }]),
    );
    expect(specs.map((s) => [s.host, s.port, s.ipv6Only, s.label])).toEqual([
      ['0.0.0.0', 80, false, '0.0.0.0:80'],
      ['0.0.0.0', 81, false, '0.0.0.0:81'],
      ['::', 82, false, '[::]:82'],
      ['::', 83, true, '[::]:83'],
      ['2001:db8::10', 84, false, '[2001:db8::10]:84'],
    ]);
  });

  it('a bind keeps its identity across configs (so a reload keeps its socket) whichever frontend owns it', () => {
    const before = bindSpecs(planOf([{ name: 'a', binds: [bind('10.0.0.1', 80)] }, { name: 'b', binds: [bind('10.0.0.1', 443)] }]));
    const after = bindSpecs(planOf([{ name: 'c', binds: [bind('10.0.0.1', 443)] }, { name: 'a', binds: [bind('10.0.0.1', 80)] }]));
    expect(new Set(after.map((s) => s.key))).toEqual(new Set(before.map((s) => s.key)));
    expect(after.find((s) => s.port === 443)!.frontend).toBe('c');
  });

  it('backlog: the bind option, else the frontend maxconn; disabled frontends open nothing', () => {
    const specs = bindSpecs(
      planOf([
        { name: 'a', maxconn: 5000, binds: [bind('127.0.0.1', 80), bind('127.0.0.1', 81, { backlog: '128' })] },
        { name: 'off', disabled: true, binds: [bind('127.0.0.1', 82)] },
      ]),
    );
    expect(specs.map((s) => [s.port, s.backlog])).toEqual([
      [80, 5000],
      [81, 128],
    ]);
  });

  it('64 listening sockets per bind shared out between the threads, at least 8 each', () => {
    const sockets = (nbthread?: number) => bindSpecs(planOf([{ name: 'fe', binds: [bind('127.0.0.1', 80)] }], nbthread))[0]!.sockets;
    expect([sockets(), sockets(1), sockets(2), sockets(3), sockets(8), sockets(16)]).toEqual([64, 64, 32, 22, 8, 8]);
  });

  it("'::1:PORT v6only' and '[::1]:PORT' serve IPv6 loopback clients only", async () => {
    member = await startTcpMember('m1');
    const [a, b] = [await freePort('::1'), await freePort('::1')];
    await startProxy(tcpConfig([`::1:${a} v6only`, `[::1]:${b}`], member.port));
    expect(await tcpExchange(a, 'x\n', { host: '::1' })).toBe('m1:x\n');
    expect(await tcpExchange(b, 'y\n', { host: '::1' })).toBe('m1:y\n');
    expect(await refused(a, '127.0.0.1')).toBe(true);
  });

  it('every listening socket of a bind accepts, and all of them close when a reload drops the bind', async () => {
    member = await startTcpMember('m1');
    const [a, b] = [await freePort(), await freePort()];
    const cfg = (ports: number[]) => tcpConfig(ports.map((p) => `127.0.0.1:${p}`), member!.port);
    const proxy = await startProxy(cfg([a, b]));
    expect(listening(a).length).toBe(64);
    // The kernel spreads connections over the bind's sockets by a hash of the addresses: 160
    // at once, from as many source ports, reach all but about 5 of the 64. All are answered,
    // and no socket is left with a connection it did not accept.
    const answers = await Promise.all(Array.from({ length: 160 }, (_, i) => tcpExchange(a, `c${i}\n`)));
    expect(answers).toEqual(Array.from({ length: 160 }, (_, i) => `m1:c${i}\n`));
    expect(listening(a).filter((queued) => queued > 0)).toEqual([]);
    expect(await proxy.reload(cfg([b]))).toBe('reloaded');
    expect(listening(a)).toEqual([]);
    expect(await refused(a)).toBe(true);
    expect(await tcpExchange(b, 'still\n')).toBe('m1:still\n');
  });
});

/** The listening sockets on 127.0.0.1:`port` (/proc/net/tcp), each as its accept queue's length. */
function listening(port: number): number[] {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1] === local && f[3] === '0A')
    .map((f) => parseInt(f[4]!.split(':')[1]!, 16));
}
