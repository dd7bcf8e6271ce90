// Server-side session setup: retries, redispatch, maxconn queueing, queue timeout, abort.

import { afterEach, describe, expect, it } from 'vitest';
import { endSession, openSession } from '../../proxy-core/balance/session.ts';
import { G, ServerState, T } from '../../proxy-core/runtime/counters.ts';
import { listen, options, server } from '../compile/fixtures.ts';
import { closedPort, compile, exchange, hold, startMember, startProxy, stopAll, until, type Member } from '../l4/harness.ts';

afterEach(stopAll);

const at = (m: Member, o: Parameters<typeof server>[3] = {}) => server(m.name, '127.0.0.1', m.port, o);

describe('connect failures', () => {
  it('retries the refusing member, then redispatches the last try to another one', async () => {
    const alive = await startMember('alive', 'greet');
    const dead = server('dead', '127.0.0.1', await closedPort());
    const proxy = await startProxy(
      listen('r', [dead, at(alive)], { retries: 2, options: options({ redispatch: true }), timeouts: { connect: 50 } }),
    );
    const be = proxy.plan.backends[0]!;
    const c = proxy.counters;
    // Round robin starts on 'dead': two tries there, the third goes to 'alive'.
    expect((await exchange(proxy.port)).data).toBe('alive');
    expect(alive.accepted).toBe(1);
    expect([c.sum(be.slot, T.wretr), c.sum(be.slot, T.wredis), c.sum(be.slot, T.econ)]).toEqual([1, 1, 0]);
    expect([c.sum(be.members[0]!.slot, T.wretr), c.sum(be.members[0]!.slot, T.wredis)]).toEqual([1, 1]);
    expect(c.sum(be.slot, T.lbtot)).toBe(2);
    await until(() => c.gauge(be.slot, G.scur) === 0, 'backend sessions to end');
    expect(c.gauge(be.members[0]!.slot, G.scur)).toBe(0);
  });

  it('gives up after retries without redispatch, counting one connection error', async () => {
    const alive = await startMember('alive', 'greet');
    const dead = server('dead', '127.0.0.1', await closedPort());
    const proxy = await startProxy(listen('r', [dead, at(alive)], { retries: 2, timeouts: { connect: 50 } }));
    const be = proxy.plan.backends[0]!;
    const c = proxy.counters;
    expect((await exchange(proxy.port)).data).toBe('');
    expect(alive.accepted).toBe(0);
    expect([c.sum(be.slot, T.wretr), c.sum(be.slot, T.wredis), c.sum(be.slot, T.econ)]).toEqual([2, 0, 1]);
    expect(c.sum(be.members[0]!.slot, T.econ)).toBe(1);
    expect([c.gauge(be.slot, G.scur), c.gauge(be.members[0]!.slot, G.scur)]).toEqual([0, 0]);
    // The next connection is balanced to the live member.
    expect((await exchange(proxy.port)).data).toBe('alive');
  });

  it('answers connect-failed directly with retries 0', async () => {
    const plan = compile(listen('r', [server('dead', '127.0.0.1', await closedPort())], { retries: 0 }));
    const r = await openSession(plan.backends[0]!, { src: '127.0.0.1' }, plan.counters);
    expect(r).toEqual({ error: 'connect-failed' });
    expect(plan.counters.sum(plan.backends[0]!.slot, T.econ)).toBe(1);
  });

  it('fails the attempt, not the thread, for a member without port when the client port is unknown', async () => {
    const plan = compile(listen('p', [server('m', '127.0.0.1', undefined)], { retries: 0 }));
    expect(await openSession(plan.backends[0]!, { src: '127.0.0.1' }, plan.counters)).toEqual({ error: 'connect-failed' });
    expect(plan.counters.gauge(plan.backends[0]!.members[0]!.slot, G.scur)).toBe(0);
  });

  it('uses the client\'s destination port for a member written without one', async () => {
    const m = await startMember('m', 'greet');
    const plan = compile(listen('p', [server('m', '127.0.0.1', undefined)]));
    const r = await openSession(plan.backends[0]!, { src: '127.0.0.1', dstPort: m.port }, plan.counters);
    if ('error' in r) throw new Error(r.error);
    expect(r.reused).toBe(false);
    expect(r.socket.remotePort).toBe(m.port);
    r.socket.destroy();
    endSession(r.member, plan.counters);
  });
});

