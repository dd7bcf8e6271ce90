// The comparison table: absolute figures of both engines, the ratio proxy-core / HAProxy and
// the targets the project set for proxy-core; when node-pipe ran, its figures and its ratio
// to HAProxy in two more columns (the floor of any engine on node:net).

import type { EngineName } from './engines.ts';

export type Metric = 'requestsPerS' | 'p50Ms' | 'p99Ms' | 'cpuMsPer10k' | 'sysMsPer10k' | 'mibPerS' | 'memberConnsPer10k' | 'errors';

export const METRIC_LABEL: Record<Metric, string> = {
  requestsPerS: 'req/s',
  p50Ms: 'p50 ms',
  p99Ms: 'p99 ms',
  cpuMsPer10k: 'CPU ms / 10k req',
  sysMsPer10k: '  of which kernel',
  mibPerS: 'MiB/s',
  memberConnsPer10k: 'member conns / 10k req',
  errors: 'errors (sock+non-2xx)',
};

/** A target on the ratio proxy-core / HAProxy of one metric. */
export interface RatioTarget {
  metric: Metric;
  op: '<=' | '>=';
  ratio: number;
}

export interface Row {
  scenario: string;
  metric: string;
  haproxy: number | undefined;
  proxyCore: number | undefined;
  ratio: number | undefined;
  /** node-pipe's figure and its ratio to HAProxy's. */
  pipe: number | undefined;
  pipeRatio: number | undefined;
  target: string;
  /** undefined: no target, or a figure is missing. */
  met: boolean | undefined;
}

/** Idle RSS target, absolute (MiB). */
export const IDLE_RSS_MAX_MIB = 64;

function ratio(x: number | undefined, h: number | undefined): number | undefined {
  return h !== undefined && x !== undefined && h > 0 ? x / h : undefined;
}

/**
 * The median over rounds of each round's ratio x / h (`xs[i]` and `hs[i]` measured in the same
 * round, one after the other), or undefined when no round has both figures.
 */
export function pairedRatio(xs: number[] | undefined, hs: number[] | undefined): number | undefined {
  if (xs === undefined || hs === undefined) return undefined;
  const rs: number[] = [];
  for (let i = 0; i < Math.min(xs.length, hs.length); i++) {
    const r = ratio(xs[i], hs[i]);
    if (r !== undefined) rs.push(r);
  }
  return rs.length === 0 ? undefined : median(rs);
}

/** The median of `xs` (not empty; left unchanged). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * One metric's row: `figures` are each engine's median over rounds; `perRound` each engine's
 * figure round by round, from which the ratios are taken (pairedRatio()): the two engines of a
 * round run back to back, so a slow or fast stretch of the machine falls on both, where the
 * ratio of two medians can set one engine's fast round against the other's slow one.
 */
export function ratioRow(
  scenario: string,
  metric: Metric,
  figures: Partial<Record<EngineName, number>>,
  target: RatioTarget | undefined,
  perRound: Partial<Record<EngineName, number[]>>,
): Row {
  const h = figures.haproxy;
  const p = figures['proxy-core'];
  const r = pairedRatio(perRound['proxy-core'], perRound.haproxy);
  let met: boolean | undefined;
  if (target && r !== undefined) met = target.op === '<=' ? r <= target.ratio : r >= target.ratio;
  return {
    scenario,
    metric: METRIC_LABEL[metric],
    haproxy: h,
    proxyCore: p,
    ratio: r,
    pipe: figures['node-pipe'],
    pipeRatio: pairedRatio(perRound['node-pipe'], perRound.haproxy),
    target: target ? `${target.op === '<=' ? '≤' : '≥'} ${target.ratio}×` : '',
    met,
  };
}

export function idleRssRow(figures: Partial<Record<EngineName, number>>): Row {
  const p = figures['proxy-core'];
  const h = figures.haproxy;
  return {
    scenario: 'idle instance',
    metric: 'RSS MiB',
    haproxy: h,
    proxyCore: p,
    ratio: ratio(p, h),
    pipe: figures['node-pipe'],
    pipeRatio: ratio(figures['node-pipe'], h),
    target: `≤ ${IDLE_RSS_MAX_MIB} MiB`,
    met: p === undefined ? undefined : p <= IDLE_RSS_MAX_MIB,
  };
}

function fmt(n: number | undefined): string {
  if (n === undefined) return '-';
  if (Number.isInteger(n) || Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Fixed-width text table. */
export function formatTable(rows: Row[], pipeLabel = 'Node pipe'): string {
  const withPipe = rows.some((r) => r.pipe !== undefined);
  const head = ['scenario', 'metric', 'HAProxy', 'proxy-core', 'ratio', 'target', 'met', ...(withPipe ? [pipeLabel, 'pipe ratio'] : [])];
  const body = rows.map((r) => [
    r.scenario,
    r.metric,
    fmt(r.haproxy),
    fmt(r.proxyCore),
    r.ratio === undefined ? '-' : r.ratio.toFixed(2),
    r.target,
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    ...(withPipe ? [fmt(r.pipe), r.pipeRatio === undefined ? '-' : r.pipeRatio.toFixed(2)] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const right = new Set([2, 3, 4, 7, 8]);
  const line = (cells: string[]) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  let last = '';
  for (let i = 0; i < body.length; i++) {
    const cells = [...body[i]!];
    if (cells[0] === last) cells[0] = '';
    else last = cells[0]!;
    out.push(line(cells));
  }
  return out.join('\n');
}
