// Host facts for GET /details, read the way Octavia's agent reads them (amphora_info.py):
// /proc/stat, /proc/meminfo, /proc/loadavg, statvfs('/'), interface counters, TuneD's profile.
// Where /proc is missing (a developer's macOS) node:os and systeminformation stand in.

import { execFile } from 'node:child_process';
import { readFile, readdir, statfs } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';

import si from 'systeminformation';

import type { DetailsBody } from './info.ts';

const run = promisify(execFile);

/** Byte counters of the interfaces named eth* (Octavia reports only those: the VIP and member
 *  ports in the amphora namespace), from `ip -s -j link` — inside `netns` when one is set. */
export async function readNetworks(netns: string): Promise<DetailsBody['networks']> {
  const networks: DetailsBody['networks'] = {};
  try {
    const args = [...(netns ? ['-n', netns] : []), '-s', '-j', 'link', 'show'];
    const { stdout } = await run('ip', args, { timeout: 5000 });
    const links = JSON.parse(stdout) as { ifname?: string; stats64?: { rx?: { bytes?: number }; tx?: { bytes?: number } } }[];
    for (const link of links) {
      if (!link.ifname?.startsWith('eth') || !link.stats64) continue;
      networks[link.ifname] = { network_tx: Number(link.stats64.tx?.bytes ?? 0), network_rx: Number(link.stats64.rx?.bytes ?? 0) };
    }
    return networks;
  } catch {
    if (netns) return networks; // the namespace does not exist (yet): nothing plugged
  }
  // No `ip` (a developer's machine): the agent's own namespace through sysfs, or
  // systeminformation where there is no sysfs.
  try {
    for (const name of await readdir('/sys/class/net')) {
      if (!name.startsWith('eth')) continue;
      const [tx, rx] = await Promise.all(
        ['tx_bytes', 'rx_bytes'].map((f) => readFile(`/sys/class/net/${name}/statistics/${f}`, 'utf8')),
      );
      networks[name] = { network_tx: Number(tx.trim()), network_rx: Number(rx.trim()) };
    }
  } catch {
    for (const s of await si.networkStats('*')) {
      if (s.iface.startsWith('eth')) networks[s.iface] = { network_tx: s.tx_bytes, network_rx: s.rx_bytes };
    }
  }
  return networks;
}

/** First line of /proc/stat. As Octavia: `total` is the int sum of every field, the others
 *  are the raw strings (user, system, softirq). */
export async function readCpu(): Promise<DetailsBody['cpu']> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
    const fields = line.trim().split(/\s+/).slice(1);
    const total = fields.reduce((sum, f) => sum + Number.parseInt(f, 10), 0);
    return { total, user: fields[0], system: fields[2], soft_irq: fields[6] };
  } catch {
    // No /proc: os.cpus() times are in ms; report clock ticks (USER_HZ 100) like /proc.
    const t = { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 };
    for (const c of os.cpus()) for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] += c.times[k];
    const ticks = (ms: number) => Math.round(ms / 10);
    const total = Object.values(t).reduce((s, v) => s + ticks(v), 0);
    return { total, user: String(ticks(t.user)), system: String(ticks(t.sys)), soft_irq: '0' };
  }
}

/** /proc/meminfo in kB. `swap_used` is SwapCached — Octavia's field mapping, kept. */
export async function readMemory(): Promise<DetailsBody['memory']> {
  try {
    const kb: Record<string, number> = {};
    for (const line of (await readFile('/proc/meminfo', 'utf8')).split('\n')) {
      const m = /^(\S+):\s*(\d+)\s*kB/.exec(line);
      if (m) kb[m[1]] = Number(m[2]);
    }
    return {
      total: kb.MemTotal ?? 0,
      free: kb.MemFree ?? 0,
      buffers: kb.Buffers ?? 0,
      cached: kb.Cached ?? 0,
      swap_used: kb.SwapCached ?? 0,
      shared: kb.Shmem ?? 0,
      slab: kb.Slab ?? 0,
    };
  } catch {
    const m = await si.mem();
    const k = (bytes: number) => Math.floor(bytes / 1024);
    return { total: k(m.total), free: k(m.free), buffers: k(m.buffers), cached: k(m.cached), swap_used: 0, shared: 0, slab: k(m.slab) };
  }
}

/** Bytes used and available on `/` (statvfs: (blocks − bfree) × size, bavail × size; Node's
 *  statfs has no f_frsize, which equals f_bsize on Linux file systems). */
export async function readDisk(): Promise<DetailsBody['disk']> {
  const st = await statfs('/');
  return { used: (st.blocks - st.bfree) * st.bsize, available: st.bavail * st.bsize };
}

/** The three load averages as strings, as /proc/loadavg writes them. */
export async function readLoad(): Promise<string[]> {
  try {
    return (await readFile('/proc/loadavg', 'utf8')).trim().split(/\s+/).slice(0, 3);
  } catch {
    return os.loadavg().map((l) => l.toFixed(2));
  }
}

/** TuneD's active profiles (master: `amphora` in this list makes the controller render
 *  `nbthread` and `cpu-map`); '' when TuneD is not there. */
export async function readTunedProfiles(): Promise<string> {
  try {
    return (await readFile('/etc/tuned/active_profile', 'utf8')).slice(0, 1024).trim();
  } catch {
    return '';
  }
}
