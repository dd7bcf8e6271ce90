// `balance leastconn`: the member with the fewest current sessions relative to its weight
// takes the request. Sessions are read from the shared `scur` gauges, so the count covers
// every worker thread (a global least-connections, like HAProxy's single process).
// Among members of equal load the search starts after the last one chosen, which turns
// into round robin within the group, as HAProxy's lb_fwlc does.

import type { BackendPlan, MemberPlan } from '../compile/plan.ts';
import type { Counters } from '../runtime/counters.ts';
import type { Balancer, PickContext } from './balancer.ts';
import { avoidedIfEligible, hasRoom, isUsable, MemberGroups, sessionsOf, weightOf } from './usable.ts';

export class LeastConn implements Balancer {
  private readonly groups: MemberGroups;
  private readonly gauges: Int32Array;
  /** Where the next search starts in the active list (round robin among equals). */
  private start = 0;

  constructor(be: BackendPlan, counters: Counters) {
    this.groups = new MemberGroups(be.members, be.allbackups);
    this.gauges = counters.gauges;
  }

  pick(ctx: PickContext): MemberPlan | undefined {
    const g = this.gauges;
    const list = this.groups.active(g);
    if (list === undefined) return undefined;
    const n = list.length;
    let best: MemberPlan | undefined;
    let bestPos = 0;
    let bestLoad = 0;
    let bestWeight = 1;
    for (let k = 0; k < n; k++) {
      const pos = (this.start + k) % n;
      const m = list[pos]!;
      if (m === ctx.avoid || !isUsable(m, g) || !hasRoom(m, g)) continue;
      const load = sessionsOf(m, g);
      const w = weightOf(m, g);
      // load/w < bestLoad/bestWeight, without division; strict so the earliest in turn wins ties.
      if (best === undefined || load * bestWeight < bestLoad * w) {
        best = m;
        bestPos = pos;
        bestLoad = load;
        bestWeight = w;
      }
    }
    if (best === undefined) return avoidedIfEligible(ctx, list, g);
    this.start = bestPos + 1;
    return best;
  }
}
