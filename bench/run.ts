// `npm run bench`: proxy-core against HAProxy on the same Octavia-shaped haproxy.cfg.
//
// Starts local members (one nginx process, two member ports), renders ONE config from
// templates/haproxy.cfg (an HTTP listener with round robin, forwardfor and X-Forwarded-*
// set-header lines, a TCP listener with leastconn) and starts both engines on it, each with
// its own bind ports, and node-pipe (node-pipe.ts: Node's floor, bytes piped 1:1 with no
// protocol work, to read proxy-core's ratio against). Then, per scenario, wrk drives the
// engines alternately (HAProxy, proxy-core, node-pipe, then node-pipe, proxy-core, HAProxy, and
// so on `--rounds` times, after an unmeasured warm-up of each) and
// the bench reads, around each wrk run, the CPU time (utime+stime, all threads, whole process
// tree) the engine used. Prints a table (absolute figures, ratio proxy-core / HAProxy,
// targets) and writes it as JSON to bench/results/.
//
// CPU pinning (default on a machine with more CPUs than engine threads): the engine runs on
// CPUs 0..nbthread-1 and the load side (wrk and nginx) on the others, so the engine never
// competes with the load generator for a core and run-to-run spread drops (on this 2-core
// machine: engine on CPU 0, wrk + nginx on CPU 1). With the engine held to one core,
// req/s measures the engine's single-core capacity when the engine is the bottleneck; CPU per
// request is comparable in every setup. `--no-pin` lets the kernel schedule everything.
//
// Flags (environment variable in brackets):
//   --rounds N        measured rounds per engine and scenario [BENCH_ROUNDS]        default 3
//                     (an odd number: the median drops a round the machine's noise hit)
//   --duration S      seconds per wrk run [BENCH_DURATION]                          default 8
//   --warmup S        unmeasured seconds per engine before a scenario [BENCH_WARMUP] default 3
//   --connections C   wrk connections [BENCH_CONNECTIONS]                            default 50
//   --threads T       wrk threads [BENCH_WRK_THREADS]                                default 1
//   --nbthread N      `nbthread` in the config (engine threads) [BENCH_NBTHREAD]     default 1
//   --scenarios LIST  comma list of: keepalive,newconn,large,tcp [BENCH_SCENARIOS]   default all
//   --engines LIST    of haproxy,proxy-core,node-pipe (ratios need haproxy) [BENCH_ENGINES]
//   --pipe net|raw    the floor in node-pipe's column: node-pipe.ts (node:net, default) or
//                     raw-pipe.ts (Node's raw TCP handles, no net.Socket) [BENCH_PIPE]
//   --no-pin          no taskset [BENCH_NO_PIN=1]
//   --quick           smoke run: 1 round, 3 s runs, 1 s warm-up
//   --haproxy PATH / --nginx PATH / --wrk PATH   programs (defaults /usr/sbin/haproxy, /usr/sbin/nginx, wrk)
//   --profile         run proxy-core with --cpu-prof (one .cpuprofile per thread, written when it
//                     stops) into bench/results/profile-<date>/; open them in Chrome DevTools
//   BENCH_NODE_ARGS="…" extra Node options for proxy-core, e.g. "--trace-deopt" (its output lands in the
//                     engine's log) or V8 flags to try; BENCH_ENGINE_LOG=DIR keeps each started
//                     program's whole output in DIR/<name>.log
//   --haproxy-args "ARGS"  extra HAProxy command-line words, e.g. "-dS" (no splice()) to see
//                     what kernel splicing (Octavia's `option splice-*`) is worth

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ENGINES, ensureBuilt, startEngine, type Engine, type EngineName } from './engines.ts';
import { LARGE_PATH, LARGE_SIZE, memberAccepts, SMALL_PATH, startMembers } from './members.ts';
import { cpuSeconds, installCleanup, sleep, statusKb, stopAll, wasInterrupted } from './procs.ts';
import { formatTable, idleRssRow, median, ratioRow, type Metric, type RatioTarget, type Row } from './report.ts';
import { runWrk, type WrkResult } from './wrk.ts';

