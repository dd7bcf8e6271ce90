// The health checker: one probe loop per checked member, in the supervisor (main thread),
// whatever the number of workers. Results reach the workers through the shared `state`
// gauge; `show stat` reads the rest (check status, rise/fall progress, last change) here.
//
// HAProxy 2.6's state machine, kept as it is (observed on 2.6.12, and check.c's behaviour):
// - `health` counts from 0 to rise+fall-1. A server starts UP with health = rise and status
//   INI ("UP 1/3" with fall 3): its first failure takes it DOWN at once.
// - A pass while below the top adds one; reaching `rise` jumps to the top (UP if it was DOWN).
// - A failure above `rise` takes one off (UP, going down: "UP 2/3", "UP 1/3"); at or below
//   `rise` it drops to 0 and the server is DOWN. So a steady UP server goes DOWN after `fall`
//   failures and a DOWN one comes back after `rise` passes.
// - chkfail counts failures while UP (the one that takes it down included); chkdown counts
//   UP→DOWN transitions; the backend counts its own transitions to "no usable server".
// - Members in maintenance (`disabled`) are never probed; a state the checker did not write
//   (maint, drain) is never overwritten.
//
// On reload the new checker takes over state, health, last change and last result of every
// member with the same backend/server name from the previous one (HAProxy's
// load-server-state-from-file), so a reload neither resurrects a dead member nor fails a
// live one.

import { isUsable } from '../balance/usable.ts';
import type { BackendPlan, MemberPlan, Plan } from '../compile/plan.ts';
import { G, GAUGES_PER_SLOT, ServerState, T } from '../runtime/counters.ts';
import { CHECK_DESC, isPassed, type CheckStatus, type ProbeResult } from './probe.ts';
import { checkSpec, type CheckKind, type CheckSpec } from './spec.ts';

/** What `show stat` shows about a member's checks. Times are Date.now() milliseconds. */
export interface MemberHealth {
  /** Last check status (`L4OK`...), 'INI' before the first one, '' when not checked. */
  checkStatus: string;
  /** HTTP status or exit status of the last check, when it had one. */
  checkCode?: number;
  /** Duration of the last check in ms (undefined before the first one). */
  checkDuration?: number;
  /** Last UP/DOWN transition (or when checking began). */
  lastChange: number;
  /** Total time spent DOWN, in ms, the current stretch included. */
  downtime: number;
  /** Whether `check` is configured (even if the member is disabled). */
  checked: boolean;
  /** True while the member counts as running (UP, possibly going down). */
  running: boolean;
  /** HAProxy's check health, 0..rise+fall-1. */
  health: number;
  rise: number;
  fall: number;
  /** `check_desc` and `last_chk`. */
  desc: string;
  info: string;
  /** A check is running right now ("* " prefix in show stat). */
  inProgress: boolean;
  /** Whether the checks ever opened or attempted a connection (HAProxy's need_conn_est shows 1 then). */
  connected: boolean;
  /** Whether probes run for this member (checked, not disabled, somewhere to connect). */
  active: boolean;
  kind?: CheckKind;
}

/** Backend-level UP/DOWN history (for chkdown, lastchg, downtime of the BACKEND row). */
export interface BackendHealth {
  down: boolean;
  lastChange: number;
  /** ms, the current stretch included. */
  downtime: number;
}

interface MemberCheck {
  member: MemberPlan;
  spec: CheckSpec | undefined;
  running: boolean;
  health: number;
  status: CheckStatus | '';
  code: number | undefined;
  duration: number | undefined;
  info: string;
  lastChange: number;
  downMs: number;
  downSince: number | undefined;
  inProgress: boolean;
  connected: boolean;
  timer: NodeJS.Timeout | undefined;
  abort: AbortController | undefined;
  running$: Promise<void> | undefined;
}

interface BackendTrack {
  down: boolean;
  lastChange: number;
  downMs: number;
  downSince: number | undefined;
}

/** A transition, for the supervisor's log (HAProxy's "Server x/y is DOWN" lines). */
export interface HealthEvent {
  backend: string;
  server?: string;
  up: boolean;
  /** HAProxy-style sentence: `Server be/srv is DOWN, reason: Layer4 connection problem, ...`. */
  message: string;
}

