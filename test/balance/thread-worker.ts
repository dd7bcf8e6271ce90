// A worker thread for threads.test.ts: compiles its own plan from the model it is sent, over
// the shared counters, like a proxy-core worker, and answers the test's questions ('open'
// holds one more session, 'end' ends every one it holds).

import { parentPort, workerData } from 'node:worker_threads';
import { endSession, openSession } from '../../proxy-core/balance/session.ts';
import { compilePlan } from '../../proxy-core/compile/compile.ts';
import type { ProxyConfig } from '../../proxy-core/config/model.ts';
import { Counters } from '../../proxy-core/runtime/counters.ts';

const { config, buffer, slots, region } = workerData as { config: ProxyConfig; buffer: SharedArrayBuffer; slots: number; region: number };
const plan = compilePlan(config, new Counters(buffer, slots, region), 1, false);
const be = plan.backends[0]!;

type Ask = { op: 'pick'; srcs: string[] } | { op: 'open' } | { op: 'end' };
const held: { member: (typeof be.members)[number]; destroy(): void }[] = [];

parentPort!.on('message', async (ask: Ask) => {
  if (ask.op === 'pick') {
    parentPort!.postMessage(ask.srcs.map((src) => be.balancer.pick({ src })?.name ?? '-'));
  } else if (ask.op === 'open') {
    const r = await openSession(be, { src: '127.0.0.1' }, plan.counters);
    if ('error' in r) return parentPort!.postMessage(r.error);
    held.push({ member: r.member, destroy: () => r.socket.destroy() });
    parentPort!.postMessage(r.member.name);
  } else {
    for (const h of held.splice(0)) {
      h.destroy();
      endSession(h.member, plan.counters);
    }
    parentPort!.postMessage('ended');
  }
});
