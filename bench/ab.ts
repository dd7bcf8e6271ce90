// `node bench/ab.ts --a DIR --b DIR`: two builds of proxy-core, side by side, on the same
// members and config, to tell whether a change moves CPU per request or p99.
//
// The machine's own noise (other tenants, frequency changes) moves a single bench figure by
// 10-15 % between runs minutes apart, more than most changes to the hot path. Here both
// builds run at once and wrk drives them in turn, A B B A A B… (`--pairs` times, the order
// alternating so neither build always goes first), so slow and fast stretches of the machine
// fall on both; the report is each build's median and the ratio B / A, with every run listed.
//
// DIR is a checkout (`git worktree add /tmp/a <rev>`, then `npm install` or a node_modules
// link); its dist/ is built first when it does not match its sources. Both run on this
// checkout's Node. Flags: --scenario
// keepalive|newconn|large|tcp (default keepalive), --pairs N (default 6), --duration S
// (default 6), --connections C (default 50), --nbthread N (default 1). Pinning as in run.ts:
// both engines on CPUs 0..nbthread-1, wrk and nginx on the others. --a-node-args / --b-node-args
// "…": Node options for one side only (the same build twice with and without a V8 flag);
// --a-env / --b-env "K=V K2=V2": environment for one side only (AMPHORA_TS_* switches).

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuilt, startEngine, type Engine } from './engines.ts';
import { LARGE_PATH, SMALL_PATH, startMembers } from './members.ts';
import { cpuSeconds, installCleanup, sleep, stopAll } from './procs.ts';
import { median } from './report.ts';
import { runWrk } from './wrk.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    scenario: { type: 'string', default: 'keepalive' },
    pairs: { type: 'string', default: '6' },
    duration: { type: 'string', default: '6' },
    connections: { type: 'string', default: '50' },
    nbthread: { type: 'string', default: '1' },
    'a-node-args': { type: 'string', default: '' },
    'b-node-args': { type: 'string', default: '' },
    'a-env': { type: 'string', default: '' },
    'b-env': { type: 'string', default: '' },
  },
});
if (!values.a || !values.b) {
  process.stderr.write('usage: node bench/ab.ts --a DIR --b DIR [--scenario keepalive|newconn|large|tcp] [--pairs N] [--duration S]\n');
  process.exit(2);
}
const scenario = values.scenario!;
if (!['keepalive', 'newconn', 'large', 'tcp'].includes(scenario)) throw new Error(`unknown scenario ${scenario}`);
const pairs = Number(values.pairs);
const durationS = Number(values.duration);
const connections = Number(values.connections);
const nbthread = Number(values.nbthread);
const ncpu = availableParallelism();
const range = (from: number, to: number) => (from === to ? `${from}` : `${from}-${to}`);
const pin = ncpu > nbthread;
const engineCpus = pin ? range(0, nbthread - 1) : undefined;
const loadCpus = pin ? range(nbthread, ncpu - 1) : undefined;

interface Figures {
  /** Socket errors and non-2xx/3xx answers: a build that fails requests is not comparable. */
  errors: number;
  cpuMsPer10k: number;
  sysMsPer10k: number;
  p50Ms: number;
  p99Ms: number;
  requestsPerS: number;
}

async function measure(e: Engine): Promise<Figures> {
  const port = scenario === 'tcp' ? e.tcpPort : e.httpPort;
  const before = cpuSeconds(e.proc.pid);
  const w = await runWrk({
    url: `http://127.0.0.1:${port}${scenario === 'large' ? LARGE_PATH : SMALL_PATH}`,
    durationS,
    connections,
    threads: 1,
    headers: scenario === 'newconn' ? ['Connection: close'] : [],
    cpus: loadCpus,
    wrk: 'wrk',
  });
  const after = cpuSeconds(e.proc.pid);
  if (w.requests === 0) throw new Error(`${e.configPath}: no requests served`);
  await sleep(500);
  const se = w.socketErrors;
  return {
    errors: se.connect + se.read + se.write + se.timeout + w.non2xx3xx,
    cpuMsPer10k: ((after.total - before.total) * 1e7) / w.requests,
    sysMsPer10k: ((after.sys - before.sys) * 1e7) / w.requests,
    p50Ms: w.p50Ms,
    p99Ms: w.p99Ms,
    requestsPerS: w.requestsPerS,
  };
}

