// Two real threads over one SharedArrayBuffer, each with the plan it compiled itself: the
// source hash agrees between them, leastconn sees the sessions of both, and a slot freed in
// one thread serves a request queued in the other (the `wake` gauge and Atomics.waitAsync).

import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { endSession, openSession } from '../../proxy-core/balance/session.ts';
import { G } from '../../proxy-core/runtime/counters.ts';
import { listen, server } from '../compile/fixtures.ts';
import { compile, startMember, stopAll, until } from '../l4/harness.ts';
import type { ProxyConfig } from '../../proxy-core/config/model.ts';
import type { Plan } from '../../proxy-core/compile/plan.ts';

let worker: Worker | undefined;
afterEach(async () => {
  await worker?.terminate();
  worker = undefined;
  await stopAll();
});

function startWorker(config: ProxyConfig, plan: Plan): Worker {
  worker = new Worker(new URL('./thread-worker.ts', import.meta.url), {
    workerData: { config, buffer: plan.counters.buffer, slots: plan.slots, region: 1 },
  });
  return worker;
}

async function ask<T>(w: Worker, msg: unknown): Promise<T> {
  w.postMessage(msg);
  const [answer] = await once(w, 'message');
  return answer as T;
}

describe('balancing across worker threads', () => {
  it('source hash sends a client to the same member in both threads', async () => {
    const cfg = listen('src', ['a', 'b', 'c', 'd'].map((n, i) => server(n, '127.0.0.1', 1000 + i)), { algorithm: 'source' });
    const plan = compile(cfg, true, undefined, 2);
    const w = startWorker(cfg, plan);
    const srcs = Array.from({ length: 40 }, (_, i) => (i % 2 ? `198.51.100.${i}` : `2001:db8::${i.toString(16)}`));
    const here = srcs.map((src) => plan.backends[0]!.balancer.pick({ src })!.name);
    expect(await ask<string[]>(w, { op: 'pick', srcs })).toEqual(here);
  });

  it('leastconn counts the sessions of both threads: each new one goes to the least loaded member', async () => {
    const members = [await startMember('a', 'hold'), await startMember('b', 'hold')];
    const cfg = listen('lc', members.map((m, i) => server('ab'[i]!, '127.0.0.1', m.port)), { algorithm: 'leastconn' });
    const plan = compile(cfg, true, undefined, 2);
    const be = plan.backends[0]!;
    const w = startWorker(cfg, plan);
    // Sessions opened in turn here and in the other thread, all held: after one here, the
    // other thread must see that member busier and take the other one.
    const mine: { member: (typeof be.members)[number]; socket: { destroy(): void } }[] = [];
    const pairs: [string, string][] = [];
    for (let i = 0; i < 3; i++) {
      const s = await openSession(be, { src: '127.0.0.1' }, plan.counters);
      if ('error' in s) throw new Error(s.error);
      mine.push(s);
      pairs.push([s.member.name, await ask<string>(w, { op: 'open' })]);
    }
    for (const [here, there] of pairs) expect(there).not.toBe(here);
    expect(be.members.map((m) => plan.counters.gauge(m.slot, G.scur))).toEqual([3, 3]);
    await until(() => members[0]!.accepted + members[1]!.accepted === 6, 'the members to accept every session');
    expect(members.map((m) => m.accepted)).toEqual([3, 3]);
    for (const s of mine) {
      s.socket.destroy();
      endSession(s.member, plan.counters);
    }
    expect(await ask<string>(w, { op: 'end' })).toBe('ended');
    expect(be.members.map((m) => plan.counters.gauge(m.slot, G.scur))).toEqual([0, 0]);
  });

  it('a slot freed in one thread serves the request queued in the other', async () => {
    const m = await startMember('m', 'hold');
    const cfg = listen('q', [server('m', '127.0.0.1', m.port, { maxconn: 1 })], { timeouts: { queue: 20_000 } });
    const plan = compile(cfg, true, undefined, 2);
    const be = plan.backends[0]!;
    const w = startWorker(cfg, plan);
    const mine = await openSession(be, { src: '127.0.0.1' }, plan.counters);
    if ('error' in mine) throw new Error(mine.error);

    const theirs = ask<string>(w, { op: 'open' });
    await until(() => plan.counters.gauge(be.slot, G.qcur) === 1, 'the other thread to queue');
    expect(m.accepted).toBe(1);
    mine.socket.destroy();
    endSession(mine.member, plan.counters);
    expect(await theirs).toBe('m');
    await until(() => m.accepted === 2, 'the member to accept the queued connection');
    expect(plan.counters.gauge(be.members[0]!.slot, G.scur)).toBe(1);
    expect(await ask<string>(w, { op: 'end' })).toBe('ended');
    expect(plan.counters.gauge(be.members[0]!.slot, G.scur)).toBe(0);
  });
});
