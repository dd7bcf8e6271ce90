// Differential test: real HAProxy 2.6 and proxy-core on the same load balancer, the same
// loopback members, `show stat` compared row by row and column by column. Only what depends on
// timing (lastchg, downtime, check_duration, the "* " of a check in progress) and HAProxy's
// own HTTP/1 mux counters of check traffic are left out of the comparison.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../proxy-core/compile/plan.ts';
import type { ProxyConfig } from '../../proxy-core/config/model.ts';
import { HealthChecker } from '../../proxy-core/health/checker.ts';
import { STAT_HEADER } from '../../proxy-core/stats/fields.ts';
import { showServersState } from '../../proxy-core/stats/servers-state.ts';
import { showStat, type StatsLevel } from '../../proxy-core/stats/show-stat.ts';
import { closedPort, httpMember, tcpMember, waitFor, type Member } from '../health/members.ts';
import { query } from './client.ts';
import { statRecords } from './csv.ts';
import { buildConfig, buildPlan, renderHaproxyCfg, type LbSpec } from './fixture.ts';

const HAPROXY = '/usr/sbin/haproxy';

type ParseConfig = (files: { path: string; text: string }[]) => { config: ProxyConfig; errors: unknown[] };
/** The config parser, once it exists (config/parse.ts, another engineer's). */
const parseConfig = await import('../../proxy-core/config/parse.ts').then(
  (m: { parseConfig: ParseConfig }) => m.parseConfig,
  () => undefined,
);
const have = existsSync(HAPROXY);

/** Columns whose value depends on when the rows are read. */
const TIMING = new Set(['lastchg', 'downtime', 'check_duration']);

/**
 * Run a comparison until it finds no difference (6 tries, 500 ms apart): a member hosted by
 * this busy test process may miss one side's check deadline now and then. The last
 * differences are returned.
 */
