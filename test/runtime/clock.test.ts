// runtime/clock.ts: one clock reading serves a batch of socket reads, and never outlives the
// turn of the event loop it was taken in (a turn starts with a poll that may wait).

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { batchTime, readStarted } from '../../proxy-core/runtime/clock.ts';

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('the request path clock (one reading per batch of reads)', () => {
  it('gives the first read’s reading for the rest of the turn, and a new one after it', async () => {
    await new Promise((r) => setImmediate(r));
    const before = performance.now();
    readStarted();
    const t0 = batchTime();
    expect(t0).toBeGreaterThanOrEqual(before);
    spin(3);
    readStarted();
    expect(batchTime()).toBe(t0);
    // The turn's check phase ends the batch: outside one, the clock is read each time.
    await new Promise((r) => setImmediate(r));
    expect(batchTime()).toBeGreaterThanOrEqual(t0 + 3);
  });

  it('never carries a reading across a wait of the loop', async () => {
    await new Promise((r) => setImmediate(r));
    readStarted();
    const t0 = batchTime();
    await sleep(20);
    readStarted();
    expect(batchTime()).toBeGreaterThanOrEqual(t0 + 19);
  });
});
