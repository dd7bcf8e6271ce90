// The checker's state machine against real loopback members: rise/fall with HAProxy's
// transitional statuses, what is written to the shared gauges and counters, maintenance
// respected, reload carry-over, and a prompt, complete stop().

import { afterEach, describe, expect, it } from 'vitest';
import { HealthChecker } from '../../proxy-core/health/checker.ts';
import { G, ServerState, T } from '../../proxy-core/runtime/counters.ts';
import { serverStatus } from '../../proxy-core/stats/show-stat.ts';
import type { MemberPlan, Plan } from '../../proxy-core/compile/plan.ts';
import { buildConfig, buildPlan, type BeSpec } from '../stats/fixture.ts';
import { closedPort, httpMember, tcpMember, waitFor, type Member } from './members.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function start(be: Omit<BeSpec, 'kind'>): { plan: Plan; checker: HealthChecker; m: (name: string) => MemberPlan } {
  const { plan } = buildPlan(buildConfig({ sections: [{ kind: 'backend', ...be }] }));
  const checker = new HealthChecker(plan);
  cleanup.push(() => checker.stop());
  return { plan, checker, m: (name) => plan.backends[0]!.members.find((x) => x.name === name)! };
}

async function member(kind: () => Promise<Member>): Promise<Member> {
  const m = await kind();
  cleanup.push(() => m.close());
  return m;
}

const statusOf = (plan: Plan, checker: HealthChecker, m: MemberPlan) =>
  serverStatus(m, plan.counters.gauge(m.slot, G.state), checker.status(m));

/** Record the status string after every check of `m`, consecutive repeats folded. */
function record(plan: Plan, checker: HealthChecker, m: MemberPlan): string[] {
  const seen: string[] = [];
  checker.onCheck = (x, h) => {
    if (x !== m) return;
    const s = serverStatus(x, plan.counters.gauge(x.slot, G.state), h);
    if (seen.at(-1) !== s) seen.push(s);
  };
  return seen;
}

describe('rise and fall', () => {
  it('a member that stops listening goes DOWN after `fall` failed checks and UP again after `rise` passed ones', async () => {
    const live = await tcpMember();
    const port = live.port;
    const { plan, checker, m } = start({ name: 'be', servers: [{ name: 'm1', port, check: { inter: 100, rise: 2, fall: 3 } }] });
    const m1 = m('m1');
    // Before any check: UP, but one failure from DOWN, as HAProxy starts a server.
    expect(statusOf(plan, checker, m1)).toBe('UP 1/3');
    expect(checker.status(m1).checkStatus).toBe('INI');
    expect(plan.counters.gauge(m1.slot, G.state)).toBe(ServerState.up);

    const seen = record(plan, checker, m1);
    checker.start();
    expect(await waitFor(() => seen.includes('UP'))).toBe(true);
    expect(checker.status(m1).checkStatus).toBe('L4OK');
    expect(plan.counters.gauge(m1.slot, G.health)).toBe(4);

    await live.close();
    expect(await waitFor(() => seen.at(-1) === 'DOWN')).toBe(true);
    expect(seen).toEqual(['UP', 'UP 2/3', 'UP 1/3', 'DOWN']);
    expect(plan.counters.gauge(m1.slot, G.state)).toBe(ServerState.down);
    expect(plan.counters.sum(m1.slot, T.chkfail)).toBe(3);
    expect(plan.counters.sum(m1.slot, T.chkdown)).toBe(1);
    const h = checker.status(m1);
    expect([h.checkStatus, h.info]).toEqual(['L4CON', 'Connection refused']);
    // The whole backend is down too, and counted once.
    expect(checker.backendStatus(plan.backends[0]!).down).toBe(true);
    expect(plan.counters.sum(plan.backends[0]!.slot, T.chkdown)).toBe(1);

    const back = await member(() => tcpMember(port));
    expect(await waitFor(() => seen.at(-1) === 'UP')).toBe(true);
    expect(seen.slice(3)).toEqual(['DOWN', 'DOWN 1/2', 'UP']);
    expect(plan.counters.gauge(m1.slot, G.state)).toBe(ServerState.up);
    // Failures while DOWN are not chkfail.
    expect(plan.counters.sum(m1.slot, T.chkfail)).toBe(3);
    expect(back.connections).toBeGreaterThanOrEqual(2);
    expect(checker.backendStatus(plan.backends[0]!).down).toBe(false);
  });

  it('a member that never answers goes DOWN at its first failure, as HAProxy starts servers', async () => {
    const port = await closedPort();
    const { plan, checker, m } = start({ name: 'be', servers: [{ name: 'dead', port, check: { inter: 100 } }] });
    const seen = record(plan, checker, m('dead'));
    checker.start();
    expect(await waitFor(() => seen.length > 0)).toBe(true);
    expect(seen[0]).toBe('DOWN');
    expect(plan.counters.sum(m('dead').slot, T.chkfail)).toBe(1);
  });

  it('probes the `addr`/`port` override instead of the traffic address', async () => {
    const checkPort = await member(() => tcpMember());
    const { plan, checker, m } = start({
      name: 'be',
      servers: [{ name: 'm1', port: await closedPort(), check: { inter: 100, addr: '127.0.0.1', port: checkPort.port } }],
    });
    const seen = record(plan, checker, m('m1'));
    checker.start();
    expect(await waitFor(() => seen.includes('UP'))).toBe(true);
    expect(checkPort.connections).toBeGreaterThan(0);
  });
});