const key = (backend: string, server: string) => `${backend}/${server}`;

export class HealthChecker {
  readonly plan: Plan;
  /** When this checker was built (Date.now()). */
  readonly startedAt: number;
  /** Called on every UP/DOWN transition of a member or a whole backend. */
  onEvent: ((e: HealthEvent) => void) | undefined;
  /** Called after every check result is applied (option log-health-checks, tests). */
  onCheck: ((member: MemberPlan, health: MemberHealth) => void) | undefined;

  readonly #members = new Map<MemberPlan, MemberCheck>();
  /** The same records by "backend/server", for the next generation to take over. */
  readonly #byName = new Map<string, MemberCheck>();
  readonly #backends = new Map<BackendPlan, BackendTrack>();
  readonly #backendsByName = new Map<string, BackendTrack>();
  #started = false;
  #stopped = false;

  constructor(plan: Plan, previous?: HealthChecker) {
    this.plan = plan;
    this.startedAt = Date.now();
    const now = this.startedAt;
    for (const be of plan.backends) {
      for (const m of be.members) {
        if (!m.checked) continue;
        const spec = m.disabled ? undefined : checkSpec(plan, m);
        if (!m.disabled && !spec) {
          // `check` but nothing to connect to: HAProxy disables the check, the server stays usable.
          this.#writeState(m, ServerState.noCheck);
          continue;
        }
        const rise = spec?.rise ?? 2;
        const mc: MemberCheck = {
          member: m,
          spec,
          running: !m.disabled,
          health: m.disabled ? 0 : rise,
          status: spec ? 'INI' : '',
          code: undefined,
          duration: undefined,
          info: '',
          lastChange: now,
          downMs: 0,
          // A disabled member counts as down from the start, as HAProxy's downtime shows.
          downSince: m.disabled ? now : undefined,
          inProgress: false,
          connected: false,
          timer: undefined,
          abort: undefined,
          running$: undefined,
        };
        const before = previous ? previous.#byName.get(key(be.name, m.name)) : undefined;
        if (before && spec && before.spec) this.#carry(mc, before);
        this.#members.set(m, mc);
        this.#byName.set(key(be.name, m.name), mc);
        if (spec) {
          this.#writeState(m, mc.running ? ServerState.up : ServerState.down);
          plan.counters.setGauge(m.slot, G.health, mc.health);
        }
      }
      // The backend's starting state is taken as it is, not counted as a transition.
      const prevBe = previous ? previous.#backendsByName.get(be.name) : undefined;
      const down = backendDown(be, plan.counters.gauges);
      const track: BackendTrack = prevBe
        ? { down: prevBe.down, lastChange: prevBe.lastChange, downMs: prevBe.downMs, downSince: prevBe.downSince }
        : { down, lastChange: now, downMs: 0, downSince: down ? now : undefined };
      if (track.down !== down) {
        track.down = down;
        track.lastChange = now;
        if (down) track.downSince = now;
        else if (track.downSince !== undefined) {
          track.downMs += now - track.downSince;
          track.downSince = undefined;
        }
      }
      this.#backends.set(be, track);
      this.#backendsByName.set(be.name, track);
    }
  }

