// `balance static-rr`: weighted round robin over a sequence computed once from the configured
// weights. Static like HAProxy's: changing a weight at run time has no effect, except that
// an effective weight of 0 (or a member down) takes the member out until it comes back,
// when it immediately gets its place in the sequence again.

import type { BackendPlan, MemberPlan } from '../compile/plan.ts';
import type { Counters } from '../runtime/counters.ts';
import type { Balancer, PickContext } from './balancer.ts';
import { avoidedIfEligible, hasRoom, isUsable, MemberGroups } from './usable.ts';

/** The order in which members take turns: smooth interleaving of the configured weights. */
export function staticSequence(members: readonly MemberPlan[]): MemberPlan[] {
  const live = members.filter((m) => m.weight > 0);
  const total = live.reduce((s, m) => s + m.weight, 0);
  const credit = live.map(() => 0);
  const seq: MemberPlan[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < live.length; i++) {
      credit[i]! += live[i]!.weight;
      if (credit[i]! > credit[best]!) best = i;
    }
    credit[best]! -= total;
    seq.push(live[best]!);
  }
  return seq;
}

/** A cyclic sequence with its own cursor. */
interface Turns {
  seq: MemberPlan[];
  next: number;
}

export class StaticRoundRobin implements Balancer {
  private readonly groups: MemberGroups;
  private readonly gauges: Int32Array;
  private readonly primaries: Turns;
  private readonly backups: Turns;

  constructor(be: BackendPlan, counters: Counters) {
    this.groups = new MemberGroups(be.members, be.allbackups);
    this.gauges = counters.gauges;
    this.primaries = { seq: staticSequence(this.groups.primaries), next: 0 };
    this.backups = { seq: staticSequence(this.groups.backups), next: 0 };
  }

  pick(ctx: PickContext): MemberPlan | undefined {
    const g = this.gauges;
    const list = this.groups.active(g);
    if (list === undefined) return undefined;
    if (list !== this.groups.primaries && list !== this.groups.backups) {
      // The first backup alone (no allbackups): nothing to rotate.
      const only = list[0]!;
      return hasRoom(only, g) ? only : undefined;
    }
    const turns = list === this.groups.primaries ? this.primaries : this.backups;
    const seq = turns.seq;
    const n = seq.length;
    for (let k = 0; k < n; k++) {
      const pos = (turns.next + k) % n;
      const m = seq[pos]!;
      if (m === ctx.avoid || !isUsable(m, g) || !hasRoom(m, g)) continue;
      turns.next = pos + 1;
      return m;
    }
    return avoidedIfEligible(ctx, list, g);
  }
}
