// `balance first`: the member with the lowest id that has a free connection slot takes the
// request; the next one is used only once it reaches its maxconn. Weights are ignored
// (beyond 0 meaning "not usable"), as in HAProxy, so the fewest members stay busy.

import type { BackendPlan, MemberPlan } from '../compile/plan.ts';
import type { Counters } from '../runtime/counters.ts';
import type { Balancer, PickContext } from './balancer.ts';
import { avoidedIfEligible, hasRoom, isUsable, MemberGroups } from './usable.ts';

export class First implements Balancer {
  private readonly groups: MemberGroups;
  private readonly gauges: Int32Array;

  constructor(be: BackendPlan, counters: Counters) {
    const byId = [...be.members].sort((a, b) => a.id - b.id || a.index - b.index);
    this.groups = new MemberGroups(byId, be.allbackups);
    this.gauges = counters.gauges;
  }

  pick(ctx: PickContext): MemberPlan | undefined {
    const g = this.gauges;
    const list = this.groups.active(g);
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      if (m !== ctx.avoid && isUsable(m, g) && hasRoom(m, g)) return m;
    }
    return avoidedIfEligible(ctx, list, g);
  }
}