describe('maintenance', () => {
  it('never probes a disabled member and leaves its MAINT state alone', async () => {
    const target = await member(() => tcpMember());
    const other = await member(() => tcpMember());
    const { plan, checker, m } = start({
      name: 'be',
      servers: [
        { name: 'off', port: target.port, disabled: true, check: { inter: 50 } },
        { name: 'on', port: other.port, check: { inter: 50 } },
      ],
    });
    checker.start();
    expect(await waitFor(() => other.connections >= 3)).toBe(true);
    expect(target.connections).toBe(0);
    expect(plan.counters.gauge(m('off').slot, G.state)).toBe(ServerState.maint);
    expect(statusOf(plan, checker, m('off'))).toBe('MAINT');
    expect(checker.status(m('off')).checkStatus).toBe('');
  });

  it('keeps checking a drained member but never overwrites the drain state', async () => {
    const port = await closedPort();
    const { plan, checker, m } = start({ name: 'be', servers: [{ name: 'd', port, check: { inter: 50, fall: 1 } }] });
    plan.counters.setGauge(m('d').slot, G.state, ServerState.drain);
    const seen = record(plan, checker, m('d'));
    checker.start();
    expect(await waitFor(() => checker.status(m('d')).checkStatus === 'L4CON')).toBe(true);
    expect(checker.status(m('d')).running).toBe(false);
    expect(plan.counters.gauge(m('d').slot, G.state)).toBe(ServerState.drain);
    expect(seen).toEqual(['DRAIN']);
  });
});

describe('reload', () => {
  it('a new checker takes over the state, health and last change of members with the same names', async () => {
    const dead = await closedPort();
    const live = await member(() => tcpMember());
    const spec = {
      name: 'pool:listener',
      servers: [
        { name: 'dead', port: dead, check: { inter: 100 } },
        { name: 'live', port: live.port, check: { inter: 100 } },
      ],
    };
    const one = start(spec);
    one.checker.start();
    expect(await waitFor(() => one.checker.status(one.m('dead')).checkStatus === 'L4CON')).toBe(true);
    expect(await waitFor(() => one.checker.status(one.m('live')).checkStatus === 'L4OK')).toBe(true);
    const before = one.checker.status(one.m('dead'));

    // The new generation adds a member; the others keep their names.
    const { plan } = buildPlan(buildConfig({ sections: [{ kind: 'backend', ...spec, servers: [...spec.servers, { name: 'new', port: live.port, check: { inter: 100 } }] }] }));
    const two = new HealthChecker(plan, one.checker);
    cleanup.push(() => two.stop());
    one.checker.stop();
    const m2 = (n: string) => plan.backends[0]!.members.find((x) => x.name === n)!;
    expect(statusOf(plan, two, m2('dead'))).toBe('DOWN');
    expect(plan.counters.gauge(m2('dead').slot, G.state)).toBe(ServerState.down);
    expect(two.status(m2('dead')).lastChange).toBe(before.lastChange);
    expect(two.status(m2('dead')).checkStatus).toBe('L4CON');
    expect(statusOf(plan, two, m2('live'))).toBe('UP');
    expect(statusOf(plan, two, m2('new'))).toBe('UP 1/3');
  });
});

describe('stop', () => {
  it('cancels timers, sockets and running probes at once, and probes nothing afterwards', async () => {
    const silent = await member(() => tcpMember());
    const http = await member(() => httpMember(() => 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    const typeCount = (t: string) => process.getActiveResourcesInfo().filter((r) => r === t).length;
    const baseline = { sockets: typeCount('TCPSocketWrap'), timers: typeCount('Timeout') };

    const { plan } = buildPlan(
      buildConfig({
        sections: [
          { kind: 'backend', name: 'hang', mode: 'http', options: { httpchk: { method: 'GET', uri: '/', version: 'HTTP/1.0', headers: [] } }, timeouts: { check: 30_000 }, servers: [{ name: 's', port: silent.port, check: { inter: 50 } }] },
          { kind: 'backend', name: 'ok', mode: 'http', options: { httpchk: { method: 'GET', uri: '/', version: 'HTTP/1.0', headers: [] } }, servers: [{ name: 'h', port: http.port, check: { inter: 20 } }] },
        ],
      }),
    );
    const checker = new HealthChecker(plan);
    checker.start();
    // The silent member holds a check open (it never answers).
    expect(await waitFor(() => silent.connections === 1 && http.connections >= 2)).toBe(true);
    expect(checker.status(plan.backends[0]!.members[0]!).inProgress).toBe(true);

    checker.stop();
    await checker.settled();
    expect(checker.status(plan.backends[0]!.members[0]!).inProgress).toBe(false);
    // Every socket of ours is gone (the members' ends close as they see it) and no timer is left.
    expect(await waitFor(() => typeCount('TCPSocketWrap') <= baseline.sockets, 2000)).toBe(true);
    expect(typeCount('Timeout')).toBeLessThanOrEqual(baseline.timers);
    const counts = [silent.connections, http.connections];
    await new Promise((r) => setTimeout(r, 200));
    expect([silent.connections, http.connections]).toEqual(counts);
  });
});
