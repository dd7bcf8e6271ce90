// Balancers on their own: picks read straight from the shared gauges, no sockets.

import { describe, expect, it } from 'vitest';
import type { BackendPlan, MemberPlan } from '../../proxy-core/compile/plan.ts';
import type { BalanceAlgorithm, Server } from '../../proxy-core/config/model.ts';
import { type Counters, G, ServerState } from '../../proxy-core/runtime/counters.ts';
import { hashAddress } from '../../proxy-core/balance/source.ts';
import { compile } from '../l4/harness.ts';
import { listen, options, server } from '../compile/fixtures.ts';

const s = (name: string, o: Partial<Server> = {}) => server(name, '127.0.0.1', 1000, o);

function picks(be: BackendPlan, n: number, src = '192.0.2.1'): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(be.balancer.pick({ src })?.name ?? '-');
  return out;
}

function count(names: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const n of names) t[n] = (t[n] ?? 0) + 1;
  return t;
}

/** The counters each test backend was compiled with. */
const countersOf = new WeakMap<BackendPlan, Counters>();

function build(algorithm: BalanceAlgorithm, servers: Server[], allbackups = false): BackendPlan {
  const plan = compile(listen('pool', servers, { algorithm, options: options({ allbackups }) }));
  const be = plan.backends[0]!;
  countersOf.set(be, plan.counters);
  return be;
}

function gauges(be: BackendPlan): Counters {
  return countersOf.get(be)!;
}

function setState(be: BackendPlan, m: MemberPlan, state: number): void {
  gauges(be).setGauge(m.slot, G.state, state);
}

describe('roundrobin', () => {
  it('spreads picks by weight, interleaved', () => {
    const be = build('roundrobin', [s('a', { weight: 1 }), s('b', { weight: 2 }), s('c', { weight: 3 })]);
    const seq = picks(be, 600);
    expect(count(seq)).toEqual({ a: 100, b: 200, c: 300 });
    // Smooth: c never takes more than 2 turns in a row with these weights.
    expect(seq.join('')).not.toMatch(/ccc/);
  });

  it('follows weight changes written to the gauge', () => {
    const be = build('roundrobin', [s('a'), s('b')]);
    expect(count(picks(be, 100))).toEqual({ a: 50, b: 50 });
    gauges(be).setGauge(be.members[1]!.slot, G.weight, 3);
    expect(count(picks(be, 400))).toEqual({ a: 100, b: 300 });
  });

  it('skips members that are down, in maintenance or at weight 0', () => {
    const be = build('roundrobin', [s('a'), s('b'), s('c'), s('d', { disabled: true })]);
    setState(be, be.members[0]!, ServerState.down);
    gauges(be).setGauge(be.members[2]!.slot, G.weight, 0);
    expect(count(picks(be, 10))).toEqual({ b: 10 });
  });

  it('skips members at maxconn and answers nothing when all are full', () => {
    const be = build('roundrobin', [s('a', { maxconn: 1 }), s('b', { maxconn: 2 })]);
    const c = gauges(be);
    c.setGauge(be.members[0]!.slot, G.scur, 1);
    expect(count(picks(be, 4))).toEqual({ b: 4 });
    c.setGauge(be.members[1]!.slot, G.scur, 2);
    expect(picks(be, 1)).toEqual(['-']);
  });

  it('avoids the member that just failed when another can take it', () => {
    const be = build('roundrobin', [s('a'), s('b')]);
    const [a, b] = be.members as [MemberPlan, MemberPlan];
    for (let i = 0; i < 4; i++) expect(be.balancer.pick({ src: 'x', avoid: a })).toBe(b);
    setState(be, b, ServerState.down);
    expect(be.balancer.pick({ src: 'x', avoid: a })).toBe(a);
  });
});

describe('static-rr', () => {
  it('takes turns by configured weight and ignores weight changes other than 0', () => {
    const be = build('static-rr', [s('a', { weight: 1 }), s('b', { weight: 2 })]);
    expect(count(picks(be, 30))).toEqual({ a: 10, b: 20 });
    gauges(be).setGauge(be.members[0]!.slot, G.weight, 50);
    expect(count(picks(be, 30))).toEqual({ a: 10, b: 20 });
    gauges(be).setGauge(be.members[0]!.slot, G.weight, 0);
    expect(count(picks(be, 30))).toEqual({ b: 30 });
  });
});

describe('first', () => {
  it('fills members in id order up to their maxconn', () => {
    const be = build('first', [s('late', { id: 9, maxconn: 2 }), s('early', { id: 3, maxconn: 2 })]);
    const c = gauges(be);
    const [late, early] = be.members as [MemberPlan, MemberPlan];
    expect(picks(be, 3)).toEqual(['early', 'early', 'early']); // picks do not count: scur unchanged
    c.setGauge(early.slot, G.scur, 2);
    expect(picks(be, 2)).toEqual(['late', 'late']);
    c.setGauge(late.slot, G.scur, 2);
    expect(picks(be, 1)).toEqual(['-']);
    c.setGauge(early.slot, G.scur, 1);
    expect(picks(be, 1)).toEqual(['early']);
  });
});

