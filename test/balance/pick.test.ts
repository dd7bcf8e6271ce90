// Balancers on their own: picks read straight from the shared gauges, no sockets.

import { describe, expect, it, vi } from 'vitest';
import type { BackendPlan, MemberPlan } from '../../proxy-core/compile/plan.ts';
import type { Backend, BalanceAlgorithm, Server } from '../../proxy-core/config/model.ts';
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

function count(names: readonly string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const n of names) t[n] = (t[n] ?? 0) + 1;
  return t;
}

/** The counters each test backend was compiled with. */
const countersOf = new WeakMap<BackendPlan, Counters>();

function build(algorithm: BalanceAlgorithm, servers: Server[], allbackups = false, hashType?: Backend['hashType']): BackendPlan {
  const plan = compile(listen('pool', servers, { algorithm, options: options({ allbackups }), hashType }));
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

/** Synthetic client addresses, alternately IPv4 (127.x.y.z) and IPv6 (2001:db8::/32). */
function clientsOf(n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2 ? `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : `2001:db8::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`,
  );
}

function pickAll(be: BackendPlan, clients: readonly string[], avoid?: MemberPlan): string[] {
  return clients.map((src) => be.balancer.pick({ src, avoid })?.name ?? '-');
}

/** Positions where two pick lists differ. */
function changed(before: readonly string[], after: readonly string[]): number[] {
  return before.flatMap((name, i) => (after[i] === name ? [] : [i]));
}

/** Positions of the clients that went to `name`. */
function on(picks: readonly string[], name: string): number[] {
  return picks.flatMap((n, i) => (n === name ? [i] : []));
}

/** Each member's share of the clients divided by its share of the weight (1 = exact). */
function shareByWeight(picks: readonly string[], weights: Record<string, number>): Record<string, number> {
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  const seen = count(picks);
  return Object.fromEntries(Object.entries(weights).map(([n, w]) => [n, (seen[n] ?? 0) / picks.length / (w / total)]));
}

const FUNCTIONS = ['sdbm', 'djb2', 'wt6', 'crc32'] as const;
const CONSISTENT: Backend['hashType'] = { method: 'consistent' };

describe('source hash-type map-based', () => {
  const clients = clientsOf(2000);

  it('follows the configured function: the member is the hash modulo the total weight', () => {
    const servers = [s('a'), s('b', { weight: 2 }), s('c')];
    const runs = new Set<string>();
    for (const fn of FUNCTIONS) {
      for (const avalanche of [false, true]) {
        const be = build('source', servers, false, { method: 'map-based', function: fn, modifier: avalanche ? 'avalanche' : undefined });
        // Weight runs in config order: a owns 0, b owns 1 and 2, c owns 3.
        const want = clients.map((src) => 'abbc'[hashAddress(src, { method: 'map-based', fn, avalanche }) % 4]!);
        const got = pickAll(be, clients);
        expect(got, `${fn} ${avalanche}`).toEqual(want);
        runs.add(got.join());
      }
    }
    expect(runs.size).toBe(FUNCTIONS.length * 2);
  });

  it('spreads clients by configured weight', () => {
    const be = build('source', [s('a', { weight: 1 }), s('b', { weight: 2 }), s('c', { weight: 3 })]);
    for (const [name, ratio] of Object.entries(shareByWeight(pickAll(be, clientsOf(6000)), { a: 1, b: 2, c: 3 }))) {
      expect(ratio, name).toBeGreaterThan(0.95);
      expect(ratio, name).toBeLessThan(1.05);
    }
  });

  it('moves clients between members that stayed up when one goes down, unlike consistent', () => {
    for (const hashType of [undefined, CONSISTENT]) {
      const be = build('source', [s('a'), s('b'), s('c'), s('d')], false, hashType);
      const before = pickAll(be, clients);
      setState(be, be.members[1]!, ServerState.down);
      const strays = changed(before, pickAll(be, clients)).filter((i) => before[i] !== 'b');
      if (hashType === undefined) expect(strays.length).toBeGreaterThan(clients.length / 4);
      else expect(strays).toEqual([]);
    }
  });
});

describe('source hash-type consistent', () => {
  const clients = clientsOf(2000);

  it('spreads clients by weight within tolerance', () => {
    const small = build('source', [s('a', { weight: 1 }), s('b', { weight: 2 }), s('c', { weight: 3 })], false, CONSISTENT);
    for (const [name, ratio] of Object.entries(shareByWeight(pickAll(small, clientsOf(12000)), { a: 1, b: 2, c: 3 }))) {
      expect(ratio, name).toBeGreaterThan(0.75);
      expect(ratio, name).toBeLessThan(1.25);
    }
    // More weight, more points on the ring: smoother.
    const large = build('source', [s('a', { weight: 10 }), s('b', { weight: 20 }), s('c', { weight: 30 })], false, CONSISTENT);
    for (const [name, ratio] of Object.entries(shareByWeight(pickAll(large, clientsOf(12000)), { a: 10, b: 20, c: 30 }))) {
      expect(ratio, name).toBeGreaterThan(0.88);
      expect(ratio, name).toBeLessThan(1.12);
    }
  });

  it('moves only the clients of a member that goes down, and gives them back when it returns', () => {
    for (const fn of [undefined, ...FUNCTIONS]) {
      const hashType: Backend['hashType'] = { method: 'consistent', function: fn, modifier: fn === undefined ? undefined : 'avalanche' };
      const be = build('source', [s('a'), s('b'), s('c'), s('d')], false, hashType);
      const before = pickAll(be, clients);
      const ofB = on(before, 'b');
      expect(ofB.length, fn).toBeGreaterThan(0);
      setState(be, be.members[1]!, ServerState.down);
      const during = pickAll(be, clients);
      expect(changed(before, during), fn).toEqual(ofB);
      expect(new Set(ofB.map((i) => during[i])).size, fn).toBeGreaterThan(1);
      setState(be, be.members[1]!, ServerState.up);
      expect(pickAll(be, clients), fn).toEqual(before);
    }
  });

  it('gives a member that comes up only clients that move to it', () => {
    const be = build('source', [s('a'), s('b'), s('c'), s('d', { weight: 2 })], false, CONSISTENT);
    setState(be, be.members[3]!, ServerState.maint);
    const before = pickAll(be, clients);
    expect(before).not.toContain('d');
    setState(be, be.members[3]!, ServerState.up);
    const after = pickAll(be, clients);
    expect(changed(before, after)).toEqual(on(after, 'd'));
    expect(on(after, 'd').length).toBeGreaterThan(clients.length / 5);
  });

  it('moves only the clients a member added to the config takes', () => {
    const three = build('source', [s('a'), s('b'), s('c')], false, CONSISTENT);
    const four = build('source', [s('a'), s('b'), s('c'), s('d')], false, CONSISTENT);
    const before = pickAll(three, clients);
    const after = pickAll(four, clients);
    expect(changed(before, after)).toEqual(on(after, 'd'));
    expect(on(after, 'd').length).toBeGreaterThan(clients.length / 8);
  });

  it('follows an effective weight change, moving clients only to or from that member', () => {
    const be = build('source', [s('a'), s('b'), s('c')], false, CONSISTENT);
    const before = pickAll(be, clients);
    gauges(be).setGauge(be.members[0]!.slot, G.weight, 3);
    const heavier = pickAll(be, clients);
    expect(changed(before, heavier).every((i) => heavier[i] === 'a')).toBe(true);
    expect(on(heavier, 'a').length).toBeGreaterThan(on(before, 'a').length + clients.length / 10);
    gauges(be).setGauge(be.members[0]!.slot, G.weight, 1);
    expect(pickAll(be, clients)).toEqual(before);
  });

  it('sends a redispatched request where the client would land without the failed member', () => {
    const be = build('source', [s('a'), s('b'), s('c')], false, CONSISTENT);
    const b = be.members[1]!;
    const avoiding = pickAll(be, clients, b);
    setState(be, b, ServerState.down);
    expect(avoiding).toEqual(pickAll(be, clients));
    // The failed member alone: it is the answer again.
    setState(be, b, ServerState.up);
    setState(be, be.members[0]!, ServerState.down);
    setState(be, be.members[2]!, ServerState.down);
    expect(be.balancer.pick({ src: '127.0.0.9', avoid: b })).toBe(b);
  });

  it('sends a client to the same member from plans compiled on their own over shared states', () => {
    const cfg = listen('pool', [s('a'), s('b', { weight: 3 }), s('c'), s('d')], { algorithm: 'source', hashType: CONSISTENT });
    const one = compile(cfg);
    const two = compile(structuredClone(cfg), false, one.counters.buffer);
    const [p1, p2] = [one.backends[0]!, two.backends[0]!];
    expect(pickAll(p2, clients)).toEqual(pickAll(p1, clients));
    one.counters.setGauge(p1.members[2]!.slot, G.state, ServerState.down);
    expect(pickAll(p2, clients)).toEqual(pickAll(p1, clients));
    expect(pickAll(p1, clients)).not.toContain('c');
  });

  it('rebuilds its ring only when the usable members or their weights change', () => {
    const be = build('source', [s('a'), s('b'), s('c')], false, CONSISTENT);
    const sort = vi.spyOn(Float64Array.prototype, 'sort');
    try {
      pickAll(be, clients);
      pickAll(be, clients);
      expect(sort).toHaveBeenCalledTimes(1);
      setState(be, be.members[1]!, ServerState.down);
      pickAll(be, clients);
      gauges(be).setGauge(be.members[0]!.slot, G.weight, 2);
      pickAll(be, clients);
      gauges(be).setGauge(be.members[1]!.slot, G.weight, 5); // down: not on the ring either way
      pickAll(be, clients);
      expect(sort).toHaveBeenCalledTimes(3);
    } finally {
      sort.mockRestore();
    }
  });

  it('waits for a full member rather than breaking stickiness', () => {
    const be = build('source', [s('a', { maxconn: 1 }), s('b', { maxconn: 1 })], false, CONSISTENT);
    const src = clients.find((x) => be.balancer.pick({ src: x })!.name === 'a')!;
    gauges(be).setGauge(be.members[0]!.slot, G.scur, 1);
    expect(be.balancer.pick({ src })).toBeUndefined();
  });

  it('uses backups only when no primary is usable, all of them with allbackups', () => {
    const servers = [s('p'), s('b1', { backup: true }), s('b2', { backup: true })];
    for (const allbackups of [false, true]) {
      const be = build('source', servers, allbackups, CONSISTENT);
      expect(new Set(pickAll(be, clients))).toEqual(new Set(['p']));
      setState(be, be.members[0]!, ServerState.down);
      expect(new Set(pickAll(be, clients))).toEqual(new Set(allbackups ? ['b1', 'b2'] : ['b1']));
      setState(be, be.members[0]!, ServerState.up);
      expect(new Set(pickAll(be, clients))).toEqual(new Set(['p']));
    }
  });
});

describe('source hash-type, either method', () => {
  it('gives a dual-stack client one member whichever form its address takes', () => {
    const v4 = clientsOf(400).filter((c) => c.startsWith('127.'));
    for (const method of ['map-based', 'consistent'] as const) {
      for (const fn of FUNCTIONS) {
        const be = build('source', [s('a'), s('b'), s('c')], false, { method, function: fn });
        expect(pickAll(be, v4.map((c) => `::ffff:${c}`)), `${method} ${fn}`).toEqual(pickAll(be, v4));
      }
    }
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
