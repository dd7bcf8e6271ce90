// The balancer interface: one method, many small implementations (roundrobin.ts,
// first.ts, leastconn.ts, source.ts), each in its own file like HAProxy's lb_*.c.

import type { MemberPlan } from '../compile/plan.ts';

/** What a balancer may look at to choose. Reused per request: never retained. */
export interface PickContext {
  /** Client address as text (IPv4 dotted, IPv6 compressed), for `balance source`. */
  src: string;
  /** A member that just failed for this request; avoid it if another is usable (redispatch). */
  avoid?: MemberPlan;
  /** Port the client connected to: the port used for a member written without one. */
  dstPort?: number;
}

export interface Balancer {
  /**
   * Choose a usable member that has a free connection slot, or undefined when none can
   * take the request now. Usable = not disabled, state up or no-check, effective weight > 0;
   * backup members only when no primary is usable (all of them with `option allbackups`,
   * else the first). Must not count the pick: the caller does (counters.enter) once it
   * commits to the member.
   */
  pick(ctx: PickContext): MemberPlan | undefined;
  /**
   * True when the choice depends on the request (hash algorithms): a queue must offer a
   * freed slot to every waiter, not only to the oldest one, since they want different members.
   */
  readonly perRequest?: boolean;
  /**
   * Hash algorithms: the member this request belongs to whatever its room (undefined when
   * none is usable). A request that cannot be served at once waits in that member's queue,
   * bounded by its `maxqueue` (session.ts).
   */
  bound?(ctx: PickContext): MemberPlan | undefined;
}