describe('no member', () => {
  it('answers no-server when nothing is usable, holding nothing', async () => {
    const plan = compile(listen('n', [server('a', '127.0.0.1', 1, { disabled: true })]));
    expect(await openSession(plan.backends[0]!, { src: '127.0.0.1' }, plan.counters)).toEqual({ error: 'no-server' });
    expect(plan.counters.gauge(plan.backends[0]!.slot, G.qcur)).toBe(0);
  });

  it('closes a tcp client that gets no member', async () => {
    const m = await startMember('m', 'greet');
    const proxy = await startProxy(listen('n', [at(m)]));
    proxy.counters.setGauge(proxy.plan.backends[0]!.members[0]!.slot, G.state, ServerState.down);
    expect((await exchange(proxy.port, { send: 'hello' })).data).toBe('');
    expect(m.accepted).toBe(0);
  });

  it('hands back a pooled connection when the pool has one', async () => {
    const m = await startMember('m', 'hold');
    const plan = compile(listen('p', [at(m)]));
    const member = plan.backends[0]!.members[0]!;
    const { sock } = await hold(m.port, 1); // any connected socket will do as the "pooled" one
    const r = await openSession(plan.backends[0]!, { src: '127.0.0.1' }, plan.counters, (x) => (x === member ? sock : undefined));
    expect(r).toMatchObject({ member, socket: sock, reused: true });
    expect(plan.counters.gauge(member.slot, G.scur)).toBe(1);
    endSession(member, plan.counters);
    expect(plan.counters.gauge(member.slot, G.scur)).toBe(0);
  });
});

