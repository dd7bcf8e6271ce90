// `show stat`: HAProxy 2.6's CSV, column for column (fields.ts), row for row.
//
// Rows come in HAProxy's order: proxies in file order; for each, its FRONTEND row, then one
// row per server, then its BACKEND row (a `listen` section gives all three kinds). Disabled
// proxies are not listed, as in HAProxy. Cells HAProxy leaves empty for a row type or mode
// (e.g. hrsp_* on a tcp proxy, check columns on an unchecked server) are left empty here too:
// tools such as Octavia's agent read the CSV by column name and rely on that.
//
// Values: totals are summed over every worker region (Counters.sum), gauges read at once;
// rates come from the supervisor's RateSampler. What the engine does not measure (queue and
// response times, compression, HTTP/2 and HTTP/1 mux counters...) reads 0 where HAProxy
// prints a number. Verified against HAProxy 2.6.12 in test/stats/show-stat.haproxy.test.ts.

import type { BackendPlan, FrontendPlan, MemberPlan, Plan } from '../compile/plan.ts';
import type { HealthChecker, MemberHealth } from '../health/checker.ts';
import { G, ServerState, T } from '../runtime/counters.ts';
import { STAT_FIELDS, STAT_HEADER, type StatField } from './fields.ts';
import { proxiesOf } from './proxies.ts';
import type { RateSampler } from './rates.ts';

/** Stats socket `level`: operator and admin also see addresses, cookies and algorithms. */
export type StatsLevel = 'user' | 'operator' | 'admin';

/** `show stat [<iid|name> <type> <sid>]`: which rows to print. */
export interface StatFilter {
  /** Proxy id or name; undefined = every proxy (HAProxy's -1). */
  proxy?: number | string;
  /** Bitmask: 1 frontends, 2 backends, 4 servers (-1 or 7 = all). */
  types: number;
  /** Server id; -1 = every server. */
  sid: number;
}

export interface ShowStatOptions {
  rates?: RateSampler;
  level?: StatsLevel;
  filter?: StatFilter;
  /** Date.now() to compute ages against (tests). */
  now?: number;
}

export const ALL_ROWS: StatFilter = { types: 7, sid: -1 };

/**
 * Parse the words after `show stat`. HAProxy accepts `<iid|name> <type> <sid>` (Octavia's
 * agent sends `-1 -1 -1` and `-1 6 -1`); output formats other than CSV are refused.
 */
export function parseStatArgs(words: string[]): StatFilter | { error: string } {
  const args = words.filter((w) => w !== 'desc' && w !== 'up' && w !== 'no-maint');
  if (args.some((w) => w === 'typed' || w === 'json' || w === 'domain')) {
    return { error: 'Only the CSV output of show stat is supported.\n' };
  }
  if (args.length === 0) return ALL_ROWS;
  if (args.length !== 3) return { error: 'Usage: show stat [<iid|name> <type> <sid>]\n' };
  const [px, type, sid] = args as [string, string, string];
  const n = Number(type);
  const s = Number(sid);
  if (!Number.isInteger(n) || !Number.isInteger(s)) return { error: 'Usage: show stat [<iid|name> <type> <sid>]\n' };
  const filter: StatFilter = { types: n === -1 ? 7 : n & 7, sid: s };
  if (px !== '-1') filter.proxy = /^\d+$/.test(px) ? Number(px) : px;
  return filter;
}

type Row = Partial<Record<StatField, string | number>>;