interface Scenario {
  id: string;
  title: string;
  listener: 'http' | 'tcp';
  path: string;
  headers: string[];
  metrics: Metric[];
  targets: RatioTarget[];
}

const P99: RatioTarget = { metric: 'p99Ms', op: '<=', ratio: 1.5 };

const SCENARIOS: Scenario[] = [
  {
    id: 'keepalive',
    title: 'HTTP keep-alive, 13 B',
    listener: 'http',
    path: SMALL_PATH,
    headers: [],
    metrics: ['requestsPerS', 'p50Ms', 'p99Ms', 'cpuMsPer10k', 'sysMsPer10k', 'memberConnsPer10k', 'errors'],
    targets: [
      { metric: 'cpuMsPer10k', op: '<=', ratio: 1.2 },
      { metric: 'requestsPerS', op: '>=', ratio: 0.9 },
      P99,
    ],
  },
  {
    id: 'newconn',
    title: 'HTTP new conn per req',
    listener: 'http',
    path: SMALL_PATH,
    headers: ['Connection: close'],
    metrics: ['requestsPerS', 'p50Ms', 'p99Ms', 'cpuMsPer10k', 'sysMsPer10k', 'memberConnsPer10k', 'errors'],
    targets: [{ metric: 'cpuMsPer10k', op: '<=', ratio: 1.5 }, P99],
  },
  {
    id: 'large',
    title: 'HTTP 1 MiB responses',
    listener: 'http',
    path: LARGE_PATH,
    headers: [],
    metrics: ['mibPerS', 'requestsPerS', 'p50Ms', 'p99Ms', 'cpuMsPer10k', 'sysMsPer10k', 'memberConnsPer10k', 'errors'],
    targets: [
      { metric: 'cpuMsPer10k', op: '<=', ratio: 1.2 },
      { metric: 'mibPerS', op: '>=', ratio: 0.9 },
      P99,
    ],
  },
  {
    id: 'tcp',
    title: 'TCP listener (HTTP over it)',
    listener: 'tcp',
    path: SMALL_PATH,
    headers: [],
    metrics: ['requestsPerS', 'p50Ms', 'p99Ms', 'cpuMsPer10k', 'sysMsPer10k', 'memberConnsPer10k', 'errors'],
    targets: [P99],
  },
];

interface RunFigures {
  round: number;
  requests: number;
  durationS: number;
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  mibPerS: number;
  cpuS: number;
  cpuMsPer10k: number;
  /** The part of cpuMsPer10k spent in the kernel (stime). */
  sysMsPer10k: number;
  /** Connections the members accepted during the run, per 10,000 requests (pool reuse). */
  memberConnsPer10k: number;
  errors: number;
  socketErrors: WrkResult['socketErrors'];
  non2xx3xx: number;
}

