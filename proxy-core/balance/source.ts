// `balance source`: the client address is hashed and divided by the total weight of the
// usable members, HAProxy's map-based hashing. The answer is a pure function of the address
// and of the shared member states, so every worker thread (each compiling its own plan)
// sends a client to the same member, and a client keeps its member while the set of usable
// members does not change. Static like HAProxy's default: configured weights count, the
// effective weight only as "0 = out".
//
// When the member a client hashes to is at its maxconn, pick() answers undefined and the
// request queues for it (HAProxy queues on that server) rather than breaking stickiness.

import type { BackendPlan, MemberPlan } from '../compile/plan.ts';
import type { Counters } from '../runtime/counters.ts';
import type { Balancer, PickContext } from './balancer.ts';
import { hasRoom, isUsable, MemberGroups } from './usable.ts';

/**
 * 32-bit hash of a client address (FNV-1a over the text, then a final avalanche so that
 * neighbouring addresses spread). IPv4-mapped IPv6 (`::ffff:a.b.c.d`) hashes as the IPv4
 * address, so a dual-stack listener treats a client the same either way.
 */
export function hashAddress(src: string): number {
  const start = src.startsWith('::ffff:') && src.includes('.') ? 7 : 0;
  let h = 0x811c9dc5;
  for (let i = start; i < src.length; i++) {
    h ^= src.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class SourceHash implements Balancer {
  readonly perRequest = true;
  private readonly groups: MemberGroups;
  private readonly gauges: Int32Array;

  constructor(be: BackendPlan, counters: Counters) {
    this.groups = new MemberGroups(be.members, be.allbackups);
    this.gauges = counters.gauges;
  }

  pick(ctx: PickContext): MemberPlan | undefined {
    const g = this.gauges;
    const list = this.groups.active(g);
    if (list === undefined) return undefined;
    const avoid = ctx.avoid;
    let total = 0;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      if (m !== avoid && isUsable(m, g)) total += m.weight;
    }
    if (total === 0) {
      // Only the member that just failed is left (redispatch): it is the answer again.
      return avoid !== undefined && list.includes(avoid) && isUsable(avoid, g) && hasRoom(avoid, g) ? avoid : undefined;
    }
    let point = hashAddress(ctx.src) % total;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      if (m === avoid || !isUsable(m, g)) continue;
      if (point < m.weight) return hasRoom(m, g) ? m : undefined;
      point -= m.weight;
    }
    return undefined;
  }
}