describe('maxconn queue', () => {
  it('queues past maxconn and serves the waiter when a slot frees', async () => {
    const m = await startMember('m', 'hold');
    const proxy = await startProxy(listen('q', [at(m, { maxconn: 1 })], { timeouts: { connect: 1000, queue: 10000 } }));
    const be = proxy.plan.backends[0]!;
    const first = await hold(proxy.port, 1);
    const second = hold(proxy.port, 1);
    await until(() => proxy.counters.gauge(be.slot, G.qcur) === 1, 'the second connection to queue');
    expect(m.accepted).toBe(1);
    first.sock.end();
    const served = await second;
    expect(served.data).toBe('m');
    expect(m.accepted).toBe(2);
    expect(proxy.counters.gauge(be.slot, G.qcur)).toBe(0);
    expect(proxy.counters.gauge(be.slot, G.qmax)).toBe(1);
    expect(proxy.counters.gauge(be.members[0]!.slot, G.smax)).toBe(1);
  });

  it('gives up on a queued connection after timeout queue', async () => {
    const m = await startMember('m', 'hold');
    const proxy = await startProxy(listen('q', [at(m, { maxconn: 1 })], { timeouts: { connect: 1000, queue: 100 } }));
    const be = proxy.plan.backends[0]!;
    await hold(proxy.port, 1);
    expect((await exchange(proxy.port)).data).toBe('');
    expect(m.accepted).toBe(1);
    expect(proxy.counters.gauge(be.slot, G.qcur)).toBe(0);
  });

  it('answers queue-timeout, and serves waiters of every thread through the wake gauge', async () => {
    const m = await startMember('m', 'hold');
    const cfg = listen('q', [at(m, { maxconn: 1 })], { timeouts: { queue: 150 } });
    const a = compile(cfg);
    // Another "thread": its own plan over the same shared counters.
    const b = compile(structuredClone(cfg), false, a.counters.buffer);
    const held = await openSession(a.backends[0]!, { src: '127.0.0.1' }, a.counters);
    if ('error' in held) throw new Error(held.error);
    expect(await openSession(b.backends[0]!, { src: '127.0.0.1' }, b.counters)).toEqual({ error: 'queue-timeout' });

    const waiting = openSession(b.backends[0]!, { src: '127.0.0.1' }, b.counters);
    await until(() => a.counters.gauge(a.backends[0]!.slot, G.qcur) === 1, 'the waiter to queue');
    held.socket.destroy();
    endSession(held.member, a.counters); // released by plan a: plan b's waiter is woken
    const r = await waiting;
    if ('error' in r) throw new Error(r.error);
    expect(r.member.name).toBe('m');
    r.socket.destroy();
    endSession(r.member, b.counters);
  });

  it('balance source: requests wait in their member\'s queue up to its maxqueue, then go to another member', async () => {
    const a = await startMember('a', 'hold');
    const b = await startMember('b', 'hold');
    for (const maxqueue of [1, 0]) {
      const plan = compile(listen('q', [at(a, { maxconn: 1, maxqueue }), at(b, { maxconn: 1, maxqueue })], { algorithm: 'source', timeouts: { queue: 10_000 } }));
      const be = plan.backends[0]!;
      const c = plan.counters;
      const ctx = () => ({ src: '192.0.2.1' });
      const held = await openSession(be, ctx(), c);
      if ('error' in held) throw new Error(held.error);
      const target = held.member;
      // The second waits for the client's member.
      const second = openSession(be, ctx(), c);
      expect([c.gauge(target.slot, G.qcur), c.gauge(be.slot, G.qcur)]).toEqual([1, 1]);
      const third = openSession(be, ctx(), c);
      if (maxqueue === 1) {
        // Its queue is full (maxqueue 1): the third goes to the other member at once.
        const r = await third;
        if ('error' in r) throw new Error(r.error);
        expect(r.member).not.toBe(target);
        expect(c.gauge(target.slot, G.qcur)).toBe(1);
        r.socket.destroy();
        endSession(r.member, c);
      } else {
        // No maxqueue: it waits there too.
        expect(c.gauge(target.slot, G.qcur)).toBe(2);
      }
      held.socket.destroy();
      endSession(held.member, c);
      const r2 = await second;
      if ('error' in r2) throw new Error(r2.error);
      expect(r2.member).toBe(target);
      r2.socket.destroy();
      endSession(r2.member, c);
      if (maxqueue === 0) {
        const r3 = await third;
        if ('error' in r3) throw new Error(r3.error);
        expect(r3.member).toBe(target);
        r3.socket.destroy();
        endSession(r3.member, c);
      }
      expect([c.gauge(target.slot, G.qcur), c.gauge(be.slot, G.qcur), c.gauge(target.slot, G.scur)]).toEqual([0, 0, 0]);
    }
  });

  it('drops a queued request whose signal aborts', async () => {
    const m = await startMember('m', 'hold');
    const plan = compile(listen('q', [at(m, { maxconn: 1 })]));
    const be = plan.backends[0]!;
    const held = await openSession(be, { src: '127.0.0.1' }, plan.counters);
    const ac = new AbortController();
    const waiting = openSession(be, { src: '127.0.0.1' }, plan.counters, undefined, ac.signal);
    expect(plan.counters.gauge(be.slot, G.qcur)).toBe(1);
    ac.abort();
    expect(await waiting).toEqual({ error: 'aborted' });
    expect(plan.counters.gauge(be.slot, G.qcur)).toBe(0);
    if (!('error' in held)) {
      held.socket.destroy();
      endSession(held.member, plan.counters);
    }
    expect(plan.counters.gauge(be.members[0]!.slot, G.scur)).toBe(0);
  });
});
