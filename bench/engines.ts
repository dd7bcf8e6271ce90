// The engines under test, HAProxy and proxy-core, started on the same haproxy.cfg text
// (templates/haproxy.cfg); only the bind ports and the stats socket path differ between
// them. And node-pipe (node-pipe.ts), Node's floor: no config, the same members.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { render } from './members.ts';
import { freePort, sleep, startProcess, statusKb, threadCount, waitForPort, type Proc } from './procs.ts';

export type EngineName = 'haproxy' | 'proxy-core' | 'node-pipe';
export const ENGINES: readonly EngineName[] = ['haproxy', 'proxy-core', 'node-pipe'];

export interface Engine {
  name: EngineName;
  proc: Proc;
  httpPort: number;
  tcpPort: number;
  configPath: string;
  /** VmRSS (kB) of the started, not yet loaded instance. */
  idleRssKb: number;
  threads: number;
}

export interface EngineOptions {
  dir: string;
  memberPorts: [number, number];
  nbthread: number;
  haproxy: string;
  haproxyArgs: string[];
  /** Extra Node options for proxy-core (e.g. --cpu-prof). */
  nodeArgs: string[];
  /** The checkout whose bin/proxy-core.js runs (default: this one; ab.ts runs two). */
  repo?: string;
  /** Which floor runs as node-pipe: node-pipe.ts (node:net) or raw-pipe.ts (raw TCP handles). */
  pipe?: 'net' | 'raw';
  cpus: string | undefined;
  /** Extra environment for the engine (ab.ts: `--a-env` / `--b-env`). */
  env?: Record<string, string>;
}

const REPO = fileURLToPath(new URL('..', import.meta.url));

export function renderConfig(o: { statsSocket: string; nbthread: number; httpPort: number; tcpPort: number; memberPorts: [number, number] }): string {
  return render(readFileSync(new URL('./templates/haproxy.cfg', import.meta.url), 'utf8'), {
    statsSocket: o.statsSocket,
    nbthread: o.nbthread,
    httpPort: o.httpPort,
    tcpPort: o.tcpPort,
    member1: o.memberPorts[0],
    member2: o.memberPorts[1],
  });
}

/**
 * Make sure `repo` runs proxy-core from a dist/ built from its sources: a stale dist makes
 * bin/proxy-core.js run the TypeScript sources, which is slower and about 35 MB bigger, and
 * would be measured as proxy-core. Builds it when needed (bin/build.js), says so on stderr.
 */
export async function ensureBuilt(repo: string = REPO): Promise<void> {
  const distJs = pathToFileURL(join(repo, 'bin', 'dist.js')).href;
  const { distIsFresh } = (await import(distJs)) as { distIsFresh(): boolean };
  if (distIsFresh()) return;
  process.stderr.write(`bench: ${repo}: dist/ does not match the sources, building it (node bin/build.js)\n`);
  const r = spawnSync(process.execPath, [join(repo, 'bin', 'build.js')], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !distIsFresh()) throw new Error(`${repo}: node bin/build.js failed (exit ${r.status ?? r.signal})`);
}

/** The Node options proxy-core's command starts its engine with (bin/engine-options.js). */
async function engineNodeOptions(): Promise<string[]> {
  const url = pathToFileURL(join(REPO, 'bin', 'engine-options.js')).href;
  const { ENGINE_OPTIONS } = (await import(url)) as { ENGINE_OPTIONS: { value: string }[] };
  return ENGINE_OPTIONS.map((o) => o.value);
}

/** Write the config, check it with the engine's `-c`, start it in the foreground, wait until both binds accept. */
export async function startEngine(name: EngineName, o: EngineOptions): Promise<Engine> {
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const configPath = join(o.dir, `${name}.cfg`);
  writeFileSync(
    configPath,
    renderConfig({ statsSocket: join(o.dir, `${name}.sock`), nbthread: o.nbthread, httpPort, tcpPort, memberPorts: o.memberPorts }),
  );
  // proxy-core and node-pipe run on the Node that runs the bench (Node 24 via npm), from this
  // checkout; node-pipe with the Node options proxy-core gives itself (bin/engine-options.js).
  const [cmd, args] =
    name === 'haproxy'
      ? [o.haproxy, [...o.haproxyArgs, '-f', configPath]]
      : name === 'proxy-core'
        ? [process.execPath, [...o.nodeArgs, join(o.repo ?? REPO, 'bin', 'proxy-core.js'), '-f', configPath]]
        : [
            process.execPath,
            [
              ...(await engineNodeOptions()),
              join(REPO, 'bench', o.pipe === 'raw' ? 'raw-pipe.ts' : 'node-pipe.ts'),
              '--http-port', `${httpPort}`, '--tcp-port', `${tcpPort}`, '--members', o.memberPorts.join(','),
            ],
          ];
  const proc = startProcess(name, cmd, args, { cpus: o.cpus, cwd: o.dir, env: o.env });
  await waitForPort(httpPort, proc);
  await waitForPort(tcpPort, proc);
  // Let start-up work (JIT of the start path, worker spawn, first GC) settle before the idle reading.
  await sleep(1000);
  return { name, proc, httpPort, tcpPort, configPath, idleRssKb: statusKb(proc.pid, 'VmRSS'), threads: threadCount(proc.pid) };
}
