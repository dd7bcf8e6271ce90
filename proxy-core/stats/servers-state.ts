// `show servers state [<backend>]`: HAProxy 2.6's server-state dump (format version 1), which
// Octavia's agent saves before a reload (haproxy_query.save_state) for
// `load-server-state-from-file`. Numeric codes are HAProxy's: operational state 0 stopped /
// 2 running; admin state flags 0x1 forced maint, 0x4 maint from config; check status and
// result enumerations as HAProxy numbers them (L4OK 6, L4CON 8, L7OK 15, L7STS 17, PROCOK 20...);
// check state flags 0x1 running, 0x2 configured, 0x4 enabled, 0x8 paused.

import type { Plan } from '../compile/plan.ts';
import type { HealthChecker } from '../health/checker.ts';
import { memberModel } from '../health/spec.ts';
import { isPassed, type CheckStatus } from '../health/probe.ts';
import { G, ServerState } from '../runtime/counters.ts';
import { proxiesOf } from './proxies.ts';

const HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight ' +
  'srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state ' +
  'srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl ' +
  'srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n';

const STATUS_NUMBER: Record<CheckStatus, number> = {
  UNK: 0,
  INI: 1,
  SOCKERR: 5,
  L4OK: 6,
  L4TOUT: 7,
  L4CON: 8,
  L6OK: 9,
  L6TOUT: 10,
  L6RSP: 11,
  L7TOUT: 12,
  L7RSP: 13,
  L7OK: 15,
  L7OKC: 16,
  L7STS: 17,
  PROCERR: 18,
  PROCTOUT: 19,
  PROCOK: 20,
};

/** The dump, or an error line when `backend` names no backend. */
export function showServersState(plan: Plan, checker: HealthChecker | undefined, backend?: string): string {
  const now = Date.now();
  const proxies = new Map(proxiesOf(plan.config).map((p) => [p.name, p]));
  const backends = backend === undefined ? plan.backends : plan.backends.filter((b) => b.name === backend);
  if (backend !== undefined && backends.length === 0) return `Can't find backend.\n`;
  let out = `1\n${HEADER}`;
  for (const be of backends) {
    for (const m of be.members) {
      const model = memberModel(plan, m);
      const check = model?.server.check;
      const h = checker?.status(m);
      const state = plan.counters.gauge(m.slot, G.state);
      const maint = m.disabled || state === ServerState.maint;
      const running = maint ? false : h?.active ? h.running : state !== ServerState.down;
      const status = h?.active ? (h.checkStatus as CheckStatus) : 'INI';
      const result = !h?.active || h.inProgress || status === 'INI' ? 0 : isPassed(status) ? 3 : 2;
      let checkState = 0;
      if (m.checked) checkState |= 0x2 | 0x4;
      if (maint) checkState |= 0x8;
      if (h?.inProgress) checkState |= 0x1;
      const health = h?.active ? h.health : maint && m.checked ? 0 : (check?.rise ?? 2);
      const checkPort = check?.port ?? 0;
      const checkAddr = check?.addr ?? '-';
      out +=
        [
          proxies.get(be.name)?.iid ?? 0,
          be.name,
          m.id,
          m.name,
          m.host,
          running ? 2 : 0,
          maint ? 0x1 | 0x4 : 0,
          plan.counters.gauge(m.slot, G.weight),
          m.weight,
          Math.max(0, Math.floor((now - (h?.lastChange ?? checker?.startedAt ?? now)) / 1000)),
          STATUS_NUMBER[status] ?? 0,
          result,
          health,
          checkState,
          0,
          // "Forced" ids: the parser numbers every proxy and server, so an id counts as
          // given by an `id` keyword when it differs from the one its position would get.
          proxies.get(be.name) && proxies.get(be.name)!.iid !== proxies.get(be.name)!.autoIid ? 1 : 0,
          m.id !== m.index + 1 ? 1 : 0,
          model?.server.fqdn ?? '-',
          m.port ?? 0,
          '-',
          model?.server.ssl ? 1 : 0,
          checkPort,
          checkAddr,
          checkAddr,
          checkPort,
        ].join(' ') + '\n';
    }
  }
  return out;
}