/** HAProxy's CSV quoting: only a cell holding a comma, a quote or a line break is quoted. */
function cell(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function line(row: Row): string {
  let out = '';
  for (const f of STAT_FIELDS) out += `${cell(row[f])},`;
  return `${out}\n`;
}

/** When a plan was first seen here: the age of rows no checker tracks. */
const births = new WeakMap<Plan, number>();

/** The full `show stat` answer: header line, then the rows (each line ends in "\n"). */
export function showStat(plan: Plan, checker: HealthChecker | undefined, opts: ShowStatOptions = {}): string {
  const filter = opts.filter ?? ALL_ROWS;
  const now = opts.now ?? Date.now();
  let birth = checker?.startedAt ?? births.get(plan);
  if (birth === undefined) births.set(plan, (birth = now));
  const ctx: Ctx = { plan, checker, rates: opts.rates, legends: opts.level === 'operator' || opts.level === 'admin', now, birth };

  let out = STAT_HEADER;
  for (const px of proxiesOf(plan.config)) {
    if (filter.proxy !== undefined && filter.proxy !== (typeof filter.proxy === 'number' ? px.iid : px.name)) continue;
    const fe = px.frontend && !px.frontend.disabled ? plan.frontendsByName.get(px.name) : undefined;
    const be = px.backend && !px.backend.disabled ? plan.backendsByName.get(px.name) : undefined;
    if (fe && filter.types & 1) out += line(frontendRow(ctx, fe, px.iid));
    if (be && filter.types & 4) {
      for (const m of be.members) if (filter.sid === -1 || filter.sid === m.id) out += line(serverRow(ctx, m, px.iid));
    }
    if (be && filter.types & 2) out += line(backendRow(ctx, be, px.iid));
  }
  return out;
}

interface Ctx {
  plan: Plan;
  checker: HealthChecker | undefined;
  rates: RateSampler | undefined;
  legends: boolean;
  now: number;
  birth: number;
}

const secondsSince = (now: number, t: number): number => Math.max(0, Math.floor((now - t) / 1000));

/** hrsp_* cells of a slot. */
function httpResponses(ctx: Ctx, slot: number): Row {
  const c = ctx.plan.counters;
  return {
    hrsp_1xx: c.sum(slot, T.hrsp1xx),
    hrsp_2xx: c.sum(slot, T.hrsp2xx),
    hrsp_3xx: c.sum(slot, T.hrsp3xx),
    hrsp_4xx: c.sum(slot, T.hrsp4xx),
    hrsp_5xx: c.sum(slot, T.hrsp5xx),
    hrsp_other: c.sum(slot, T.hrspOther),
  };
}

/** The cells a server and a backend both total over their slot: times picked, session rates,
 *  HTTP answers (http mode only) and aborts. */
function balancedCells(ctx: Ctx, s: number, http: boolean): Row {
  const c = ctx.plan.counters;
  return {
    lbtot: c.sum(s, T.lbtot),
    rate: ctx.rates?.rate(s) ?? 0,
    rate_max: ctx.rates?.rateMax(s) ?? 0,
    ...(http ? httpResponses(ctx, s) : {}),
    ...(http ? { req_tot: c.sum(s, T.reqTot) } : {}),
    cli_abrt: c.sum(s, T.cliAbrt),
    srv_abrt: c.sum(s, T.srvAbrt),
  };
}

/** The module columns after "-": TLS counters everywhere, HTTP/2 and HTTP/1 on proxies. */
function moduleColumns(withMux: boolean): Row {
  const row: Row = { '-': '-', ssl_sess: 0, ssl_reused_sess: 0, ssl_failed_handshake: 0 };
  if (!withMux) return row;
  for (const f of STAT_FIELDS.slice(STAT_FIELDS.indexOf('h2_headers_rcvd'))) row[f] = 0;
  return row;
}

// ---------------------------------------------------------------------------- frontend

function frontendRow(ctx: Ctx, fe: FrontendPlan, iid: number): Row {
  const c = ctx.plan.counters;
  const s = fe.slot;
  const http = fe.mode === 'http';
  const scur = c.gauge(s, G.scur);
  const stot = c.sum(s, T.stot);
  const rate = ctx.rates?.rate(s) ?? 0;
  const rateMax = ctx.rates?.rateMax(s) ?? 0;
  return {
    pxname: fe.name,
    svname: 'FRONTEND',
    scur,
    smax: c.gauge(s, G.smax),
    slim: fe.maxconn,
    stot,
    bin: c.sum(s, T.bin),
    bout: c.sum(s, T.bout),
    dreq: c.sum(s, T.dreq),
    dresp: c.sum(s, T.dresp),
    ereq: c.sum(s, T.ereq),
    // FULL at maxconn: Octavia marks the listener DEGRADED.
    status: fe.maxconn > 0 && scur >= fe.maxconn ? 'FULL' : 'OPEN',
    pid: 1,
    iid,
    sid: 0,
    type: 0,
    rate,
    rate_lim: 0,
    rate_max: rateMax,
    ...(http ? httpResponses(ctx, s) : {}),
    req_rate: ctx.rates?.reqRate(s) ?? 0,
    req_rate_max: ctx.rates?.reqRateMax(s) ?? 0,
    req_tot: c.sum(s, T.reqTot),
    comp_in: 0,
    comp_out: 0,
    comp_byp: 0,
    comp_rsp: 0,
    mode: fe.mode,
    conn_rate: rate,
    conn_rate_max: rateMax,
    conn_tot: stot,
    ...(http ? { intercepted: c.sum(s, T.intercepted), cache_lookups: 0, cache_hits: 0 } : {}),
    dcon: 0,
    dses: 0,
    wrew: 0,
    eint: 0,
    ...moduleColumns(true),
  };
}

// ------------------------------------------------------------------------------ server

/** `UP`, `UP 2/3` (going down), `DOWN 1/2` (going up), `DOWN`, `MAINT`, `DRAIN`, `no check`. */
export function serverStatus(m: MemberPlan, state: number, h: MemberHealth | undefined): string {
  if (m.disabled || state === ServerState.maint) return 'MAINT';
  if (state === ServerState.drain) return 'DRAIN';
  if (!h || !h.active) {
    if (state === ServerState.up) return 'UP';
    if (state === ServerState.down) return 'DOWN';
    return 'no check';
  }
  if (h.running) {
    const top = h.rise + h.fall - 1;
    return h.health >= top ? 'UP' : `UP ${h.health - h.rise + 1}/${h.fall}`;
  }
  return h.health === 0 ? 'DOWN' : `DOWN ${h.health}/${h.rise}`;
}

/** `addr`: ip:port, IPv6 in brackets. */
function address(host: string, port: number | undefined): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/**
 * lastsess, and HAProxy's average and largest queue / connect / response / total times in ms
 * (over the last 1024 requests of each thread; response time is 0 in mode tcp).
 */
function timeCells(ctx: Ctx, s: number): Row {
  const c = ctx.plan.counters;
  const last = c.max(s, T.lastSess);
  return {
    lastsess: last > 0 ? Math.max(0, Math.floor(ctx.now / 1000) - last) : -1,
    qtime: c.averageTime(s, T.qtime),
    ctime: c.averageTime(s, T.ctime),
    rtime: c.averageTime(s, T.rtime),
    ttime: c.averageTime(s, T.ttime),
    qtime_max: c.max(s, T.qtimeMax),
    ctime_max: c.max(s, T.ctimeMax),
    rtime_max: c.max(s, T.rtimeMax),
    ttime_max: c.max(s, T.ttimeMax),
  };
}

function serverRow(ctx: Ctx, m: MemberPlan, iid: number): Row {
  const c = ctx.plan.counters;
  const s = m.slot;
  const http = m.backend.mode === 'http';
  const state = c.gauge(s, G.state);
  const h = m.checked ? ctx.checker?.status(m) : undefined;
  const active = h?.active === true;
  const stot = c.sum(s, T.stot);
  const reuse = c.sum(s, T.connReuse);
  const row: Row = {
    pxname: m.backend.name,
    svname: m.name,
    qcur: c.gauge(s, G.qcur),
    qmax: c.gauge(s, G.qmax),
    scur: c.gauge(s, G.scur),
    smax: c.gauge(s, G.smax),
    slim: m.maxconn > 0 ? m.maxconn : '',
    stot,
    bin: c.sum(s, T.bin),
    bout: c.sum(s, T.bout),
    dresp: c.sum(s, T.dresp),
    econ: c.sum(s, T.econ),
    eresp: c.sum(s, T.eresp),
    wretr: c.sum(s, T.wretr),
    wredis: c.sum(s, T.wredis),
    status: serverStatus(m, state, h),
    weight: c.gauge(s, G.weight),
    act: m.backup ? 0 : 1,
    bck: m.backup ? 1 : 0,
    lastchg: secondsSince(ctx.now, h?.lastChange ?? ctx.birth),
    qlimit: m.maxqueue > 0 ? m.maxqueue : '',
    pid: 1,
    iid,
    sid: m.id,
    type: 2,
    ...balancedCells(ctx, s, http),
    ...timeCells(ctx, s),
    mode: m.backend.mode,
    wrew: 0,
    connect: Math.max(0, stot - reuse),
    reuse,
    srv_icur: 0,

    eint: 0,
    idle_conn_cur: 0,
    safe_conn_cur: 0,
    used_conn_cur: 0,
    need_conn_est: h?.connected ? 1 : 0,
    uweight: m.weight,
    ...moduleColumns(false),
  };
  if (h?.checked) {
    row.chkfail = c.sum(s, T.chkfail);
    row.chkdown = c.sum(s, T.chkdown);
    row.downtime = Math.floor(h.downtime / 1000);
  }
  if (h && active) {
    row.check_status = `${h.inProgress ? '* ' : ''}${h.checkStatus}`;
    if (h.checkCode !== undefined) row.check_code = h.checkCode;
    if (h.checkDuration !== undefined) row.check_duration = h.checkDuration;
    row.last_chk = h.info;
    row.check_desc = h.desc;
    row.check_rise = h.rise;
    row.check_fall = h.fall;
    row.check_health = h.health;
  }
  if (ctx.legends) {
    row.addr = address(m.host, m.port);
    if (m.cookie !== undefined) row.cookie = m.cookie;
  }
  return row;
}

// ----------------------------------------------------------------------------- backend

/**
 * The BACKEND row's weight and counts, as HAProxy's load balancer sees them: usable active
 * servers; when none, the usable backups (all of them with `option allbackups`, else the first).
 */
function backendWeights(be: BackendPlan, c: Plan['counters']) {
  let act = 0;
  let bck = 0;
  let wAct = 0;
  let uAct = 0;
  let wBck = 0;
  let uBck = 0;
  let first: MemberPlan | undefined;
  for (const m of be.members) {
    if (m.disabled) continue;
    const state = c.gauge(m.slot, G.state);
    const w = c.gauge(m.slot, G.weight);
    if ((state !== ServerState.up && state !== ServerState.noCheck) || w <= 0) continue;
    if (m.backup) {
      bck++;
      wBck += w;
      uBck += m.weight;
      first ??= m;
    } else {
      act++;
      wAct += w;
      uAct += m.weight;
    }
  }
  if (act > 0) return { act, bck, weight: wAct, uweight: uAct };
  if (be.allbackups) return { act, bck, weight: wBck, uweight: uBck };
  if (first) return { act, bck, weight: c.gauge(first.slot, G.weight), uweight: first.weight };
  return { act, bck, weight: 0, uweight: 0 };
}

function backendRow(ctx: Ctx, be: BackendPlan, iid: number): Row {
  const c = ctx.plan.counters;
  const s = be.slot;
  const http = be.mode === 'http';
  const w = backendWeights(be, c);
  const model = ctx.plan.config.backends.find((b) => b.name === be.name);
  const bs = ctx.checker?.backendStatus(be);
  const stot = c.sum(s, T.stot);
  const reuse = c.sum(s, T.connReuse);
  const row: Row = {
    pxname: be.name,
    svname: 'BACKEND',
    qcur: c.gauge(s, G.qcur),
    qmax: c.gauge(s, G.qmax),
    scur: c.gauge(s, G.scur),
    smax: c.gauge(s, G.smax),
    // An unset fullconn with no frontend routing here is 1 in HAProxy.
    slim: Math.max(1, be.fullconn),
    stot,
    bin: c.sum(s, T.bin),
    bout: c.sum(s, T.bout),
    dreq: c.sum(s, T.dreq),
    dresp: c.sum(s, T.dresp),
    econ: c.sum(s, T.econ),
    eresp: c.sum(s, T.eresp),
    wretr: c.sum(s, T.wretr),
    wredis: c.sum(s, T.wredis),
    status: w.weight > 0 || be.members.length === 0 ? 'UP' : 'DOWN',
    weight: w.weight,
    act: w.act,
    bck: w.bck,
    chkdown: c.sum(s, T.chkdown),
    lastchg: secondsSince(ctx.now, bs?.lastChange ?? ctx.birth),
    pid: 1,
    iid,
    sid: 0,
    type: 1,
    ...balancedCells(ctx, s, http),
    comp_in: 0,
    comp_out: 0,
    comp_byp: 0,
    comp_rsp: 0,
    ...timeCells(ctx, s),
    mode: be.mode,
    ...(http ? { cache_lookups: 0, cache_hits: 0 } : {}),
    wrew: 0,
    connect: Math.max(0, stot - reuse),
    reuse,

    eint: 0,
    uweight: w.uweight,
    agg_server_status: 0,
    agg_server_check_status: 0,
    agg_check_status: 0,
    ...moduleColumns(true),
  };
  if (be.members.length > 0) row.downtime = Math.floor((bs?.downtime ?? 0) / 1000);
  if (ctx.legends) {
    if (model?.cookie) row.cookie = model.cookie.name;
    if (model) row.algo = model.balance.algorithm;
  }
  return row;
}
