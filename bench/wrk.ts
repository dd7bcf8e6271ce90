// Running wrk and reading its report.

import { startProcess } from './procs.ts';

export interface WrkOptions {
  url: string;
  durationS: number;
  connections: number;
  threads: number;
  headers: string[];
  cpus: string | undefined;
  wrk: string;
}

export interface WrkResult {
  requests: number;
  durationS: number;
  requestsPerS: number;
  bytesRead: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors (connect+read+write+timeout) and non-2xx/3xx responses. */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  non2xx3xx: number;
  raw: string;
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--latency', '--timeout', '5s'];
  for (const h of o.headers) args.push('-H', h);
  args.push(o.url);
  const proc = startProcess('wrk', o.wrk, args, { cpus: o.cpus });
  const code = await proc.exited;
  const raw = proc.output();
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${raw}`);
  return parseWrk(raw);
}

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000 };
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** Parse wrk 4.x output (`--latency`). Throws when a figure the bench needs is missing. */
export function parseWrk(raw: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)(B|KB|MB|GB|TB) read/.exec(raw);
  const p50 = /^\s*50%\s+([\d.]+)(us|ms|s|m|h)/m.exec(raw);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m|h)/m.exec(raw);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(raw);
  if (!total || !p50 || !p99 || !rps) throw new Error(`unexpected wrk output:\n${raw}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const non = /Non-2xx or 3xx responses: (\d+)/.exec(raw);
  return {
    requests: Number(total[1]),
    durationS: (Number(total[2]) * TIME_UNITS[total[3]]!) / 1000,
    requestsPerS: Number(rps[1]),
    bytesRead: Number(total[4]) * SIZE_UNITS[total[5]]!,
    p50Ms: Number(p50[1]) * TIME_UNITS[p50[2]!]!,
    p99Ms: Number(p99[1]) * TIME_UNITS[p99[2]!]!,
    socketErrors: {
      connect: Number(sock?.[1] ?? 0),
      read: Number(sock?.[2] ?? 0),
      write: Number(sock?.[3] ?? 0),
      timeout: Number(sock?.[4] ?? 0),
    },
    non2xx3xx: Number(non?.[1] ?? 0),
    raw,
  };
}
