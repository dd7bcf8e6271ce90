// What Octavia's own agent code reads from the stats socket: Debian's python3-octavia
// HAProxyQuery (the heartbeat's show_stat() and get_pool_status(), plus show_info() and
// save_state()) run against our StatsServer, answering through the stats command table.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HealthChecker } from '../../proxy-core/health/checker.ts';
import { G, T } from '../../proxy-core/runtime/counters.ts';
import { statsCommand } from '../../proxy-core/stats/cli.ts';
import { RateSampler } from '../../proxy-core/stats/rates.ts';
import { showInfo } from '../../proxy-core/stats/show-info.ts';
import { StatsServer } from '../../proxy-core/stats/socket.ts';
import { closedPort, tcpMember, waitFor, type Member } from '../health/members.ts';
import { buildConfig, buildPlan, type LbSpec } from './fixture.ts';

const PYTHON = '/usr/bin/python3';
const QUERY_MODULE = '/usr/lib/python3/dist-packages/octavia/amphorae/backends/utils/haproxy_query.py';
const have = existsSync(PYTHON) && existsSync(QUERY_MODULE);

const LISTENER = 'a1b2c3d4-0000-4000-8000-000000000001';
const POOL = `a1b2c3d4-0000-4000-8000-000000000201:${LISTENER}`;
const LISTENER2 = 'a1b2c3d4-0000-4000-8000-000000000002';
const POOL2 = `a1b2c3d4-0000-4000-8000-000000000202:${LISTENER2}`;
const M = (n: number) => `a1b2c3d4-0000-4000-8000-00000000030${n}`;

const AGENT = `
import json, sys
from octavia.amphorae.backends.utils import haproxy_query
q = haproxy_query.HAProxyQuery(sys.argv[1])
out = {
    'stats': q.show_stat(),
    'pools': q.get_pool_status(),
    'info': q.show_info(),
    'saved': q.save_state(sys.argv[2]),
}
print(json.dumps(out))
`;

function agent(socket: string, stateFile: string): Promise<{ stats: Record<string, string>[]; pools: Record<string, { status: string; members: Record<string, string>; pool_uuid: string; listener_uuid: string }>; info: Record<string, string>; saved: boolean }> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', AGENT, socket, stateFile], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout));
    });
  });
}