function options() {
  const env = process.env;
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: env.BENCH_ROUNDS },
      duration: { type: 'string', default: env.BENCH_DURATION },
      warmup: { type: 'string', default: env.BENCH_WARMUP },
      connections: { type: 'string', default: env.BENCH_CONNECTIONS },
      threads: { type: 'string', default: env.BENCH_WRK_THREADS },
      nbthread: { type: 'string', default: env.BENCH_NBTHREAD },
      scenarios: { type: 'string', default: env.BENCH_SCENARIOS },
      engines: { type: 'string', default: env.BENCH_ENGINES },
      'no-pin': { type: 'boolean', default: env.BENCH_NO_PIN === '1' },
      pipe: { type: 'string', default: env.BENCH_PIPE ?? 'net' },
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      haproxy: { type: 'string', default: '/usr/sbin/haproxy' },
      'haproxy-args': { type: 'string', default: '' },
      nginx: { type: 'string', default: '/usr/sbin/nginx' },
      wrk: { type: 'string', default: 'wrk' },
    },
  });
  const num = (v: string | undefined, dflt: number, name: string) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: expected a positive number, got ${v}`);
    return n;
  };
  const quick = values.quick;
  const list = <T extends string>(v: string | undefined, all: readonly T[], name: string): T[] => {
    if (!v) return [...all];
    const picked = v.split(',').map((s) => s.trim()) as T[];
    for (const p of picked) if (!all.includes(p)) throw new Error(`--${name}: unknown ${p} (known: ${all.join(', ')})`);
    return picked;
  };
  const nbthread = num(values.nbthread, 1, 'nbthread');
  const ncpu = availableParallelism();
  const pin = !values['no-pin'] && ncpu > nbthread;
  const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`);
  return {
    rounds: num(values.rounds, quick ? 1 : 3, 'rounds'),
    durationS: num(values.duration, quick ? 3 : 8, 'duration'),
    warmupS: values.warmup !== undefined ? Number(values.warmup) : quick ? 1 : 3,
    connections: num(values.connections, 50, 'connections'),
    wrkThreads: num(values.threads, 1, 'threads'),
    nbthread,
    scenarios: list(values.scenarios, SCENARIOS.map((s) => s.id), 'scenarios').map((id) => SCENARIOS.find((s) => s.id === id)!),
    engines: list(values.engines, ENGINES, 'engines'),
    pipe: list(values.pipe, ['net', 'raw'] as const, 'pipe')[0]!,
    engineCpus: pin ? range(0, nbthread - 1) : undefined,
    loadCpus: pin ? range(nbthread, ncpu - 1) : undefined,
    quick,
    profile: values.profile!,
    haproxy: values.haproxy!,
    haproxyArgs: values['haproxy-args']!.split(/\s+/).filter(Boolean),
    nginx: values.nginx!,
    wrk: values.wrk!,
  };
}

type Options = ReturnType<typeof options> & { memberPort: number };