installCleanup();
await ensureBuilt(resolve(values.a));
await ensureBuilt(resolve(values.b));
const dir = mkdtempSync(join(tmpdir(), 'amphora-ab-'));
try {
  const members = await startMembers(join(dir, 'members'), '/usr/sbin/nginx', loadCpus);
  const start = async (label: string, repo: string, nodeArgs: string, envList: string) => {
    const d = join(dir, label);
    mkdirSync(d);
    const args = nodeArgs.split(/\s+/).filter(Boolean);
    const env = Object.fromEntries(
      envList
        .split(/\s+/)
        .filter(Boolean)
        .map((kv) => {
          const eq = kv.indexOf('=');
          if (eq <= 0) throw new Error(`--${label}-env: expected K=V, got ${kv}`);
          return [kv.slice(0, eq), kv.slice(eq + 1)];
        }),
    );
    return startEngine('proxy-core', { dir: d, memberPorts: members.ports, nbthread, haproxy: '', haproxyArgs: [], nodeArgs: args, cpus: engineCpus, repo: resolve(repo), env });
  };
  const engines = {
    A: await start('a', values.a, values['a-node-args'], values['a-env']!),
    B: await start('b', values.b, values['b-node-args'], values['b-env']!),
  };
  const side = (repo: string, nodeArgs: string, env: string) => [repo, nodeArgs, env].filter(Boolean).join(' ');
  process.stdout.write(
    `ab: ${scenario}, ${pairs} pairs × ${durationS} s, wrk -c${connections}; ` +
      `A = ${side(values.a, values['a-node-args']!, values['a-env']!)}, B = ${side(values.b, values['b-node-args']!, values['b-env']!)}\n`,
  );
  for (const e of Object.values(engines)) await measure(e); // warm-up
  const runs: Record<'A' | 'B', Figures[]> = { A: [], B: [] };
  for (let i = 0; i < pairs; i++) {
    for (const label of i % 2 ? (['B', 'A'] as const) : (['A', 'B'] as const)) {
      const f = await measure(engines[label]);
      runs[label].push(f);
      process.stdout.write(
        `  ${label}  CPU ${f.cpuMsPer10k.toFixed(0)} ms/10k (sys ${f.sysMsPer10k.toFixed(0)})  p50 ${f.p50Ms.toFixed(2)}  p99 ${f.p99Ms.toFixed(2)} ms  ${f.requestsPerS.toFixed(0)} req/s${f.errors ? `  ERRORS ${f.errors}` : ''}\n`,
      );
    }
  }
  for (const [metric, label] of [
    ['cpuMsPer10k', 'CPU ms / 10k req'],
    ['sysMsPer10k', '  of which kernel'],
    ['p50Ms', 'p50 ms'],
    ['p99Ms', 'p99 ms'],
    ['requestsPerS', 'req/s'],
  ] as const) {
    const a = median(runs.A.map((f) => f[metric]));
    const b = median(runs.B.map((f) => f[metric]));
    process.stdout.write(`${label.padEnd(18)} A ${a.toFixed(metric.endsWith('Ms') ? 2 : 0).padStart(8)}  B ${b.toFixed(metric.endsWith('Ms') ? 2 : 0).padStart(8)}  B/A ${(b / a).toFixed(3)}\n`);
  }
  const errors = (l: 'A' | 'B') => runs[l].reduce((n, f) => n + f.errors, 0);
  if (errors('A') || errors('B')) process.stdout.write(`errors (socket + non-2xx/3xx): A ${errors('A')}, B ${errors('B')}\n`);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