describe.skipIf(!have)("Octavia's agent reading our stats socket", () => {
  let dir = '';
  const cleanup: (() => unknown)[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stats-octavia-'));
  });
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets listener stats, pool and member statuses (UP, DOWN, DRAIN, MAINT, no check) as from HAProxy', async () => {
    const live: Member = await tcpMember();
    cleanup.push(() => live.close());
    const dead = await closedPort();
    const spec: LbSpec = {
      maxconn: 50000,
      sections: [
        { kind: 'frontend', name: LISTENER, mode: 'http', binds: [['127.0.0.1', 8080]], maxconn: 10000, defaultBackend: POOL },
        {
          kind: 'backend',
          name: POOL,
          mode: 'http',
          fullconn: 10000,
          servers: [
            { name: M(1), port: live.port, check: { inter: 100 } },
            { name: M(2), port: dead, check: { inter: 100 } },
            { name: M(3), port: live.port, check: { inter: 100 } },
            { name: M(4), port: live.port, disabled: true, check: { inter: 100 } },
            { name: M(5), port: live.port },
          ],
        },
        { kind: 'frontend', name: LISTENER2, mode: 'tcp', binds: [['127.0.0.1', 8081]], defaultBackend: POOL2 },
        { kind: 'backend', name: POOL2, mode: 'tcp', servers: [{ name: M(6), port: dead, check: { inter: 100 } }] },
      ],
    };
    const sock = join(dir, 'lb.sock');
    const { plan, workers } = buildPlan(buildConfig(spec, sock), 2);
    const checker = new HealthChecker(plan);
    cleanup.push(() => checker.stop());
    const rates = new RateSampler(plan.counters);
    const info = { pid: process.pid, startedAt: Date.now() - 5000, nbthread: 2 };
    const server = new StatsServer(sock, 0o666, (cmd) => {
      const words = cmd.split(/\s+/).filter(Boolean);
      return statsCommand(words, { plan, checker, info, rates }) ?? 'Unknown command.\n';
    });
    await server.listen();
    cleanup.push(() => server.close());

    // Member 3 is UP with weight 0 (an operator drain): the agent reports DRAIN.
    const m3 = plan.backends[0]!.members[2]!;
    plan.counters.setGauge(m3.slot, G.weight, 0);
    checker.start();
    const be = plan.backends[0]!;
    expect(await waitFor(() => checker.status(be.members[1]!).checkStatus === 'L4CON' && checker.status(be.members[0]!).checkStatus === 'L4OK')).toBe(true);
    expect(await waitFor(() => checker.status(plan.backends[1]!.members[0]!).checkStatus === 'L4CON')).toBe(true);

    // Traffic as the workers count it.
    const fe = plan.frontends[0]!;
    workers[0]!.enter(fe.slot);
    workers[0]!.add(fe.slot, T.bin, 1200);
    workers[1]!.add(fe.slot, T.bout, 3400);
    workers[1]!.enter(fe.slot);
    workers[1]!.leave(fe.slot);
    workers[0]!.add(fe.slot, T.ereq, 2);

    const state = join(dir, 'servers-state');
    const got = await agent(sock, state);

    expect(got.pools).toEqual({
      [POOL]: {
        pool_uuid: POOL.split(':')[0],
        listener_uuid: LISTENER,
        status: 'UP',
        members: { [M(1)]: 'UP', [M(2)]: 'DOWN', [M(3)]: 'DRAIN', [M(4)]: 'MAINT', [M(5)]: 'no check' },
      },
      [POOL2]: { pool_uuid: POOL2.split(':')[0], listener_uuid: LISTENER2, status: 'DOWN', members: { [M(6)]: 'DOWN' } },
    });
    // The heartbeat's listener figures: FRONTEND rows, by column name.
    const fronts = got.stats.filter((r) => r.svname === 'FRONTEND');
    expect(fronts.map((r) => [r.pxname, r.status, r.scur, r.stot, r.bin, r.bout, r.ereq])).toEqual([
      [LISTENER, 'OPEN', '1', '2', '1200', '3400', '2'],
      [LISTENER2, 'OPEN', '0', '0', '0', '0', '0'],
    ]);
    expect(got.info.Pid).toBe(String(process.pid));
    expect(got.info.Nbthread).toBe('2');
    expect(got.info.CurrConns).toBe('0');
    expect(got.saved).toBe(true);
    const dump = readFileSync(state, 'utf8').split('\n');
    expect(dump[0]).toBe('1');
    expect(dump[1]).toMatch(/^# be_id be_name srv_id srv_name srv_addr srv_op_state /);
    expect(dump.slice(2).map((l) => l.split(' ').slice(1, 7).join(' '))).toEqual([
      `${POOL} 1 ${M(1)} 127.0.0.1 2 0`,
      `${POOL} 2 ${M(2)} 127.0.0.1 0 0`,
      `${POOL} 3 ${M(3)} 127.0.0.1 2 0`,
      `${POOL} 4 ${M(4)} 127.0.0.1 0 5`,
      `${POOL} 5 ${M(5)} 127.0.0.1 2 0`,
      `${POOL2} 1 ${M(6)} 127.0.0.1 0 0`,
    ]);
  });
});

describe('show info', () => {
  it("uses HAProxy's field names in HAProxy's order", () => {
    const { plan, workers } = buildPlan(buildConfig({ maxconn: 4000, sections: [{ kind: 'frontend', name: 'f', binds: [['127.0.0.1', 1], ['::1', 1]] }] }));
    workers[0]!.enter(0);
    workers[1]!.enter(0);
    workers[1]!.leave(0);
    const text = showInfo(plan, { pid: 4242, startedAt: Date.now() - 90_061_000, nbthread: 3 });
    const fields = Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
    expect(fields).toMatchObject({ Name: 'proxy-core', Nbthread: '3', Pid: '4242', Uptime: '1d 1h01m01s', Uptime_sec: '90061', Maxconn: '4000', CurrConns: '1', CumConns: '2', Listeners: '2' });
    // HAProxy 2.6.12's `show info` field order; ours is a subsequence of it.
    const haproxyOrder =
      'Name Version Release_date Nbthread Nbproc Process_num Pid Uptime Uptime_sec Memmax_MB PoolAlloc_MB PoolUsed_MB PoolFailed Ulimit-n Maxsock Maxconn Hard_maxconn CurrConns CumConns CumReq MaxSslConns CurrSslConns CumSslConns Maxpipes PipesUsed PipesFree ConnRate ConnRateLimit MaxConnRate SessRate SessRateLimit MaxSessRate SslRate SslRateLimit MaxSslRate SslFrontendKeyRate SslFrontendMaxKeyRate SslFrontendSessionReuse_pct SslBackendKeyRate SslBackendMaxKeyRate SslCacheLookups SslCacheMisses CompressBpsIn CompressBpsOut CompressBpsRateLim Tasks Run_queue Idle_pct node Stopping Jobs Unstoppable_Jobs Listeners ActivePeers ConnectedPeers DroppedLogs BusyPolling FailedResolutions TotalBytesOut TotalSplicdedBytesOut BytesOutRate DebugCommandsIssued CumRecvLogs Build_info Memmax_bytes PoolAlloc_bytes PoolUsed_bytes Start_time_sec Tainted'.split(' ');
    const positions = Object.keys(fields).map((k) => haproxyOrder.indexOf(k));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});
