// Worker threads: nbthread workers share the binds (SO_REUSEPORT); a worker that dies is
// replaced while the others keep serving. nbthread 1 serves on the main thread.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tcpExchange } from '../helpers/clients.ts';
import { startTcpMember, type Member } from '../helpers/members.ts';
import { freePort, startProxy, statsCommand, stopAllProxies } from '../helpers/proxy.ts';
import { proxyConfig } from './configs.ts';
import { runLoad } from './load.ts';

let member: Member | undefined;
afterEach(async () => {
  await stopAllProxies();
  await member?.close();
});

/** One member behind a proxy with `nbthread` threads and a stats socket (test hooks on). */
async function start(nbthread: number) {
  member = await startTcpMember('m1');
  const port = await freePort();
  let sock = '';
  const proxy = await startProxy((dir) => proxyConfig({ port, nbthread, members: [member!], statsSocket: (sock = join(dir, 'lb.sock')) }), {
    env: { AMPHORA_TS_TEST_HOOKS: '1' },
  });
  return { proxy, port, sock };
}

describe('worker threads', () => {
  it('nbthread 2 serves every request (the kernel spreads connections over both workers)', async () => {
    const { port, sock } = await start(2);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => tcpExchange(port, `r${i}\n`)));
    expect(answers).toEqual(Array.from({ length: 40 }, (_, i) => `m1:r${i}\n`));
    expect(await statsCommand(sock, 'show info')).toMatch(/^Nbthread: 2$/m);
  });

  it('a worker that crashes is replaced while the other keeps serving; requests keep succeeding', async () => {
    const { proxy, port, sock } = await start(2);
    for (let i = 0; i < 10; i++) expect(await tcpExchange(port, `before${i}\n`)).toBe(`m1:before${i}\n`);

    const from = proxy.stderr.length;
    // Answers once worker 0 has exited: its listening sockets are gone, worker 1 serves alone
    // until the replacement has opened its own.
    expect(await statsCommand(sock, 'test crash-worker 0')).toMatch(/^worker 0 exited\n/);
    const load = runLoad(port, { conns: 3, persistent: 1 });
    await proxy.waitForStderr(/worker 0 replaced/, { from });
    for (let i = 0; i < 10; i++) expect(await tcpExchange(port, `after${i}\n`)).toBe(`m1:after${i}\n`);
    const r = await load.stop();
    expect(r.failures).toEqual([]);
    expect(r.answers.length).toBeGreaterThan(0);
    expect(proxy.stderr.slice(from)).toMatch(/\[ALERT\].*worker 0 exited with code 1: Error: worker 0: crash requested by the test hook/);
    expect(proxy.running).toBe(true);
  });

  it('a crash loop is slowed down (backoff), not spun', async () => {
    const { proxy, port, sock } = await start(2);
    for (let i = 0; i < 3; i++) {
      await proxy.waitForStderr(new RegExp(`(worker 0 replaced[^]*){${i}}`));
      expect(await statsCommand(sock, 'test crash-worker 0')).toMatch(/^worker 0 exited\n/);
    }
    await proxy.waitForStderr(/replacing it in \d+ ms/);
    await proxy.waitForStderr(/(worker 0 replaced[^]*){3}/);
    expect(await tcpExchange(port, 'alive\n')).toBe('m1:alive\n');
  });

  it('nbthread 1 serves on the main thread: there is no worker thread to crash (stop.test.ts soft-stops it)', async () => {
    const { proxy, port, sock } = await start(1);
    // The port may accept before the notice has crossed the pipe: wait for it.
    await proxy.waitForStderr(/serving generation 1 on the main thread/);
    expect(await statsCommand(sock, 'test crash-worker 0')).toMatch(/^worker 0 is the main thread \(nbthread 1\): nothing to crash\n/);
    expect(await tcpExchange(port, 'alive\n')).toBe('m1:alive\n');
    expect(await statsCommand(sock, 'show info')).toMatch(/^Nbthread: 1$/m);
    // The command re-executed itself in place (same pid, the pid file names it) with the main
    // thread's young generation capped, pretenuring off, larger inlining budgets and a gentler
    // memory reducer (bin/proxy-core.js).
    const argv = readFileSync(`/proc/${proxy.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toEqual(
      expect.arrayContaining([
        '--max-semi-space-size=2',
        '--no-allocation-site-pretenuring',
        '--max-inlined-bytecode-size=920',
        '--max-inlined-bytecode-size-cumulative=2760',
        '--no-memory-reducer-favors-memory',
      ]),
    );
  });

  it('an engine option the operator gave already (command line or NODE_OPTIONS, either spelling) is not added again', async () => {
    member = await startTcpMember('m1');
    const port = await freePort();
    const proxy = await startProxy(proxyConfig({ port, nbthread: 1, members: [member] }), {
      env: { NODE_OPTIONS: '--max-semi-space-size=4' },
      nodeArgs: ['--max_inlined_bytecode_size=500'],
    });
    expect(await tcpExchange(port, 'alive\n')).toBe('m1:alive\n');
    const argv = readFileSync(`/proc/${proxy.pid}/cmdline`, 'utf8').split('\0');
    expect(argv.filter((a) => a.startsWith('--max-semi-space-size') || a.startsWith('--max-inlined-bytecode-size='))).toEqual([]);
    expect(argv).toContain('--max_inlined_bytecode_size=500');
    expect(argv).toEqual(expect.arrayContaining(['--no-allocation-site-pretenuring', '--max-inlined-bytecode-size-cumulative=2760']));
  });
});
