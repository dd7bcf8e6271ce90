// Bodies of GET /info and GET /details (contract 2.1, 2.2): every field and JSON type of
// Octavia's agent (master's field set, a superset of 11's).

import os from 'node:os';

import type { AgentConfig } from '../config.ts';
import type { LoadBalancerStore } from '../lb/store.ts';
import { readCpu, readDisk, readLoad, readMemory, readNetworks, readTunedProfiles } from './host.ts';
import { haproxyVersion, packageVersion } from './versions.ts';

/** The REST API version this agent implements (`GET /` and every body's `api_version`). */
export const API_VERSION = '1.0';

// Type aliases, not interfaces: assignable to Record<string, unknown> (the API's SystemSource).
export type InfoBody = {
  hostname: string;
  haproxy_version: string;
  api_version: string;
  keepalived_version: string;
  ipvsadm_version: string;
};

export type DetailsBody = InfoBody & {
  /** eth* interfaces of the amphora namespace: bytes sent and received. */
  networks: Record<string, { network_tx: number; network_rx: number }>;
  active: boolean;
  /** Load balancers whose engine process is alive. */
  haproxy_count: number;
  cpu_count: number;
  /** `total` is an int, the others strings: Octavia's types, kept. */
  cpu: { total: number; user: string; system: string; soft_irq: string };
  /** kB, from /proc/meminfo. */
  memory: { total: number; free: number; buffers: number; cached: number; swap_used: number; shared: number; slab: number };
  /** Bytes on `/`. */
  disk: { used: number; available: number };
  /** The three load averages, as strings. */
  load: string[];
  active_tuned_profiles: string;
  topology: string;
  topology_status: string;
  /** Sorted unique listener ids over every stored config (+ LVS listeners). */
  listeners: string[];
  packages: Record<string, never>;
  lvs_listener_process_count: number;
};

export async function getInfo(cfg: AgentConfig): Promise<InfoBody> {
  const [haproxy, keepalived, ipvsadm] = await Promise.all([
    haproxyVersion(cfg.amphora_ts.engine, cfg.amphora_ts.haproxy_path),
    packageVersion('keepalived'),
    packageVersion('ipvsadm'),
  ]);
  return {
    hostname: os.hostname(),
    haproxy_version: haproxy,
    api_version: API_VERSION,
    keepalived_version: keepalived,
    ipvsadm_version: ipvsadm,
  };
}

export async function getDetails(cfg: AgentConfig, store: LoadBalancerStore): Promise<DetailsBody> {
  const [info, networks, cpu, memory, disk, load, tuned] = await Promise.all([
    getInfo(cfg),
    readNetworks(cfg.amphora_ts.netns),
    readCpu(),
    readMemory(),
    readDisk(),
    readLoad(),
    readTunedProfiles(),
  ]);
  const lbs = store.list();
  return {
    hostname: info.hostname,
    haproxy_version: info.haproxy_version,
    api_version: API_VERSION,
    networks,
    active: true,
    // Master counts running LBs (11 counted listener ids by mistake, always 0).
    haproxy_count: lbs.filter((id) => store.isRunning(id)).length,
    cpu_count: os.cpus().length || os.availableParallelism(),
    cpu,
    memory,
    disk,
    load,
    active_tuned_profiles: tuned,
    // Octavia's agent hard-codes these, even in an active/standby pair.
    topology: 'SINGLE',
    topology_status: 'OK',
    // TODO(LVS issue): append the UDP/SCTP listener ids and count their keepalived processes.
    listeners: store.listenerIds(),
    packages: {},
    lvs_listener_process_count: 0,
    keepalived_version: info.keepalived_version,
    ipvsadm_version: info.ipvsadm_version,
  };
}