async function main(): Promise<void> {
  installCleanup();
  const o0 = options();
  if (o0.engines.includes('proxy-core')) await ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'amphora-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const startLoad = loadavg();
  log(`bench: ${o0.engines.join(' vs ')}; ${o0.rounds} round(s) × ${o0.durationS}s, warm-up ${o0.warmupS}s, wrk -t${o0.wrkThreads} -c${o0.connections}, nbthread ${o0.nbthread}`);
  log(o0.engineCpus ? `bench: pinned: engine on CPU ${o0.engineCpus}, wrk + nginx on CPU ${o0.loadCpus}` : 'bench: not pinned');
  if (startLoad[0]! > 0.5) log(`bench: note: load average ${startLoad.map((l) => l.toFixed(2)).join(' ')} — other work on this machine skews the figures`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = new URL('./results/', import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const profileDir = fileURLToPath(new URL(`profile-${stamp}/`, resultsDir));
  const nodeArgs = [
    ...(o0.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ...(process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  ];

  const members = await startMembers(dir, o0.nginx, o0.loadCpus);
  const o: Options = { ...o0, memberPort: members.ports[0] };
  const engines = new Map<EngineName, Engine>();
  for (const name of o.engines) {
    const e = await startEngine(name, { dir, memberPorts: members.ports, nbthread: o.nbthread, haproxy: o.haproxy, haproxyArgs: o.haproxyArgs, nodeArgs, cpus: o.engineCpus, pipe: o.pipe });
    engines.set(name, e);
    log(`bench: ${name} pid ${e.proc.pid}, ${e.threads} thread(s), idle RSS ${(e.idleRssKb / 1024).toFixed(1)} MiB, http :${e.httpPort} tcp :${e.tcpPort}`);
  }

  const runs: Record<string, Partial<Record<EngineName, RunFigures[]>>> = {};
  for (const sc of o.scenarios) {
    runs[sc.id] = {};
    for (const e of engines.values()) {
      await checkEngineServes(e, sc, o);
      if (o.warmupS > 0) await measure(e, sc, o, Math.max(1, Math.round(o.warmupS)), -1);
    }
    for (let round = 1; round <= o.rounds; round++) {
      // Every other round in reverse order (ABBA): a machine that slows down or speeds up over a
      // scenario does not always favour the engine that runs first.
      const order = [...engines.values()];
      if (round % 2 === 0) order.reverse();
      for (const e of order) {
        const f = await measure(e, sc, o, o.durationS, round);
        (runs[sc.id]![e.name] ??= []).push(f);
        log(
          `  ${sc.id.padEnd(9)} round ${round} ${e.name.padEnd(10)} ${f.requestsPerS.toFixed(0).padStart(7)} req/s  p50 ${f.p50Ms.toFixed(2)} ms  p99 ${f.p99Ms.toFixed(2)} ms  ` +
            `CPU ${f.cpuMsPer10k.toFixed(0)} ms/10k (sys ${f.sysMsPer10k.toFixed(0)})  ${f.mibPerS.toFixed(0)} MiB/s${f.errors ? `  ERRORS ${f.errors}` : ''}`,
        );
      }
    }
  }

  const rows: Row[] = [];
  for (const sc of o.scenarios) {
    for (const metric of sc.metrics) {
      const figures: Partial<Record<EngineName, number>> = {};
      const perRound: Partial<Record<EngineName, number[]>> = {};
      for (const name of o.engines) {
        const list = runs[sc.id]![name];
        if (!list?.length) continue;
        perRound[name] = list.map((f) => f[metric as keyof RunFigures] as number);
        figures[name] = median(perRound[name]);
      }
      rows.push(ratioRow(sc.title, metric, figures, sc.targets.find((t) => t.metric === metric), perRound));
    }
  }
  const rss: Partial<Record<EngineName, number>> = {};
  const peak: Partial<Record<EngineName, number>> = {};
  for (const e of engines.values()) {
    // node-pipe's memory includes Node's type stripper (a .ts entry point): not comparable.
    if (e.name === 'node-pipe') continue;
    rss[e.name] = e.idleRssKb / 1024;
    peak[e.name] = statusKb(e.proc.pid, 'VmHWM') / 1024;
  }
  rows.push(idleRssRow(rss));
  rows.push({ ...idleRssRow(peak), scenario: 'after the runs', metric: 'peak RSS MiB', target: '', met: undefined });

  const table = formatTable(rows, o.pipe === 'raw' ? 'raw pipe' : 'Node pipe');
  process.stdout.write(`\n${table}\n\nFigures: median over rounds. Ratios: median over rounds of each round's ratio (the engines of a round run back to back). CPU = utime+stime of the engine process (all threads) per 10,000 requests.\n`);
  const errors = rows.filter((r) => r.metric.startsWith('errors') && ((r.haproxy ?? 0) > 0 || (r.proxyCore ?? 0) > 0 || (r.pipe ?? 0) > 0));
  if (errors.length) process.stdout.write(`WARNING: errors in: ${errors.map((r) => r.scenario).join(', ')} (see the JSON for details)\n`);

  const json = {
    date: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
    options: { ...o, scenarios: o.scenarios.map((s) => s.id) },
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, loadavgAtStart: startLoad, loadavgAtEnd: loadavg() },
    versions: { haproxy: version(o.haproxy, ['-v']), wrk: version(o.wrk, ['-v']), nginx: version(o.nginx, ['-v']), node: process.version, proxyCore: gitRev() },
    engines: [...engines.values()].map((e) => ({ name: e.name, pid: e.proc.pid, threads: e.threads, idleRssKb: e.idleRssKb })),
    runs,
    rows,
    table,
  };
  const body = `${JSON.stringify(json, null, 2)}\n`;
  writeFileSync(new URL(`bench-${stamp}.json`, resultsDir), body);
  writeFileSync(new URL('latest.json', resultsDir), body);
  log(`bench: wrote bench/results/bench-${stamp}.json (and latest.json)`);
  await stopAll();
  if (o.profile) log(`bench: proxy-core CPU profiles in ${profileDir}`);
}

/** One wrk run against `e`, with the engine's CPU time read around it. round -1 = warm-up. */
async function measure(e: Engine, sc: Scenario, o: Options, durationS: number, round: number): Promise<RunFigures> {
  const port = sc.listener === 'http' ? e.httpPort : e.tcpPort;
  const acceptsBefore = await memberAccepts(o.memberPort);
  const before = cpuSeconds(e.proc.pid);
  const w = await runWrk({
    url: `http://127.0.0.1:${port}${sc.path}`,
    durationS,
    connections: o.connections,
    threads: o.wrkThreads,
    headers: sc.headers,
    cpus: o.loadCpus,
    wrk: o.wrk,
  });
  const after = cpuSeconds(e.proc.pid);
  const cpuS = after.total - before.total;
  const sysS = after.sys - before.sys;
  // -1: the stub_status request itself.
  const memberConns = (await memberAccepts(o.memberPort)) - acceptsBefore - 1;
  // A dead engine would otherwise show up as a run full of connect errors.
  if (e.proc.child.exitCode !== null || e.proc.child.signalCode !== null) throw new Error(`${e.name} exited during ${sc.id}:\n${e.proc.output()}`);
  // Let sockets in TIME_WAIT / closing drain a little between runs.
  await sleep(500);
  const s = w.socketErrors;
  return {
    round,
    requests: w.requests,
    durationS: w.durationS,
    requestsPerS: w.requestsPerS,
    p50Ms: w.p50Ms,
    p99Ms: w.p99Ms,
    mibPerS: w.bytesRead / 2 ** 20 / w.durationS,
    cpuS,
    cpuMsPer10k: w.requests > 0 ? (cpuS * 1000 * 10000) / w.requests : NaN,
    sysMsPer10k: w.requests > 0 ? (sysS * 1000 * 10000) / w.requests : NaN,
    memberConnsPer10k: w.requests > 0 ? (memberConns * 10000) / w.requests : NaN,
    errors: s.connect + s.read + s.write + s.timeout + w.non2xx3xx,
    socketErrors: s,
    non2xx3xx: w.non2xx3xx,
  };
}

/** One request through the scenario's listener before measuring: a broken engine fails loudly, not as a slow one. */
async function checkEngineServes(e: Engine, sc: Scenario, o: Options): Promise<void> {
  const port = sc.listener === 'http' ? e.httpPort : e.tcpPort;
  const res = await fetch(`http://127.0.0.1:${port}${sc.path}`, { headers: Object.fromEntries(sc.headers.map((h) => h.split(/:\s*/, 2) as [string, string])) }).catch(
    (err: Error) => err,
  );
  if (res instanceof Error) throw new Error(`${e.name}: ${sc.id}: request failed: ${res.message}${(res.cause as Error | undefined)?.message ? ` (${(res.cause as Error).message})` : ''}\n${e.proc.output()}`);
  const body = Buffer.from(await res.arrayBuffer());
  const want = sc.path === LARGE_PATH ? LARGE_SIZE : 13;
  if (res.status !== 200 || body.length !== want) throw new Error(`${e.name}: ${sc.id}: got ${res.status} with ${body.length} bytes, want 200 with ${want}`);
  void o;
}

function version(cmd: string, args: string[]): string {
  // nginx -v and wrk -v print on stderr; wrk -v exits 1.
  const r = spawnSync(cmd, args, { encoding: 'latin1' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim())?.trim() ?? 'unknown';
}

function gitRev(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: new URL('..', import.meta.url) }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'proxy-core', 'bin'], { cwd: new URL('..', import.meta.url) }).toString().trim();
    return dirty ? `${rev} + uncommitted changes` : rev;
  } catch {
    return 'unknown';
  }
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

main().catch(async (err: Error) => {
  if (wasInterrupted()) return;
  process.stderr.write(`bench: ${err.message}\n`);
  await stopAll();
  process.exit(1);
});
