// The clock of the request path: read once per batch of socket reads, as HAProxy reads its
// clock once per turn of its poll loop.
//
// A keep-alive exchange stamps the time twice (request head in, response head in: the
// qtime / ctime / rtime / ttime statistics), and performance.now() costs 40-60 ns on this
// kind of virtual machine (kvm-clock through the vDSO), about 6 % of the engine's own work
// per request. Under load one turn of the event loop reads dozens of sockets, one after the
// other, with no wait between them: the first read of the turn reads the clock
// (readStarted()), every stamp taken until the turn's check phase uses that reading
// (batchTime()), and a setImmediate() forgets it there. The next turn can only start with a
// poll, which may block: a reading never lives across it. Outside a batch (timers, connect
// and write completions before any read of their turn, immediates), batchTime() reads the
// clock itself.
//
// What a stamp may be behind: the time the turn has spent on the reads before it, a
// millisecond at most under this bench's load (HAProxy's stamps have the same error, and a
// millisecond's granularity). Differences of stamps are never negative: the readings only
// grow.

import { performance } from 'node:perf_hooks';

/** The reading of the current batch; -1 outside one. */
let batchNow = -1;

/**
 * A socket read callback begins (it runs in the loop's poll phase): the first one of a turn
 * reads the clock for the whole batch.
 */
export function readStarted(): void {
  if (batchNow >= 0) return;
  batchNow = performance.now();
  setImmediate(batchEnded);
}

function batchEnded(): void {
  batchNow = -1;
}

/** performance.now() as of the current batch's first read; outside a batch, now. */
export function batchTime(): number {
  return batchNow >= 0 ? batchNow : performance.now();
}