async function eventually(diff: () => Promise<string[]>): Promise<string[]> {
  let last: string[] = [];
  for (let attempt = 0; attempt < 6; attempt++) {
    last = await diff();
    if (last.length === 0) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  return last;
}

function compare(ours: Record<string, string>[], theirs: Record<string, string>[]): string[] {
  const diffs: string[] = [];
  const keys = (rows: Record<string, string>[]) => rows.map((r) => `${r.pxname}/${r.svname}`);
  if (keys(ours).join(' ') !== keys(theirs).join(' ')) return [`rows: ours ${keys(ours).join(' ')} / haproxy ${keys(theirs).join(' ')}`];
  ours.forEach((row, i) => {
    const other = theirs[i]!;
    // While a check runs HAProxy shows "* <last status>" and has already cleared its code and text.
    const running = /^\* /.test(row.check_status ?? '') || /^\* /.test(other.check_status ?? '');
    for (const [col, value] of Object.entries(row)) {
      if (TIMING.has(col)) continue;
      if (running && (col === 'check_code' || col === 'last_chk')) continue;
      // HAProxy's HTTP/1 mux counts its own check connections on the backend.
      if (row.type === '1' && /^h[12]_/.test(col)) continue;
      const a = col === 'check_status' ? value.replace(/^\* /, '') : value;
      const b = col === 'check_status' ? other[col]!.replace(/^\* /, '') : other[col];
      if (a !== b) diffs.push(`${row.pxname}/${row.svname} ${col}: ours=${JSON.stringify(a)} haproxy=${JSON.stringify(b)}`);
    }
  });
  return diffs;
}

describe.skipIf(!have)('show stat against HAProxy 2.6', () => {
  const members: Member[] = [];
  let dir = '';
  let haproxy: ChildProcess | undefined;
  let spec: LbSpec;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stats-diff-'));
    const ok = await httpMember(() => 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    const bad = await httpMember(() => 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
    const tcp = await tcpMember();
    members.push(ok, bad, tcp);
    const closed = await closedPort();
    const [p1, p2, p3] = [await closedPort(), await closedPort(), await closedPort()];
    // Quick checks while a member is unchecked, changing or down; a roomy `inter` (also the
    // connect budget) once it is steadily up.
    const check = { inter: 2000, fastinter: 200, downinter: 200 };
    spec = {
      maxconn: 1000,
      sections: [
        { kind: 'frontend', name: 'fe_http', mode: 'http', binds: [['127.0.0.1', p1]], maxconn: 500, defaultBackend: 'pool_http' },
        { kind: 'frontend', name: 'fe_tcp', mode: 'tcp', binds: [['127.0.0.1', p2]], defaultBackend: 'pool_tcp' },
        {
          kind: 'backend',
          name: 'pool_http',
          mode: 'http',
          timeouts: { check: 1000 },
          options: { httpchk: { method: 'GET', uri: '/health', version: 'HTTP/1.0', headers: [] } },
          cookie: 'SRV',
          servers: [
            { name: 'ok', port: ok.port, weight: 3, check, cookie: 'ok1' },
            { name: 'bad', port: bad.port, check },
            { name: 'closed', port: closed, check },
            { name: 'bk', port: ok.port, weight: 2, backup: true },
            { name: 'off', port: ok.port, disabled: true, check },
            { name: 'lim', port: ok.port, maxconn: 10, maxqueue: 5 },
          ],
        },
        {
          kind: 'backend',
          name: 'pool_tcp',
          mode: 'tcp',
          balance: 'leastconn',
          servers: [
            { name: 't1', port: tcp.port, check },
            { name: 't2', host: '::1', port: tcp.port, id: 7 },
            { name: 't3', port: closed, check, backup: true },
          ],
        },
        { kind: 'listen', name: 'li', mode: 'tcp', binds: [['127.0.0.1', p3]], fullconn: 77, servers: [{ name: 'l1', port: tcp.port, check }] },
        { kind: 'backend', name: 'empty', mode: 'http', servers: [] },
        {
          kind: 'backend',
          name: 'allbk',
          options: { allbackups: true },
          servers: [
            { name: 'p', port: closed, check },
            { name: 'b1', port: tcp.port, backup: true, weight: 2 },
            { name: 'b2', port: tcp.port, backup: true, weight: 5 },
          ],
        },
      ],
    };
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, renderHaproxyCfg(spec, [[join(dir, 'user.sock'), 'user'], [join(dir, 'admin.sock'), 'admin']]));
    haproxy = spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    haproxy.stderr!.on('data', (d) => (stderr += d));
    const up = await waitFor(() => existsSync(join(dir, 'admin.sock')), 10_000);
    if (!up) throw new Error(`haproxy did not start: ${stderr}`);
  });

  afterAll(async () => {
    if (haproxy && haproxy.exitCode === null) {
      const gone = new Promise((r) => haproxy!.once('exit', r));
      haproxy.kill('SIGTERM');
      await gone;
    }
    for (const m of members) await m.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the same header, rows and cells as HAProxy 2.6.12 once the checks have settled', async () => {
    await sameAsHaproxy(buildPlan(buildConfig(spec, join(dir, 'user.sock'))).plan);
  });

  it.skipIf(!parseConfig)('does so from the very haproxy.cfg HAProxy runs, through the parser and the compiler', async () => {
    const { config, errors } = parseConfig!([{ path: 'haproxy.cfg', text: readFileSync(join(dir, 'haproxy.cfg'), 'utf8') }]);
    expect(errors).toEqual([]);
    await sameAsHaproxy(buildPlan(config).plan);
  });

  async function sameAsHaproxy(plan: Plan): Promise<void> {
    const checker = new HealthChecker(plan);
    checker.start();
    try {
      // Both sides have checked every member at least once.
      const settled = (text: string) => !/(INI|UP \d|DOWN \d)/.test(text);
      expect(await waitFor(() => settled(showStat(plan, checker)), 10_000)).toBe(true);
      let theirs = '';
      expect(
        await (async () => {
          const end = Date.now() + 10_000;
          while (Date.now() < end) {
            theirs = await query(join(dir, 'admin.sock'), 'show stat');
            if (settled(theirs)) return true;
            await new Promise((r) => setTimeout(r, 100));
          }
          return false;
        })(),
      ).toBe(true);

      for (const [level, sock] of [
        ['admin', 'admin.sock'],
        ['user', 'user.sock'],
      ] as [StatsLevel, string][]) {
        expect(
          await eventually(async () => {
            theirs = await query(join(dir, sock), 'show stat');
            const ours = showStat(plan, checker, { level });
            // HAProxy's answer ends with the CLI's empty line; ours is the CSV alone.
            expect(theirs.endsWith('\n\n')).toBe(true);
            expect(ours.split('\n')[0]).toBe(theirs.split('\n')[0]);
            expect(STAT_HEADER).toBe(`${theirs.split('\n')[0]}\n`);
            return compare(statRecords(ours), statRecords(theirs));
          }),
          level,
        ).toEqual([]);
      }

      // The filtered forms Octavia's agent sends.
      for (const args of ['-1 6 -1', '-1 1 -1', 'pool_tcp -1 -1', '4 4 2']) {
        const [px, type, sid] = args.split(' ') as [string, string, string];
        const filter = { types: Number(type) === -1 ? 7 : Number(type), sid: Number(sid), ...(px === '-1' ? {} : { proxy: /^\d+$/.test(px) ? Number(px) : px }) };
        expect(
          await eventually(async () => {
            theirs = await query(join(dir, 'user.sock'), `show stat ${args}`);
            return compare(statRecords(showStat(plan, checker, { filter })), statRecords(theirs));
          }),
          args,
        ).toEqual([]);
      }

      // `show servers state`, the dump Octavia's agent saves before a reload.
      const cells = (text: string) =>
        text
          .split('\n')
          .slice(2)
          .filter(Boolean)
          .map((l) => {
            const c = l.split(' ');
            // Time since the last change, and the check's "running now" bit and verdict.
            c[9] = '-';
            if ((Number(c[13]) & 1) === 1) [c[10], c[11]] = ['-', '-'];
            c[13] = String(Number(c[13]) & ~1);
            return c;
          });
      expect(
        await eventually(async () => {
          theirs = await query(join(dir, 'user.sock'), 'show servers state');
          const ours = showServersState(plan, checker);
          expect(`${ours}\n`.split('\n').slice(0, 2)).toEqual(theirs.split('\n').slice(0, 2));
          const mine = cells(ours);
          const other = cells(theirs);
          expect(mine).toHaveLength(other.length);
          const diffs: string[] = [];
          mine.forEach((m, i) => {
            const o = other[i]!;
            if (o[10] === '-' || m[10] === '-') [o[10], o[11], m[10], m[11]] = ['-', '-', '-', '-'];
            if (m.join(' ') !== o.join(' ')) diffs.push(`ours ${m.join(' ')} / haproxy ${o.join(' ')}`);
          });
          return diffs;
        }),
      ).toEqual([]);
    } finally {
      checker.stop();
    }
  }
});
