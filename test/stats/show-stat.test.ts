// `show stat` from a plan and its shared counters: the exact header, HAProxy's row order,
// totals summed over worker regions, statuses, filters, CSV quoting, rates.

import { describe, expect, it } from 'vitest';
import { HealthChecker } from '../../proxy-core/health/checker.ts';
import { G, ServerState, T } from '../../proxy-core/runtime/counters.ts';
import { RateSampler } from '../../proxy-core/stats/rates.ts';
import { parseStatArgs, showStat } from '../../proxy-core/stats/show-stat.ts';
import { parseCsv, statRecords } from './csv.ts';
import { buildConfig, buildPlan, type LbSpec } from './fixture.ts';

/** HAProxy 2.6.12's header line, as `show stat` printed it (Debian 2.6.12-1+deb12u4). */
const HAPROXY_26_HEADER =
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,';

const LISTENER_A = '00000000-0000-4000-8000-00000000000a';
const LISTENER_B = '00000000-0000-4000-8000-00000000000b';
const POOL_A = `00000000-0000-4000-8000-0000000000a1:${LISTENER_A}`;
const POOL_B = `00000000-0000-4000-8000-0000000000b1:${LISTENER_B}`;

const spec: LbSpec = {
  maxconn: 1000,
  sections: [
    { kind: 'frontend', name: LISTENER_A, mode: 'http', binds: [['127.0.0.1', 8080]], maxconn: 2, defaultBackend: POOL_A },
    { kind: 'backend', name: POOL_A, mode: 'http', fullconn: 100, servers: [{ name: 'a1', port: 80, check: { inter: 60_000 } }, { name: 'a2', port: 80, weight: 0 }, { name: 'a3', port: 80, disabled: true }] },
    { kind: 'frontend', name: LISTENER_B, mode: 'tcp', binds: [['127.0.0.1', 8081]], defaultBackend: POOL_B },
    { kind: 'backend', name: POOL_B, mode: 'tcp', servers: [{ name: 'b1', port: 81 }, { name: 'b2', port: 81, backup: true }] },
    { kind: 'listen', name: 'stats,odd"name', mode: 'tcp', binds: [['127.0.0.1', 8082]], servers: [{ name: 'x', port: 82 }] },
  ],
};

