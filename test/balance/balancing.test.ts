// Balancing over real loopback sockets: clients go through serveTcp(), members say their
// name, and the tests count what each member received.

import { afterEach, describe, expect, it } from 'vitest';
import { G, ServerState } from '../../proxy-core/runtime/counters.ts';
import { listen, options, server } from '../compile/fixtures.ts';
import { compile, exchange, hold, many, startMember, startProxy, stopAll, tally, until, type Member } from '../l4/harness.ts';

afterEach(stopAll);

const at = (m: Member, o: Parameters<typeof server>[3] = {}) => server(m.name, '127.0.0.1', m.port, o);

describe('roundrobin over sockets', () => {
  it('spreads 600 connections 1:2:3 by weight', async () => {
    const [a, b, c] = await Promise.all([startMember('a', 'greet'), startMember('b', 'greet'), startMember('c', 'greet')]);
    const proxy = await startProxy(listen('rr', [at(a, { weight: 1 }), at(b, { weight: 2 }), at(c, { weight: 3 })]));
    const replies = await many(600, 20, async () => (await exchange(proxy.port)).data);
    const t = tally(replies);
    expect(t.a! + t.b! + t.c!).toBe(600);
    for (const [name, share] of [['a', 100], ['b', 200], ['c', 300]] as const) {
      expect(Math.abs(t[name]! - share)).toBeLessThanOrEqual(share * 0.1);
    }
    expect([a.accepted, b.accepted, c.accepted]).toEqual([t.a, t.b, t.c]);
  });

  it('never sends to a disabled member or one marked down', async () => {
    const [a, b, c] = await Promise.all([startMember('a', 'greet'), startMember('b', 'greet'), startMember('c', 'greet')]);
    const proxy = await startProxy(listen('rr', [at(a), at(b, { disabled: true }), at(c)]));
    proxy.counters.setGauge(proxy.plan.backends[0]!.members[2]!.slot, G.state, ServerState.down);
    const replies = await many(12, 4, async () => (await exchange(proxy.port)).data);
    expect(tally(replies)).toEqual({ a: 12 });
    expect([b.accepted, c.accepted]).toEqual([0, 0]);
  });
});

describe('static-rr over sockets', () => {
  it('takes turns 1:3', async () => {
    const [a, b] = await Promise.all([startMember('a', 'greet'), startMember('b', 'greet')]);
    const proxy = await startProxy(listen('srr', [at(a, { weight: 1 }), at(b, { weight: 3 })], { algorithm: 'static-rr' }));
    const replies = await many(40, 1, async () => (await exchange(proxy.port)).data);
    expect(tally(replies)).toEqual({ a: 10, b: 30 });
  });
});

describe('first over sockets', () => {
  it('fills the first member up to its maxconn before using the second', async () => {
    const [one, two] = await Promise.all([startMember('one', 'hold'), startMember('two', 'hold')]);
    const proxy = await startProxy(listen('first', [at(one, { maxconn: 2 }), at(two, { maxconn: 2 })], { algorithm: 'first' }));
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push((await hold(proxy.port, 3)).data);
    expect(got).toEqual(['one', 'one', 'two']);
    expect([one.accepted, two.accepted]).toEqual([2, 1]);
  });
});

describe('leastconn over sockets', () => {
  it('shifts new connections away from a member holding its connections', async () => {
    const [slow, fast] = await Promise.all([startMember('slow', 'hold'), startMember('fast', 'greet')]);
    const proxy = await startProxy(listen('lc', [at(slow), at(fast)], { algorithm: 'leastconn' }));
    const fastMember = proxy.plan.backends[0]!.members[1]!;
    const held: string[] = [];
    for (let i = 0; i < 10; i++) {
      const seen = slow.accepted + fast.accepted;
      // Both names are 4 bytes: 'slow' stays open, 'fast' closes right after.
      held.push((await hold(proxy.port, 4)).data);
      await until(() => slow.accepted + fast.accepted > seen, 'the member to accept');
      await until(() => proxy.counters.gauge(fastMember.slot, G.scur) === 0, 'fast sessions to end');
    }
    // The slow member keeps its first connection: every later one goes to the idle member.
    expect(held.filter((n) => n === 'slow')).toHaveLength(1);
    expect(slow.accepted).toBe(1);
    expect(fast.accepted).toBe(9);
  });
});

describe('source over sockets', () => {
  it('keeps each client address on one member, the same one another thread would pick', async () => {
    const members = await Promise.all(['a', 'b', 'c'].map((n) => startMember(n, 'greet')));
    const cfg = listen('src', members.map((m) => at(m)), { algorithm: 'source' });
    const proxy = await startProxy(cfg);
    const clients = Array.from({ length: 12 }, (_, i) => `127.0.0.${i + 2}`);
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 5; round++) {
      const replies = await many(clients.length, 4, async (i) => (await exchange(proxy.port, { localAddress: clients[i] })).data);
      replies.forEach((r, i) => {
        const set = seen.get(clients[i]!) ?? new Set();
        set.add(r);
        seen.set(clients[i]!, set);
      });
    }
    for (const [client, set] of seen) expect([...set], client).toHaveLength(1);
    // A second plan compiled on its own from the same model, over the same shared counters.
    const other = compile(structuredClone(cfg), false, proxy.counters.buffer);
    for (const client of clients) {
      expect(other.backends[0]!.balancer.pick({ src: client })!.name).toBe([...seen.get(client)!][0]);
    }
    expect(new Set([...seen.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
  });
});

describe('backup members over sockets', () => {
  it('sends to the first backup only once no primary is usable', async () => {
    const [p, b1, b2] = await Promise.all([startMember('p', 'greet'), startMember('b1', 'greet'), startMember('b2', 'greet')]);
    const proxy = await startProxy(listen('bk', [at(b1, { backup: true }), at(p), at(b2, { backup: true })]));
    expect(tally(await many(6, 3, async () => (await exchange(proxy.port)).data))).toEqual({ p: 6 });
    proxy.counters.setGauge(proxy.plan.backends[0]!.members[1]!.slot, G.state, ServerState.down);
    expect(tally(await many(6, 3, async () => (await exchange(proxy.port)).data))).toEqual({ b1: 6 });
    expect(b2.accepted).toBe(0);
  });

  it('shares among all backups with option allbackups', async () => {
    const [p, b1, b2] = await Promise.all([startMember('p', 'greet'), startMember('b1', 'greet'), startMember('b2', 'greet')]);
    const proxy = await startProxy(
      listen('bk', [at(p), at(b1, { backup: true }), at(b2, { backup: true })], { options: options({ allbackups: true }) }),
    );
    proxy.counters.setGauge(proxy.plan.backends[0]!.members[0]!.slot, G.state, ServerState.down);
    expect(tally(await many(8, 1, async () => (await exchange(proxy.port)).data))).toEqual({ b1: 4, b2: 4 });
    expect(p.accepted).toBe(0);
  });
});