  /**
   * Begin probing. As in HAProxy, the first checks are spread over the shortest interval in
   * use at start — `fastinter` for a member not checked yet — so that members do not all get
   * probed at the same instant.
   */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    const active = [...this.#members.values()].filter((mc) => mc.spec);
    if (active.length === 0) return;
    const spread = Math.min(...active.map((mc) => this.#interval(mc)));
    active.forEach((mc, i) => this.#schedule(mc, Math.floor((spread * i) / active.length)));
  }

  /** Cancel every timer, socket and child process now. Idempotent. */
  stop(): void {
    this.#stopped = true;
    for (const mc of this.#members.values()) {
      clearTimeout(mc.timer);
      mc.timer = undefined;
      mc.abort?.abort();
    }
  }

  /** Resolves once no probe is running any more (after stop(): promptly). */
  async settled(): Promise<void> {
    await Promise.all([...this.#members.values()].map((mc) => mc.running$));
  }

  /** The check state of a member (also for unchecked ones: checkStatus ''). */
  status(member: MemberPlan): MemberHealth {
    const mc = this.#members.get(member);
    const now = Date.now();
    if (!mc) {
      return {
        checkStatus: '',
        lastChange: this.startedAt,
        downtime: 0,
        checked: false,
        running: true,
        health: 0,
        rise: 0,
        fall: 0,
        desc: '',
        info: '',
        inProgress: false,
        connected: false,
        active: false,
      };
    }
    const h: MemberHealth = {
      checkStatus: mc.status,
      lastChange: mc.lastChange,
      downtime: mc.downMs + (mc.downSince !== undefined ? now - mc.downSince : 0),
      checked: true,
      running: mc.running,
      health: mc.health,
      rise: mc.spec?.rise ?? 0,
      fall: mc.spec?.fall ?? 0,
      desc: mc.status ? CHECK_DESC[mc.status] : '',
      info: mc.info,
      inProgress: mc.inProgress,
      connected: mc.connected,
      active: mc.spec !== undefined,
    };
    if (mc.code !== undefined) h.checkCode = mc.code;
    if (mc.duration !== undefined) h.checkDuration = mc.duration;
    if (mc.spec) h.kind = mc.spec.kind;
    return h;
  }

  /** UP/DOWN history of a backend as a whole. */
  backendStatus(be: BackendPlan): BackendHealth {
    const t = this.#backends.get(be);
    const now = Date.now();
    if (!t) return { down: false, lastChange: this.startedAt, downtime: 0 };
    return { down: t.down, lastChange: t.lastChange, downtime: t.downMs + (t.downSince !== undefined ? now - t.downSince : 0) };
  }

  // -------------------------------------------------------------------------- the loop

  #schedule(mc: MemberCheck, delay: number): void {
    if (this.#stopped) return;
    mc.timer = setTimeout(() => {
      mc.timer = undefined;
      mc.running$ = this.#run(mc);
    }, delay);
    mc.timer.unref();
  }

  async #run(mc: MemberCheck): Promise<void> {
    const spec = mc.spec!;
    const abort = new AbortController();
    mc.abort = abort;
    mc.inProgress = true;
    const t0 = performance.now();
    let result: ProbeResult;
    try {
      result = await spec.probe.probe(spec.target, abort.signal);
    } catch (err) {
      result = { status: 'UNK', info: err instanceof Error ? err.message : String(err) };
    }
    mc.inProgress = false;
    mc.abort = undefined;
    if (this.#stopped) return;
    this.#apply(mc, result, Math.round(performance.now() - t0));
    this.#schedule(mc, this.#interval(mc));
    try {
      this.onCheck?.(mc.member, this.status(mc.member));
    } catch {
      // An observer's failure must not stop the checks.
    }
  }

  /** `inter` when steadily UP, `downinter` when steadily DOWN, `fastinter` in between. */
  #interval(mc: MemberCheck): number {
    const s = mc.spec!;
    if (mc.running && mc.health === s.rise + s.fall - 1) return s.inter;
    if (!mc.running && mc.health === 0) return s.downinter;
    return s.fastinter;
  }

  #apply(mc: MemberCheck, r: ProbeResult, duration: number): void {
    const { rise, fall } = mc.spec!;
    const top = rise + fall - 1;
    const counters = this.plan.counters;
    const slot = mc.member.slot;
    mc.status = r.status;
    mc.code = r.code;
    mc.info = r.info;
    mc.duration = duration;
    // HAProxy's need_conn_est turns 1 with the first connection a check opens or attempts.
    if (r.connected || mc.spec!.kind !== 'external') mc.connected = true;

    if (isPassed(r.status)) {
      if (mc.health < top) {
        mc.health++;
        if (mc.health >= rise) mc.health = top;
      }
      if (!mc.running && mc.health === top) this.#transition(mc, true);
    } else {
      if (mc.running) counters.add(slot, T.chkfail);
      if (mc.health > rise) {
        mc.health--;
      } else {
        mc.health = 0;
        if (mc.running) this.#transition(mc, false);
      }
    }
    counters.setGauge(slot, G.health, mc.health);
  }

  #transition(mc: MemberCheck, up: boolean): void {
    const now = Date.now();
    const m = mc.member;
    mc.running = up;
    mc.lastChange = now;
    if (up) {
      if (mc.downSince !== undefined) mc.downMs += now - mc.downSince;
      mc.downSince = undefined;
    } else {
      mc.downSince = now;
      this.plan.counters.add(m.slot, T.chkdown);
    }
    this.#writeState(m, up ? ServerState.up : ServerState.down);
    if (up) this.#wake(m);
    this.#emit(m.backend, m, up, mc);
    this.#trackBackend(m.backend, now);
  }

  /** Write the state gauge, unless an operator state (maint, drain) holds it. */
  #writeState(m: MemberPlan, state: number): void {
    const gauges = this.plan.counters.gauges;
    const cell = m.slot * GAUGES_PER_SLOT + G.state;
    const cur = Atomics.load(gauges, cell);
    if (cur === ServerState.maint || cur === ServerState.drain || m.disabled) return;
    Atomics.store(gauges, cell, state);
  }

  /** A member came back: requests queued in any thread may now find a server. */
  #wake(m: MemberPlan): void {
    const gauges = this.plan.counters.gauges;
    for (const slot of [m.slot, m.backend.slot]) {
      const cell = slot * GAUGES_PER_SLOT + G.wake;
      Atomics.add(gauges, cell, 1);
      Atomics.notify(gauges, cell);
    }
  }

