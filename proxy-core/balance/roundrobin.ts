// `balance roundrobin`: smooth weighted round robin, dynamic.
//
// Every pick adds each eligible member's effective weight (the `weight` gauge, so a weight
// the supervisor changes applies on the next pick) to its running credit, takes the member
// with the most credit and charges it the sum of the weights. Over any window of W picks
// (W = total weight) each member gets its share, interleaved rather than in bursts, like
// HAProxy's lb_fwrr. The credits are per thread: each worker balances its own share.
//
// Members at their maxconn sit out the round (their credit does not grow) so the others take
// the request; when every eligible member is full, pick() answers undefined and the caller queues.

import type { BackendPlan, MemberPlan } from '../compile/plan.ts';
import type { Counters } from '../runtime/counters.ts';
import type { Balancer, PickContext } from './balancer.ts';
import { avoidedIfEligible, hasRoom, isUsable, MemberGroups, weightOf } from './usable.ts';

export class RoundRobin implements Balancer {
  private readonly groups: MemberGroups;
  private readonly gauges: Int32Array;
  /** Running credit by member index. */
  private readonly credit: Float64Array;

  constructor(be: BackendPlan, counters: Counters) {
    this.groups = new MemberGroups(be.members, be.allbackups);
    this.gauges = counters.gauges;
    this.credit = new Float64Array(be.members.length);
  }

  pick(ctx: PickContext): MemberPlan | undefined {
    const g = this.gauges;
    const list = this.groups.active(g);
    if (list === undefined) return undefined;
    const credit = this.credit;
    let best: MemberPlan | undefined;
    let bestCredit = -Infinity;
    let total = 0;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      if (m === ctx.avoid || !isUsable(m, g) || !hasRoom(m, g)) continue;
      const w = weightOf(m, g);
      const c = (credit[m.index]! += w);
      total += w;
      if (c > bestCredit) {
        bestCredit = c;
        best = m;
      }
    }
    if (best === undefined) return avoidedIfEligible(ctx, list, g);
    credit[best.index]! -= total;
    return best;
  }
}
