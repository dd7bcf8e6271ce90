// What every balancer asks before choosing: may this member take traffic, has it room, and
// which group of members is active (primaries, else backups). All answers come from the
// shared gauges, so every worker thread sees the same health state at once.
//
// The gauges are read with plain loads, not Atomics.load: a read of an aligned Int32 cell
// cannot tear (the value is one some thread wrote), and none of these answers is more than a
// snapshot anyway (a check may change the state right after). Slots are still taken with
// atomic updates where threads share the buffer (Counters.tryEnter() and enter()).

import type { MemberPlan } from '../compile/plan.ts';
import { G, GAUGES_PER_SLOT, ServerState } from '../runtime/counters.ts';
import type { PickContext } from './balancer.ts';

/** Not disabled, state up or no-check, effective weight > 0. */
export function isUsable(m: MemberPlan, gauges: Int32Array): boolean {
  if (m.disabled) return false;
  const base = m.slot * GAUGES_PER_SLOT;
  const state = gauges[base + G.state];
  if (state !== ServerState.up && state !== ServerState.noCheck) return false;
  return gauges[base + G.weight]! > 0;
}

/** Below its maxconn (0 = unlimited), counting the sessions of every thread. */
export function hasRoom(m: MemberPlan, gauges: Int32Array): boolean {
  return m.maxconn === 0 || gauges[m.slot * GAUGES_PER_SLOT + G.scur]! < m.maxconn;
}

/** Effective weight as the supervisor last wrote it. */
export function weightOf(m: MemberPlan, gauges: Int32Array): number {
  return gauges[m.slot * GAUGES_PER_SLOT + G.weight]!;
}

/** Current sessions of a member, all threads together. */
export function sessionsOf(m: MemberPlan, gauges: Int32Array): number {
  return gauges[m.slot * GAUGES_PER_SLOT + G.scur]!;
}

/**
 * The members of one backend split the way HAProxy selects among them (`option redispatch`
 * in configuration.txt): any usable primary; else, with `option allbackups`, every usable
 * backup; else only the first usable backup. Lists keep the order given to the constructor
 * (config order, or id order for `balance first`).
 */
export class MemberGroups {
  readonly primaries: readonly MemberPlan[];
  readonly backups: readonly MemberPlan[];
  readonly allbackups: boolean;
  /** One-element lists for each backup, so `active()` never allocates. */
  private readonly singles: readonly (readonly MemberPlan[])[];

  constructor(members: readonly MemberPlan[], allbackups: boolean) {
    this.primaries = members.filter((m) => !m.backup && !m.disabled);
    this.backups = members.filter((m) => m.backup && !m.disabled);
    this.singles = this.backups.map((m) => [m]);
    this.allbackups = allbackups;
  }

  /** The members allowed to take traffic now (usable or not, the caller re-checks), or undefined. */
  active(gauges: Int32Array): readonly MemberPlan[] | undefined {
    for (const m of this.primaries) if (isUsable(m, gauges)) return this.primaries;
    for (let i = 0; i < this.backups.length; i++) {
      if (isUsable(this.backups[i]!, gauges)) return this.allbackups ? this.backups : this.singles[i];
    }
    return undefined;
  }
}

/** Whether any member of the backend could take traffic, full or not (else: no server at all). */
export function anyUsable(members: readonly MemberPlan[], gauges: Int32Array): boolean {
  for (const m of members) if (isUsable(m, gauges)) return true;
  return false;
}

/**
 * Fallback for `ctx.avoid`: a balancer skips the member that just failed, and only when it
 * found nothing else returns it again, if it still qualifies.
 */
export function avoidedIfEligible(ctx: PickContext, list: readonly MemberPlan[], gauges: Int32Array): MemberPlan | undefined {
  const m = ctx.avoid;
  if (m === undefined || !list.includes(m)) return undefined;
  return isUsable(m, gauges) && hasRoom(m, gauges) ? m : undefined;
}
