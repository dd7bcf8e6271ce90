// The load-balancer members of the bench: one nginx process serving two member ports,
// `/small` (13 bytes) and `/1m` (1 MiB file), rendered from templates/nginx.conf.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess, waitForPort, type Proc } from './procs.ts';

export const SMALL_PATH = '/small';
export const SMALL_BODY = 'hello world!\n';
export const LARGE_PATH = '/1m';
export const LARGE_SIZE = 1 << 20;

export interface Members {
  ports: [number, number];
  proc: Proc;
}

/** Fill `{{name}}` placeholders; every placeholder must have a value. */
export function render(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`template placeholder {{${name}}} has no value`);
    return String(values[name]);
  });
}

export async function startMembers(dir: string, nginx: string, cpus: string | undefined): Promise<Members> {
  for (const sub of ['www', 'client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub), { recursive: true });
  // Incompressible-looking bytes, so nothing along the way can cheat on them.
  const large = Buffer.alloc(LARGE_SIZE);
  for (let i = 0; i < large.length; i++) large[i] = (i * 2654435761) >>> 24;
  writeFileSync(join(dir, 'www', '1m.bin'), large);

  const ports: [number, number] = [await freePort(), await freePort()];
  const conf = render(readFileSync(new URL('./templates/nginx.conf', import.meta.url), 'utf8'), {
    dir,
    member1: ports[0],
    member2: ports[1],
  });
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const proc = startProcess('nginx', nginx, ['-p', dir, '-c', confPath, '-e', join(dir, 'nginx-error.log')], { cpus });
  await waitForPort(ports[0], proc);
  await waitForPort(ports[1], proc);
  return { ports, proc };
}

/** Connections nginx has accepted so far (both member ports; stub_status `accepts`). */
export async function memberAccepts(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/nginx-status`, { headers: { connection: 'close' } });
  const m = /^\s*(\d+)\s+\d+\s+\d+\s*$/m.exec(await res.text());
  if (!m) throw new Error('nginx stub_status: unexpected answer');
  return Number(m[1]);
}
