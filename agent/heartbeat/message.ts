// Heartbeat message version 3 (contract 4.3) built from `show stat` rows, the way Octavia's
// health daemon builds it (health_daemon.build_stats_message + haproxy_query.get_pool_status):
// one listener per FRONTEND row, one pool per backend with its servers' status strings,
// internal `prometheus` proxies left out (not billed traffic, not a listener of the LB).

import type { CounterValues, StatsCounters } from './counters.ts';
import type { StatRow } from './stats-query.ts';

/** Octavia's MSG_VER 3: combined config, top-level pools, stats as deltas. */
export const MESSAGE_VERSION = 3;

export interface ListenerReport {
  /** HAProxy frontend status: `OPEN`, `FULL` (at maxconn) or `STOP`. */
  status: string;
  stats: {
    tx: number; // bytes out since the previous heartbeat (bout delta)
    rx: number; // bytes in since the previous heartbeat (bin delta)
    conns: number; // current sessions (scur, absolute)
    totconns: number; // new sessions since the previous heartbeat (stot delta)
    ereq: number; // request errors since the previous heartbeat (ereq delta)
  };
}

export interface PoolReport {
  /** Backend status: `UP` (usable servers, or none configured) or `DOWN`. */
  status: string;
  /** member id → HAProxy status string (`UP`, `UP 1/3`, `DOWN`, `DRAIN`, `MAINT`, `no check`…). */
  members: Record<string, string>;
}

export interface HeartbeatMessage {
  id: string;
  seq: number;
  listeners: Record<string, ListenerReport>;
  pools: Record<string, PoolReport>;
  ver: number;
}

export function emptyMessage(amphoraId: string, seq: number): HeartbeatMessage {
  return { id: amphoraId, seq, listeners: {}, pools: {}, ver: MESSAGE_VERSION };
}

function int(row: StatRow, column: string): number {
  const n = Number.parseInt(row[column] ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

// HAProxy's `type` column: 0 frontend, 1 backend, 2 server, 3 listener (socket-stats).
function rowKind(row: StatRow): 'frontend' | 'backend' | 'server' | 'other' {
  switch (row.type) {
    case '0':
      return 'frontend';
    case '1':
      return 'backend';
    case '2':
      return 'server';
    case '3':
      return 'other';
    default:
      if (row.svname === 'FRONTEND') return 'frontend';
      if (row.svname === 'BACKEND') return 'backend';
      return 'server';
  }
}

/** Add one running load balancer's `show stat` rows to `msg`; updates `counters`. `process`
 *  identifies the engine process that answered (see StatsCounters.delta). */
export function addLoadBalancerStats(msg: HeartbeatMessage, rows: StatRow[], counters: StatsCounters, process?: string): void {
  for (const row of rows) {
    const proxy = row.pxname ?? '';
    if (proxy.includes('prometheus')) continue;
    const kind = rowKind(row);
    if (kind === 'frontend') {
      const current: CounterValues = { bin: int(row, 'bin'), bout: int(row, 'bout'), ereq: int(row, 'ereq'), stot: int(row, 'stot') };
      const d = counters.delta(proxy, current, process);
      msg.listeners[proxy] = {
        status: row.status ?? '',
        stats: { tx: d.bout, rx: d.bin, conns: int(row, 'scur'), totconns: d.stot, ereq: d.ereq },
      };
    } else if (kind === 'backend' || kind === 'server') {
      // Backend names are `<pool_id>:<listener_id>`; the health manager cuts at the last ':'.
      const pool = (msg.pools[proxy] ??= { status: '', members: {} });
      if (kind === 'backend') {
        pool.status = row.status ?? '';
      } else {
        // Octavia's quirk, kept: a server UP with weight 0 is reported DRAIN (some HAProxy
        // versions do not compute DRAIN themselves).
        const status = row.status === 'UP' && row.weight === '0' ? 'DRAIN' : (row.status ?? '');
        pool.members[row.svname ?? ''] = status;
      }
    }
  }
}