  /** Follow the backend's own UP/DOWN (any usable member or none at all). */
  #trackBackend(be: BackendPlan, now: number): void {
    const t = this.#backends.get(be);
    if (!t) return;
    const down = backendDown(be, this.plan.counters.gauges);
    if (down === t.down) return;
    t.down = down;
    t.lastChange = now;
    if (down) {
      t.downSince = now;
      this.plan.counters.add(be.slot, T.chkdown);
    } else {
      if (t.downSince !== undefined) t.downMs += now - t.downSince;
      t.downSince = undefined;
    }
    this.#notify({
      backend: be.name,
      up: !down,
      message: down ? `backend '${be.name}' has no server available!` : `backend '${be.name}' is back up`,
    });
  }

  /** Tell the supervisor; a failing observer must not stop the checks. */
  #notify(e: HealthEvent): void {
    try {
      this.onEvent?.(e);
    } catch {}
  }

  #emit(be: BackendPlan, m: MemberPlan, up: boolean, mc: MemberCheck): void {
    if (!this.onEvent) return;
    const gauges = this.plan.counters.gauges;
    let act = 0;
    let bck = 0;
    for (const x of be.members) {
      if (!isUsable(x, gauges)) continue;
      if (x.backup) bck++;
      else act++;
    }
    const reason = mc.status ? CHECK_DESC[mc.status] : 'Unknown';
    const code = mc.code !== undefined ? `, code: ${mc.code}` : '';
    const info = mc.info ? `, info: "${mc.info}"` : '';
    const message =
      `Server ${be.name}/${m.name} is ${up ? 'UP' : 'DOWN'}, reason: ${reason}${code}${info}, ` +
      `check duration: ${mc.duration ?? 0}ms. ${act} active and ${bck} backup servers ${up ? 'online' : 'left'}.`;
    this.#notify({ backend: be.name, server: m.name, up, message });
  }

  // ------------------------------------------------------------------------- reloads

  /** Take over a previous generation's view of the same member (rise/fall rescaled if changed). */
  #carry(mc: MemberCheck, before: MemberCheck): void {
    const spec = mc.spec!;
    const top = spec.rise + spec.fall - 1;
    mc.running = before.running;
    mc.health = before.running ? Math.max(spec.rise, Math.min(before.health, top)) : Math.min(before.health, spec.rise - 1);
    mc.status = before.status;
    mc.code = before.code;
    mc.duration = before.duration;
    mc.info = before.info;
    mc.lastChange = before.lastChange;
    mc.downMs = before.downMs;
    mc.downSince = before.downSince;
    mc.connected = before.connected;
  }
}

/** HAProxy's backend status: DOWN when it has servers and none of them can take traffic. */
export function backendDown(be: BackendPlan, gauges: Int32Array): boolean {
  if (be.members.length === 0) return false;
  for (const m of be.members) if (isUsable(m, gauges)) return false;
  return true;
}
