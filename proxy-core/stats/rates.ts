// Per-second rates for `show stat` and `show info`, sampled in the supervisor.
//
// Workers count every session start in the `rateCur` gauge of its slot; once a second the
// sampler takes each slot's count and resets it (Atomics.exchange), so `rate` is the sessions
// of the last elapsed second and `rate_max` the highest such second. Request rates come from
// the `reqTot` totals (summed over every worker region) the same way, by difference.

import { G, GAUGES_PER_SLOT, T, type Counters } from '../runtime/counters.ts';

export class RateSampler {
  readonly counters: Counters;
  readonly #rate: Uint32Array;
  readonly #rateMax: Uint32Array;
  readonly #reqRate: Uint32Array;
  readonly #reqRateMax: Uint32Array;
  readonly #reqLast: Float64Array;
  #timer: NodeJS.Timeout | undefined;

  constructor(counters: Counters) {
    this.counters = counters;
    const n = counters.slots;
    this.#rate = new Uint32Array(n);
    this.#rateMax = new Uint32Array(n);
    this.#reqRate = new Uint32Array(n);
    this.#reqRateMax = new Uint32Array(n);
    this.#reqLast = new Float64Array(n);
    for (let s = 0; s < n; s++) this.#reqLast[s] = counters.sum(s, T.reqTot);
  }

  /** Sample every second until stop(); the timer does not keep the process alive. */
  start(periodMs = 1000): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.sample(), periodMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Close the current second: called by the timer, or directly by tests. */
  sample(): void {
    const c = this.counters;
    for (let s = 0; s < c.slots; s++) {
      const v = Atomics.exchange(c.gauges, s * GAUGES_PER_SLOT + G.rateCur, 0);
      this.#rate[s] = v;
      if (v > this.#rateMax[s]!) this.#rateMax[s] = v;
      const req = c.sum(s, T.reqTot);
      const dr = Math.max(0, req - this.#reqLast[s]!);
      this.#reqLast[s] = req;
      this.#reqRate[s] = dr;
      if (dr > this.#reqRateMax[s]!) this.#reqRateMax[s] = dr;
    }
  }

  /** Sessions started during the last elapsed second. */
  rate(slot: number): number {
    return this.#rate[slot] ?? 0;
  }

  rateMax(slot: number): number {
    return this.#rateMax[slot] ?? 0;
  }

  /** HTTP requests during the last elapsed second. */
  reqRate(slot: number): number {
    return this.#reqRate[slot] ?? 0;
  }

  reqRateMax(slot: number): number {
    return this.#reqRateMax[slot] ?? 0;
  }
}
