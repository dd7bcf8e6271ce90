// `show info`: "Name: value" lines with HAProxy 2.6's field names, in HAProxy's order, for the
// fields this engine can fill; the others (memory pools, SSL caches, pipes...) are left out
// rather than shown as invented zeros.
//
// `Name` says proxy-core: Octavia's agent never parses this answer (its heartbeat reads only
// `show stat`; haproxy_query.show_info is unused), and HAProxy's version probing is done with
// `haproxy -v`, not here.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Plan } from '../compile/plan.ts';
import { G, T } from '../runtime/counters.ts';
import type { RateSampler } from './rates.ts';

export interface InfoContext {
  pid: number;
  /** Date.now() when the process started. */
  startedAt: number;
  nbthread: number;
  rates?: RateSampler;
  /** A soft stop is in progress. */
  stopping?: boolean;
  now?: number;
}

const VERSION = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

/** "0d 0h00m51s", HAProxy's uptime format. */
export function uptimeText(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${d}d ${h}h${String(m).padStart(2, '0')}m${String(s).padStart(2, '0')}s`;
}

/** The full `show info` answer (each line ends in "\n"). */
export function showInfo(plan: Plan, info: InfoContext): string {
  const c = plan.counters;
  const now = info.now ?? Date.now();
  const uptime = Math.max(0, Math.floor((now - info.startedAt) / 1000));
  let cumReq = 0;
  let bytesOut = 0;
  let listeners = 0;
  for (const fe of plan.frontends) {
    cumReq += c.sum(fe.slot, T.reqTot);
    bytesOut += c.sum(fe.slot, T.bout);
    listeners += fe.binds.length;
  }
  const g = plan.globalSlot;
  const connRate = info.rates?.rate(g) ?? 0;
  const maxConnRate = info.rates?.rateMax(g) ?? 0;
  const fields: [string, string | number][] = [
    ['Name', 'proxy-core'],
    ['Version', VERSION],
    ['Nbthread', info.nbthread],
    ['Nbproc', 1],
    ['Process_num', 1],
    ['Pid', info.pid],
    ['Uptime', uptimeText(uptime)],
    ['Uptime_sec', uptime],
    ['Maxconn', plan.maxconn],
    ['Hard_maxconn', plan.maxconn],
    ['CurrConns', c.gauge(g, G.scur)],
    ['CumConns', c.sum(g, T.stot)],
    ['CumReq', cumReq],
    ['ConnRate', connRate],
    ['ConnRateLimit', 0],
    ['MaxConnRate', maxConnRate],
    ['SessRate', connRate],
    ['SessRateLimit', 0],
    ['MaxSessRate', maxConnRate],
    ['node', hostname()],
    ['Stopping', info.stopping ? 1 : 0],
    ['Listeners', listeners],
    ['TotalBytesOut', bytesOut],
    ['Start_time_sec', Math.floor(info.startedAt / 1000)],
  ];
  return fields.map(([k, v]) => `${k}: ${v}\n`).join('');
}
