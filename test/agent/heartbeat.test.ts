// Heartbeats as Octavia's health manager receives them: the envelope checked by Octavia's own
// status_message code, one datagram per beat round robin over the controllers, seq
// increasing, version 3 deltas that survive an agent restart, exactly the running frontends.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { parseAgentConfig } from '../../agent/config.ts';
import { unwrapEnvelope, wrapEnvelope, HeartbeatHmacError } from '../../agent/heartbeat/envelope.ts';
import { Heartbeat } from '../../agent/heartbeat/heartbeat.ts';
import type { HeartbeatMessage } from '../../agent/heartbeat/message.ts';
import { HeartbeatSender, type HeartbeatLoadBalancer, type HeartbeatSettings } from '../../agent/heartbeat/sender.ts';
import { parseShowStat, processIdentity, showStat } from '../../agent/heartbeat/stats-query.ts';
import { silentLogger } from '../../agent/lb/log.ts';
import { LoadBalancerStore } from '../../agent/lb/store.ts';
import { hasIpv6Loopback, octaviaUnwrap, octaviaWrap, UdpCollector } from '../interop/octavia.ts';

/** Columns of HAProxy's `show stat` the heartbeat reads, in HAProxy's order (a subset: the
 *  parser goes by header names, as Octavia's csv.DictReader does). */
const COLUMNS = ['pxname', 'svname', 'qcur', 'qmax', 'scur', 'smax', 'slim', 'stot', 'bin', 'bout', 'dreq', 'dresp', 'ereq', 'status', 'weight', 'type'];

export interface FakeRow {
  pxname: string;
  svname: string;
  status: string;
  scur?: number;
  stot?: number;
  bin?: number;
  bout?: number;
  ereq?: number;
  weight?: number;
}

export function showStatCsv(rows: FakeRow[]): string {
  const type = (r: FakeRow) => (r.svname === 'FRONTEND' ? '0' : r.svname === 'BACKEND' ? '1' : '2');
  const lines = rows.map((r) => {
    const v: Record<string, string> = {
      pxname: r.pxname,
      svname: r.svname,
      scur: String(r.scur ?? 0),
      stot: String(r.stot ?? 0),
      bin: String(r.bin ?? 0),
      bout: String(r.bout ?? 0),
      ereq: r.svname === 'FRONTEND' ? String(r.ereq ?? 0) : '',
      status: r.status,
      weight: r.svname === 'FRONTEND' ? '' : String(r.weight ?? 1),
      type: type(r),
    };
    return `${COLUMNS.map((c) => v[c] ?? '').join(',')},`;
  });
  return `# ${COLUMNS.join(',')},\n${lines.join('\n')}\n\n`;
}

/** A UNIX stats socket answering `show stat` with whatever `rows` holds at the time. */
export class FakeStatsSocket {
  rows: FakeRow[];
  /** `show info` Pid/Start_time_sec; undefined = answer like an engine without them. */
  process: { pid: number; start: number } | undefined;
  readonly path: string;
  readonly commands: string[] = [];
  private server: net.Server | undefined;

  constructor(path: string, rows: FakeRow[]) {
    this.path = path;
    this.rows = rows;
  }