describe('show stat', () => {
  it("prints HAProxy 2.6's exact header and one RFC 4180 row per frontend, server and backend, in HAProxy's order", () => {
    const { plan } = buildPlan(buildConfig(spec));
    const out = showStat(plan, undefined);
    expect(out.split('\n')[0]).toBe(HAPROXY_26_HEADER);
    expect(out.endsWith(',\n')).toBe(true);
    const rows = parseCsv(out);
    expect(rows.every((r) => r.length === rows[0]!.length)).toBe(true);
    const records = statRecords(out);
    expect(records.map((r) => [r.pxname, r.svname, r.type, r.iid, r.sid])).toEqual([
      [LISTENER_A, 'FRONTEND', '0', '2', '0'],
      [POOL_A, 'a1', '2', '3', '1'],
      [POOL_A, 'a2', '2', '3', '2'],
      [POOL_A, 'a3', '2', '3', '3'],
      [POOL_A, 'BACKEND', '1', '3', '0'],
      [LISTENER_B, 'FRONTEND', '0', '4', '0'],
      [POOL_B, 'b1', '2', '5', '1'],
      [POOL_B, 'b2', '2', '5', '2'],
      [POOL_B, 'BACKEND', '1', '5', '0'],
      // A listen section: one proxy, all three kinds of rows. The name is quoted in the CSV.
      ['stats,odd"name', 'FRONTEND', '0', '6', '0'],
      ['stats,odd"name', 'x', '2', '6', '1'],
      ['stats,odd"name', 'BACKEND', '1', '6', '0'],
    ]);
    expect(out).toContain('"stats,odd""name",FRONTEND,');
    const by = (sv: string) => records.find((r) => r.svname === sv && r.pxname !== LISTENER_B)!;
    expect([by('a1').status, by('a2').status, by('a3').status, by('b1').status]).toEqual(['UP', 'no check', 'MAINT', 'no check']);
    expect([by('b2').act, by('b2').bck, by('a1').act]).toEqual(['0', '1', '1']);
    // Frontend limits: its own maxconn, else the global one; backend: fullconn.
    expect(records[0]!.slim).toBe('2');
    expect(records[5]!.slim).toBe('1000');
    expect(records[4]!.slim).toBe('100');
    // hrsp_* exist for http proxies only.
    expect(records[0]!.hrsp_2xx).toBe('0');
    expect(records[5]!.hrsp_2xx).toBe('');
  });

  it('reflects what the workers counted, summed over every worker region', () => {
    const { plan, workers } = buildPlan(buildConfig(spec), 3);
    const fe = plan.frontendsByName.get(LISTENER_A)!;
    const be = plan.backendsByName.get(POOL_A)!;
    const a1 = be.members[0]!;
    workers.forEach((w, i) => {
      w.enter(fe.slot);
      w.add(fe.slot, T.bin, 100 * (i + 1));
      w.add(fe.slot, T.bout, 1000);
      w.add(fe.slot, T.ereq, 1);
      w.add(fe.slot, T.reqTot, 2);
      w.add(fe.slot, T.hrsp2xx, 2);
      w.enter(be.slot);
      w.enter(a1.slot);
      w.add(a1.slot, T.lbtot, 1);
      w.add(a1.slot, T.econ, i);
    });
    workers[0]!.leave(fe.slot);
    workers[0]!.enqueue(a1.slot);
    const records = statRecords(showStat(plan, undefined));
    const row = (px: string, sv: string) => records.find((r) => r.pxname === px && r.svname === sv)!;
    const f = row(LISTENER_A, 'FRONTEND');
    expect([f.scur, f.smax, f.stot, f.bin, f.bout, f.ereq, f.req_tot, f.hrsp_2xx, f.conn_tot]).toEqual(['2', '3', '3', '600', '3000', '3', '6', '6', '3']);
    // Two current sessions against maxconn 2: the listener is FULL.
    expect(f.status).toBe('FULL');
    const s = row(POOL_A, 'a1');
    expect([s.scur, s.stot, s.lbtot, s.econ, s.qcur, s.qmax]).toEqual(['3', '3', '3', '3', '1', '1']);
    expect(row(POOL_A, 'BACKEND').stot).toBe('3');
  });

  it('averages the times over every worker, each over its last 1024 samples, rounded up; maxima over all', () => {
    const { plan, workers } = buildPlan(buildConfig(spec), 2);
    const be = plan.backendsByName.get(POOL_A)!;
    const a1 = be.members[0]!;
    // Worker 0: 13,000 samples. Past the first 1024 the sums slide (HAProxy's swrate: each
    // new sample takes 1/1024 of the sum's weight), so the early 100 ms responses fade out.
    for (let i = 0; i < 13_000; i++) workers[0]!.addTimes(a1.slot, 0, 1, i < 1000 ? 100 : 10, 20);
    // Worker 1: 4 samples, still an exact sum.
    for (const r of [30, 30, 30, 31]) workers[1]!.addTimes(a1.slot, 5, 2, r, 40.9);
    const s = statRecords(showStat(plan, undefined)).find((r) => r.pxname === POOL_A && r.svname === 'a1')!;
    // (≈1024 × 10 + 121) / (1024 + 4) samples, rounded up.
    expect(s.rtime).toBe('11');
    expect([s.qtime, s.ctime, s.ttime]).toEqual([String(Math.ceil((4 * 5) / 1028)), String(Math.ceil((1024 + 8) / 1028)), String(Math.ceil((1024 * 20 + 4 * 40) / 1028))]);
    expect([s.qtime_max, s.ctime_max, s.rtime_max, s.ttime_max]).toEqual(['5', '2', '100', '40']);
  });

  it('shows transitional, DOWN and DRAIN states and the check columns of checked servers only', () => {
    const { plan } = buildPlan(buildConfig(spec));
    const checker = new HealthChecker(plan);
    const be = plan.backendsByName.get(POOL_A)!;
    let records = statRecords(showStat(plan, checker));
    const a1 = () => records.find((r) => r.svname === 'a1')!;
    // Not yet checked: HAProxy's initial state.
    expect([a1().status, a1().check_status, a1().check_desc, a1().check_health, a1().check_rise, a1().check_fall]).toEqual(['UP 1/3', 'INI', 'Initializing', '2', '2', '3']);
    expect([a1().chkfail, a1().chkdown, a1().downtime, a1().check_duration]).toEqual(['0', '0', '0', '']);
    const a2 = records.find((r) => r.svname === 'a2')!;
    expect([a2.check_status, a2.chkfail, a2.downtime, a2.weight, a2.uweight]).toEqual(['', '', '', '0', '0']);

    plan.counters.setGauge(be.members[0]!.slot, G.state, ServerState.drain);
    records = statRecords(showStat(plan, checker));
    expect(a1().status).toBe('DRAIN');
    // No usable member left (a1 drained, a2 weight 0, a3 disabled): the backend is DOWN.
    const bk = records.find((r) => r.pxname === POOL_A && r.svname === 'BACKEND')!;
    expect([bk.status, bk.weight, bk.act, bk.bck]).toEqual(['DOWN', '0', '0', '0']);
    checker.stop();
  });

  it('shows addresses, cookies and algorithms from level operator up, as HAProxy does', () => {
    const { plan } = buildPlan(buildConfig(spec));
    const user = statRecords(showStat(plan, undefined));
    const admin = statRecords(showStat(plan, undefined, { level: 'admin' }));
    expect(user.find((r) => r.svname === 'a1')!.addr).toBe('');
    expect(admin.find((r) => r.svname === 'a1')!.addr).toBe('127.0.0.1:80');
    expect(admin.find((r) => r.svname === 'BACKEND')!.algo).toBe('roundrobin');
  });

  it('filters like `show stat <iid|name> <type> <sid>`: Octavia asks for -1 6 -1 (servers and backends)', () => {
    const { plan } = buildPlan(buildConfig(spec));
    const rows = (args: string) => {
      const filter = parseStatArgs(args.split(' ').filter(Boolean));
      if ('error' in filter) throw new Error(filter.error);
      return statRecords(showStat(plan, undefined, { filter })).map((r) => `${r.pxname === POOL_A ? 'A' : r.pxname === POOL_B ? 'B' : r.pxname.slice(0, 5)}/${r.svname}`);
    };
    expect(rows('-1 6 -1')).toEqual(['A/a1', 'A/a2', 'A/a3', 'A/BACKEND', 'B/b1', 'B/b2', 'B/BACKEND', 'stats/x', 'stats/BACKEND']);
    expect(rows('-1 1 -1')).toEqual(['00000/FRONTEND', '00000/FRONTEND', 'stats/FRONTEND']);
    expect(rows(`${POOL_B} -1 -1`)).toEqual(['B/b1', 'B/b2', 'B/BACKEND']);
    expect(rows('3 4 2')).toEqual(['A/a2']);
    expect(rows('')).toHaveLength(12);
    expect(parseStatArgs(['typed'])).toHaveProperty('error');
    expect(parseStatArgs(['1', '2'])).toHaveProperty('error');
  });

  it('reports session rates per second from the sampler, and their maximum', () => {
    const { plan, workers } = buildPlan(buildConfig(spec));
    const rates = new RateSampler(plan.counters);
    const fe = plan.frontendsByName.get(LISTENER_A)!;
    for (let i = 0; i < 5; i++) workers[0]!.enter(fe.slot);
    workers[1]!.add(fe.slot, T.reqTot, 7);
    rates.sample();
    workers[1]!.enter(fe.slot);
    rates.sample();
    const f = statRecords(showStat(plan, undefined, { rates })).find((r) => r.svname === 'FRONTEND')!;
    expect([f.rate, f.rate_max, f.conn_rate, f.conn_rate_max, f.req_rate, f.req_rate_max]).toEqual(['1', '5', '1', '5', '0', '7']);
  });
});