describe('leastconn', () => {
  it('picks the member with the fewest sessions of all threads, round robin among equals', () => {
    const be = build('leastconn', [s('a'), s('b'), s('c')]);
    const c = gauges(be);
    expect(picks(be, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    c.setGauge(be.members[0]!.slot, G.scur, 5);
    c.setGauge(be.members[1]!.slot, G.scur, 2);
    c.setGauge(be.members[2]!.slot, G.scur, 3);
    expect(picks(be, 3)).toEqual(['b', 'b', 'b']);
  });

  it('weighs sessions by weight', () => {
    const be = build('leastconn', [s('a', { weight: 1 }), s('b', { weight: 4 })]);
    const c = gauges(be);
    c.setGauge(be.members[0]!.slot, G.scur, 2);
    c.setGauge(be.members[1]!.slot, G.scur, 6); // 6/4 < 2/1
    expect(picks(be, 1)).toEqual(['b']);
  });
});

describe('source', () => {
  const clients = Array.from({ length: 64 }, (_, i) => `10.1.${i >> 4}.${i * 7}`);

  it('sends a client to the same member from independently compiled plans', () => {
    const servers = [s('a'), s('b', { weight: 2 }), s('c')];
    const one = build('source', servers);
    const two = build('source', servers);
    const mapped = clients.map((src) => one.balancer.pick({ src })!.name);
    expect(clients.map((src) => two.balancer.pick({ src })!.name)).toEqual(mapped);
    expect(clients.map((src) => one.balancer.pick({ src })!.name)).toEqual(mapped);
    expect(new Set(mapped).size).toBe(3);
  });

  it('hashes an IPv4-mapped IPv6 address like the IPv4 address', () => {
    expect(hashAddress('::ffff:192.0.2.7')).toBe(hashAddress('192.0.2.7'));
    expect(hashAddress('192.0.2.7')).not.toBe(hashAddress('192.0.2.8'));
  });

  it('moves only to usable members when one goes down, and back when it returns', () => {
    const be = build('source', [s('a'), s('b'), s('c')]);
    const before = clients.map((src) => be.balancer.pick({ src })!.name);
    setState(be, be.members[1]!, ServerState.down);
    const during = clients.map((src) => be.balancer.pick({ src })!.name);
    expect(during).not.toContain('b');
    setState(be, be.members[1]!, ServerState.noCheck);
    expect(clients.map((src) => be.balancer.pick({ src })!.name)).toEqual(before);
  });

  it('waits for a full member rather than breaking stickiness', () => {
    const be = build('source', [s('a', { maxconn: 1 }), s('b', { maxconn: 1 })]);
    const src = clients.find((x) => be.balancer.pick({ src: x })!.name === 'a')!;
    gauges(be).setGauge(be.members[0]!.slot, G.scur, 1);
    expect(be.balancer.pick({ src })).toBeUndefined();
    expect(be.balancer.perRequest).toBe(true);
  });
});

describe('backups', () => {
  it('uses backups only when no primary is usable, the first one without allbackups', () => {
    const be = build('roundrobin', [s('p1'), s('b1', { backup: true }), s('p2'), s('b2', { backup: true })]);
    expect(count(picks(be, 4))).toEqual({ p1: 2, p2: 2 });
    setState(be, be.members[0]!, ServerState.down);
    expect(count(picks(be, 4))).toEqual({ p2: 4 });
    setState(be, be.members[2]!, ServerState.maint);
    expect(count(picks(be, 4))).toEqual({ b1: 4 });
    setState(be, be.members[1]!, ServerState.down);
    expect(count(picks(be, 4))).toEqual({ b2: 4 });
  });

  it('shares the load among all usable backups with allbackups', () => {
    for (const algorithm of ['roundrobin', 'static-rr', 'leastconn'] as const) {
      const be = build(algorithm, [s('p1'), s('b1', { backup: true }), s('b2', { backup: true })], true);
      setState(be, be.members[0]!, ServerState.down);
      expect(count(picks(be, 4)), algorithm).toEqual({ b1: 2, b2: 2 });
    }
  });

  it('never picks a disabled member, backup or not', () => {
    for (const algorithm of ['roundrobin', 'static-rr', 'leastconn', 'first', 'source'] as const) {
      const be = build(algorithm, [s('off', { disabled: true }), s('bk-off', { backup: true, disabled: true })], true);
      expect(picks(be, 3), algorithm).toEqual(['-', '-', '-']);
    }
  });
});