  async listen(): Promise<void> {
    this.server = net.createServer((sock) => {
      let buf = '';
      sock.on('data', (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const cmd = buf.slice(0, nl).trim();
        this.commands.push(cmd);
        if (cmd.startsWith('show stat')) sock.end(showStatCsv(this.rows));
        else if (cmd === 'show info' && this.process) sock.end(`Name: fake\nPid: ${this.process.pid}\nStart_time_sec: ${this.process.start}\n`);
        else sock.end('Unknown command.\n');
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.path, () => resolve());
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** One HTTP/1.0 request on its own connection; resolves with the raw answer. */
function httpRequest(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.0\r\n\r\n'));
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

const AMP = '5e1c2a40-9f3c-4e55-9a5d-111111111111';
const LB1 = 'a1b2c3d4-0000-4000-8000-000000001b01';
const LB2 = 'a1b2c3d4-0000-4000-8000-000000001b02';
const L1 = '00000000-0000-4000-8000-000000000001';
const L2 = '00000000-0000-4000-8000-000000000002';
const L3 = '00000000-0000-4000-8000-000000000003';
const P1 = '00000000-0000-4000-8000-000000000201';
const P3 = '00000000-0000-4000-8000-000000000203';
const M = (n: number) => `00000000-0000-4000-8000-00000000030${n}`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'amphora-ts-hb-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function collector(family: 4 | 6 = 4): Promise<{ c: UdpCollector; port: number }> {
  const c = new UdpCollector(family);
  const port = await c.bind();
  cleanups.push(() => c.close());
  return { c, port };
}

async function fakeSocket(path: string, rows: FakeRow[]): Promise<FakeStatsSocket> {
  const s = new FakeStatsSocket(path, rows);
  await s.listen();
  cleanups.push(() => s.close());
  return s;
}

function settings(base: string, controllers: string[], over: Partial<HeartbeatSettings> = {}): () => HeartbeatSettings {
  return () => ({ amphoraId: AMP, basePath: base, heartbeatKey: 'insecure', heartbeatInterval: 1, controllers, ...over });
}

function sender(s: () => HeartbeatSettings, lbs: HeartbeatLoadBalancer[] = []): HeartbeatSender {
  const hb = new HeartbeatSender(s, { loadBalancers: async () => lbs });
  cleanups.push(() => hb.stop());
  return hb;
}

const lb1Rows = (over: Partial<FakeRow> = {}): FakeRow[] => [
  { pxname: L1, svname: 'FRONTEND', status: 'OPEN', scur: 3, stot: 100, bin: 1000, bout: 5000, ereq: 2, ...over },
  { pxname: 'prometheus-exporter-internal-endpoint', svname: 'FRONTEND', status: 'OPEN', stot: 7 },
  { pxname: `${P1}:${L1}`, svname: M(1), status: 'UP' },
  { pxname: `${P1}:${L1}`, svname: M(2), status: 'UP', weight: 0 },
  { pxname: `${P1}:${L1}`, svname: M(3), status: 'DOWN 1/2' },
  { pxname: `${P1}:${L1}`, svname: M(4), status: 'MAINT' },
  { pxname: `${P1}:${L1}`, svname: 'BACKEND', status: 'UP' },
  { pxname: 'prometheus-exporter-internal', svname: 'prometheus-internal', status: 'no check' },
  { pxname: 'prometheus-exporter-internal', svname: 'BACKEND', status: 'UP' },
  { pxname: L2, svname: 'FRONTEND', status: 'FULL', scur: 50 },
];

describe('heartbeat envelope', () => {
  it('is unwrapped by Octavia status_message.unwrap_envelope into the same message', async () => {
    const msg = { id: AMP, seq: 7, ver: 3, listeners: { [L1]: { status: 'OPEN', stats: { tx: 1, rx: 2, conns: 3, totconns: 4, ereq: 5 } } }, pools: {} };
    const envelope = wrapEnvelope(msg, 'insecure');
    // payload then 64 lowercase hex characters
    expect(envelope.subarray(-64).toString('ascii')).toMatch(/^[0-9a-f]{64}$/);
    expect(envelope[0]).toBe(0x78); // zlib header
    expect(await octaviaUnwrap(envelope, 'insecure')).toEqual(msg);
  });

  it('is refused by Octavia with another key', async () => {
    const envelope = wrapEnvelope({ id: AMP, seq: 0, ver: 3, listeners: {}, pools: {} }, 'insecure');
    await expect(octaviaUnwrap(envelope, 'other-key')).rejects.toThrow(/InvalidHMACException|hmac/i);
  });

  it('decodes what Octavia wraps, hex and legacy raw digests alike', async () => {
    const msg = { id: AMP, seq: 0, listeners: {}, pools: {}, ver: 3 };
    expect(unwrapEnvelope(await octaviaWrap(msg, 'insecure'), 'insecure')).toEqual(msg);
    expect(unwrapEnvelope(await octaviaWrap(msg, 'insecure', false), 'insecure')).toEqual(msg);
    expect(() => unwrapEnvelope(wrapEnvelope(msg, 'a'), 'b')).toThrow(HeartbeatHmacError);
  });

  it('decodes the contract test vector', () => {
    const payload =
      '78daab56ca4c51b25250324d354c364a3431d0b54c334ed635493535d5b54c344dd13544024a3a0a4ac5a98540e50640564e6671496a5e6a5131905f5d0b1428c8cfcf8173ca528b804ce35a00abdd19cf';
    const envelope = Buffer.concat([Buffer.from(payload, 'hex'), Buffer.from('dc87ad46b527d2a8480ad29ebcfc28c7d93435bb017c943d52909d956543e99d', 'ascii')]);
    expect(envelope.length).toBe(145);
    expect(unwrapEnvelope(envelope, 'insecure')).toEqual({ id: AMP, seq: 0, listeners: {}, pools: {}, ver: 3 });
  });
});

describe('heartbeat sending', () => {
  it('sends one datagram per beat, round robin over IPv4 and IPv6 controllers, seq increasing', async () => {
    const base = tempDir();
    const a = await collector();
    const b = await collector();
    const ipv6 = await hasIpv6Loopback();
    const c = ipv6 ? await collector(6) : undefined;
    const list = [`127.0.0.1:${a.port}`, `localhost:${b.port}`, ...(c ? [`[::1]:${c.port}`] : [])];
    const hb = sender(settings(base, list));
    const n = list.length;
    for (let i = 0; i < 2 * n; i++) await hb.tick();
    const got = [a, b, ...(c ? [c] : [])];
    await Promise.all(got.map((x) => x.c.waitFor(2)));
    const seqs = got.map((x) => x.c.datagrams.map((d) => (unwrapEnvelope(d, 'insecure') as HeartbeatMessage).seq));
    // controller i gets beats i and i + n: one destination per beat, in list order
    expect(seqs).toEqual(got.map((_, i) => [i, i + n]));
    for (const x of got) expect(x.c.datagrams).toHaveLength(2);
  });

  it('keeps beating on its own every heartbeat_interval, and stops', async () => {
    const base = tempDir();
    const a = await collector();
    const hb = sender(settings(base, [`127.0.0.1:${a.port}`]));
    hb.start();
    const two = await a.c.waitFor(2, 15_000);
    expect(two.map((d) => (unwrapEnvelope(d, 'insecure') as HeartbeatMessage).seq)).toEqual([0, 1]);
    await hb.stop();
    const count = a.c.datagrams.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(a.c.datagrams.length).toBe(count);
  });

  it('picks up a changed controller list and key at the next beat (PUT /config)', async () => {
    const base = tempDir();
    const a = await collector();
    const b = await collector();
    const live = { amphoraId: AMP, basePath: base, heartbeatKey: 'one', heartbeatInterval: 1, controllers: [`127.0.0.1:${a.port}`] };
    const hb = sender(() => live);
    await hb.tick();
    live.controllers = [`127.0.0.1:${b.port}`];
    live.heartbeatKey = 'two';
    await hb.tick();
    expect(unwrapEnvelope((await a.c.waitFor(1))[0], 'one')).toMatchObject({ seq: 0 });
    expect(unwrapEnvelope((await b.c.waitFor(1))[0], 'two')).toMatchObject({ seq: 1 });
  });

  it('does not send while keepalived is configured but not running (contract 8.14)', async () => {
    const base = tempDir();
    const a = await collector();
    mkdirSync(join(base, 'vrrp'));
    writeFileSync(join(base, 'vrrp', 'octavia-keepalived.conf'), 'vrrp_instance x {}\n');
    const hb = sender(settings(base, [`127.0.0.1:${a.port}`]));
    expect(await hb.tick()).toBeUndefined(); // no pid file
    // a pid that is not running
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.on('exit', r));
    writeFileSync(join(base, 'vrrp', 'octavia-keepalived.pid'), `${dead.pid}\n`);
    expect(await hb.tick()).toBeUndefined();
    // keepalived alive (this process stands in for it): beats again
    writeFileSync(join(base, 'vrrp', 'octavia-keepalived.pid'), `${process.pid}\n`);
    expect(await hb.tick()).toMatchObject({ seq: 0 });
    expect(await a.c.waitFor(1)).toHaveLength(1);
  });
});

describe('heartbeat message', () => {
  it('lists the frontends of running LBs with their pools, prometheus proxies left out', async () => {
    const base = tempDir();
    const s1 = await fakeSocket(join(base, `${LB1}.sock`), lb1Rows());
    await fakeSocket(join(base, `${LB2}.sock`), [{ pxname: L3, svname: 'FRONTEND', status: 'OPEN' }]);
    const hb = sender(settings(base, []), [
      { id: LB1, running: true, statsSocket: s1.path },
      { id: LB2, running: false, statsSocket: undefined },
    ]);
    const msg = await hb.buildMessage();
    expect(msg).toEqual({
      id: AMP,
      seq: 0,
      ver: 3,
      listeners: {
        [L1]: { status: 'OPEN', stats: { tx: 5000, rx: 1000, conns: 3, totconns: 100, ereq: 2 } },
        [L2]: { status: 'FULL', stats: { tx: 0, rx: 0, conns: 50, totconns: 0, ereq: 0 } },
      },
      pools: {
        [`${P1}:${L1}`]: { status: 'UP', members: { [M(1)]: 'UP', [M(2)]: 'DRAIN', [M(3)]: 'DOWN 1/2', [M(4)]: 'MAINT' } },
      },
    });
    expect(s1.commands).toEqual(['show info', 'show stat', 'show info']);
  });

  it('reads real HAProxy 2.6 show stat output, and counts across its reloads', async () => {
    const base = tempDir();
    const sock = join(base, 'h.sock');
    const [deadPort, frontPort] = [await freePort(), await freePort()];
    writeFileSync(
      join(base, 'h.cfg'),
      `global\n    stats socket ${sock} mode 0666 level user\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n` +
        `frontend ${L1}\n    bind 127.0.0.1:${frontPort}\n    default_backend ${P1}:${L1}\n` +
        `backend ${P1}:${L1}\n    server ${M(1)} 127.0.0.1:${deadPort} check inter 200ms fall 1 rise 1\n    server ${M(2)} 127.0.0.1:${deadPort} weight 0\n    server ${M(3)} 127.0.0.1:${deadPort} disabled\n`,
    );
    // Master-worker, as the agent runs it: SIGUSR2 reloads into a new worker (counters at 0).
    const child = spawn('haproxy', ['-W', '-db', '-f', join(base, 'h.cfg')], { stdio: 'ignore' });
    cleanups.push(() => new Promise((r) => (child.exitCode !== null ? r(undefined) : (child.once('exit', r), child.kill('SIGTERM')))));
    const hb = sender(settings(base, []), [{ id: LB1, running: true, statsSocket: sock }]);
    let msg: HeartbeatMessage | undefined;
    for (let i = 0; i < 100 && msg?.pools[`${P1}:${L1}`]?.members[M(1)] !== 'DOWN'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (existsSync(sock)) msg = await hb.buildMessage().catch(() => undefined);
    }
    expect(msg?.listeners).toEqual({ [L1]: { status: 'OPEN', stats: { tx: 0, rx: 0, conns: 0, totconns: 0, ereq: 0 } } });
    expect(msg?.pools).toEqual({ [`${P1}:${L1}`]: { status: 'DOWN', members: { [M(1)]: 'DOWN', [M(2)]: 'no check', [M(3)]: 'MAINT' } } });

    await httpRequest(frontPort); // 503: no server, still a frontend session
    expect((await hb.buildMessage()).listeners[L1].stats.totconns).toBe(1);
    const worker = await processIdentity(sock);
    child.kill('SIGUSR2');
    for (let i = 0; i < 100 && (await processIdentity(sock).catch(() => worker)) === worker; i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 3; i++) await httpRequest(frontPort);
    // 3 sessions in the new worker: a "went backwards" rule alone would report 3 - 1 = 2.
    expect((await hb.buildMessage()).listeners[L1].stats.totconns).toBe(3);
  });

  it('sends deltas, keeps them across an agent restart, and handles a counter reset', async () => {
    const base = tempDir();
    const s = await fakeSocket(join(base, 's.sock'), lb1Rows());
    const lbs = [{ id: LB1, running: true, statsSocket: s.path }];
    const first = sender(settings(base, []), lbs);
    expect((await first.buildMessage()).listeners[L1].stats).toEqual({ tx: 5000, rx: 1000, conns: 3, totconns: 100, ereq: 2 });
    s.rows = lb1Rows({ stot: 130, bin: 1500, bout: 9000, ereq: 2, scur: 1 });
    expect((await first.buildMessage()).listeners[L1].stats).toEqual({ tx: 4000, rx: 500, conns: 1, totconns: 30, ereq: 0 });
    await first.stop();
    const persisted = JSON.parse(readFileSync(join(base, 'stats_counters.json'), 'utf8'));
    expect(persisted[L1]).toEqual({ bin: 1500, bout: 9000, ereq: 2, stot: 130 }); // Octavia's shape

    // A new agent process: the deltas go on from the persisted counters, seq starts over.
    s.rows = lb1Rows({ stot: 131, bin: 1600, bout: 9100, ereq: 3, scur: 0 });
    const second = sender(settings(base, []), lbs);
    const msg = await second.buildMessage();
    expect(msg.seq).toBe(0);
    expect(msg.listeners[L1].stats).toEqual({ tx: 100, rx: 100, conns: 0, totconns: 1, ereq: 1 });

    // The proxy restarted: counters went backwards, the delta is the new absolute value.
    s.rows = lb1Rows({ stot: 4, bin: 40, bout: 400, ereq: 0, scur: 0 });
    expect((await second.buildMessage()).listeners[L1].stats).toEqual({ tx: 400, rx: 40, conns: 0, totconns: 4, ereq: 0 });
  });

  it('restarts the deltas from zero when another engine process answers (HAProxy reload)', async () => {
    const base = tempDir();
    const s = await fakeSocket(join(base, 's.sock'), lb1Rows());
    s.process = { pid: 100, start: 1_700_000_000 };
    const lbs = [{ id: LB1, running: true, statsSocket: s.path }];
    const hb = sender(settings(base, []), lbs);
    await hb.buildMessage();
    expect(JSON.parse(readFileSync(join(base, 'stats_counters.json'), 'utf8'))[L1].process).toBe('100@1700000000');
    // A new worker whose counters already passed the old ones: all of it is new traffic.
    s.process = { pid: 101, start: 1_700_000_050 };
    s.rows = lb1Rows({ stot: 150, bin: 2000, bout: 6000, ereq: 2 });
    expect((await hb.buildMessage()).listeners[L1].stats).toEqual({ tx: 6000, rx: 2000, conns: 3, totconns: 150, ereq: 2 });
    // Same process again: plain deltas.
    s.rows = lb1Rows({ stot: 151, bin: 2010, bout: 6020, ereq: 2 });
    expect((await hb.buildMessage()).listeners[L1].stats).toEqual({ tx: 20, rx: 10, conns: 3, totconns: 1, ereq: 0 });
  });

  it('forgets the counters of listeners no longer reported', async () => {
    const base = tempDir();
    const s = await fakeSocket(join(base, 's.sock'), lb1Rows());
    const lbs = [{ id: LB1, running: true, statsSocket: s.path }];
    const hb = sender(settings(base, []), lbs);
    await hb.buildMessage();
    lbs[0].running = false;
    expect((await hb.buildMessage()).listeners).toEqual({});
    expect(JSON.parse(readFileSync(join(base, 'stats_counters.json'), 'utf8'))).toEqual({});
    lbs[0].running = true;
    expect((await hb.buildMessage()).listeners[L1].stats.totconns).toBe(100);
  });

  it('skips the beat when a running LB does not answer on its stats socket', async () => {
    const base = tempDir();
    const a = await collector();
    const hb = sender(settings(base, [`127.0.0.1:${a.port}`]), [{ id: LB1, running: true, statsSocket: join(base, 'missing.sock') }]);
    expect(await hb.tick()).toBeUndefined();
    await new Promise((r) => setTimeout(r, 200));
    expect(a.c.datagrams).toHaveLength(0);
  });
});

describe('Heartbeat on the agent config and store', () => {
  let base: string;
  beforeEach(() => {
    base = tempDir();
  });

  it('reports the running LBs of the store through their configured stats sockets', async () => {
    const a = await collector();
    const sockPath = join(base, `${LB1}.sock`);
    await fakeSocket(sockPath, lb1Rows());
    for (const lb of [LB1, LB2]) {
      mkdirSync(join(base, lb));
      writeFileSync(join(base, lb, 'haproxy.cfg'), `global\n    stats socket ${join(base, `${lb}.sock`)} mode 0666 level user\nfrontend ${lb === LB1 ? L1 : L3}\n    mode http\n`);
    }
    writeFileSync(join(base, LB1, `${LB1}.pid`), `${process.pid}\n`); // running
    const cfg = parseAgentConfig([
      {
        path: 'amphora-agent.conf',
        text: `[amphora_agent]\namphora_id = ${AMP}\n[haproxy_amphora]\nbase_path = ${base}\nbase_cert_dir = ${join(base, 'certs')}\n[health_manager]\nheartbeat_key = insecure\nheartbeat_interval = 1\ncontroller_ip_port_list = 127.0.0.1:${a.port}\n`,
      },
    ]);
    const hb = new Heartbeat(cfg, new LoadBalancerStore(cfg), { logger: silentLogger });
    cleanups.push(() => hb.stop());
    const msg = await hb.beat();
    expect(Object.keys(msg!.listeners)).toEqual([L1, L2]);
    const got = unwrapEnvelope((await a.c.waitFor(1))[0], 'insecure') as HeartbeatMessage;
    expect(got.id).toBe(AMP);
    expect(Object.keys(got.pools)).toEqual([`${P1}:${L1}`]);

    // PUT /config changes the key in place: the next beat is signed with it.
    cfg.health_manager.heartbeat_key = 'rotated';
    await hb.beat();
    expect(unwrapEnvelope((await a.c.waitFor(2))[1], 'rotated')).toMatchObject({ seq: 1 });
  });

  it('does not send without an amphora id or a key', async () => {
    const a = await collector();
    const cfg = parseAgentConfig([
      { path: 'a.conf', text: `[haproxy_amphora]\nbase_path = ${base}\n[health_manager]\ncontroller_ip_port_list = 127.0.0.1:${a.port}\n` },
    ]);
    const logs: string[] = [];
    const hb = new Heartbeat(cfg, new LoadBalancerStore(cfg), { logger: { ...silentLogger, error: (m: string) => logs.push(m) } });
    cleanups.push(() => hb.stop());
    expect(await hb.beat()).toBeUndefined();
    expect(logs.join('\n')).toMatch(/amphora_id/);
  });
});

describe('stats socket query', () => {
  it('parses the CSV header names like csv.DictReader', () => {
    const rows = parseShowStat('# pxname,svname,status,-,\nfe,FRONTEND,OPEN,x,\n\n');
    expect(rows).toEqual([{ pxname: 'fe', svname: 'FRONTEND', status: 'OPEN', '-': 'x' }]);
  });

  it('rejects an answer that is not show stat', async () => {
    const base = tempDir();
    const s = new net.Server((c) => {
      c.resume(); // read the command so the close completes
      c.end('Unknown command.\n');
    });
    await new Promise<void>((r) => s.listen(join(base, 'x.sock'), () => r()));
    cleanups.push(() => new Promise((r) => s.close(r)));
    await expect(showStat(join(base, 'x.sock'))).rejects.toThrow(/not a 'show stat' answer/);
  });
});
