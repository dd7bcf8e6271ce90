// Gauges of a generation that one thread serves are updated without Atomics (counters.ts):
// the figures must be the ones the atomic updates give.

import { describe, expect, it } from 'vitest';
import { allocateCounters, Counters, G, GAUGES_PER_SLOT } from '../../proxy-core/runtime/counters.ts';

function exercise(c: Counters): number[] {
  const seen: number[] = [];
  for (let i = 0; i < 3; i++) seen.push(c.enter(1));
  c.leave(1);
  seen.push(c.enter(1));
  c.leave(1);
  c.leave(1);
  c.enqueue(2);
  c.enqueue(2);
  c.dequeue(2);
  c.raise(2 * GAUGES_PER_SLOT + G.smax, 7);
  c.raise(2 * GAUGES_PER_SLOT + G.smax, 5);
  return seen;
}

describe('gauges', () => {
  it('count the same with plain updates (one thread) as with Atomics', () => {
    const figures = [true, false].map((atomic) => {
      const c = new Counters(allocateCounters(3, 1), 3, 0, atomic);
      const entered = exercise(c);
      return { entered, cells: Array.from(c.gauges), stot: c.sum(1, 0) };
    });
    expect(figures[0]!.entered).toEqual([1, 2, 3, 3]);
    expect(figures[1]).toEqual(figures[0]);
    const c = new Counters(allocateCounters(3, 1), 3, 0, false);
    exercise(c);
    expect([c.gauge(1, G.scur), c.gauge(1, G.smax), c.gauge(1, G.rateCur)]).toEqual([1, 3, 4]);
    expect([c.gauge(2, G.qcur), c.gauge(2, G.qmax), c.gauge(2, G.smax)]).toEqual([1, 2, 7]);
  });
});
