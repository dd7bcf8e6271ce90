// The agent's configuration: the INI file Octavia's agent reads (`--config-file`, repeatable,
// oslo.config syntax), with Octavia's section and option names and defaults (contract 5), plus
// a section of our own, [amphora_ts].
//
// Unknown options in Octavia's sections are ignored, as oslo.config ignores options nobody
// registered (the controller renders a few the agent never reads). Unknown options in
// [amphora_ts] are an error at start: that section is ours, a typo there must not pass.
//
// The AgentConfig object is shared by every part of the agent and PUT /config mutates its
// four live options in place (applyLiveOptions): readers must read those fields when they use
// them, never copy them at construction.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentConfigError, ConfigUpdateError } from './errors.ts';
import { writeFileAtomic } from './lb/atomic.ts';

export type Engine = 'proxy-core' | 'haproxy';
export type ServiceManagerKind = 'systemd' | 'process';
export type Topology = 'SINGLE' | 'ACTIVE_STANDBY';

export interface AgentConfig {
  /** The --config-file paths in the order given (later files override earlier ones). */
  configFiles: string[];
  DEFAULT: {
    debug: boolean;
    use_syslog: boolean;
    syslog_log_facility: string;
  };
  amphora_agent: {
    /** CA bundle that verifies the controller's client certificate. */
    agent_server_ca: string;
    /** The agent's certificate followed by its private key, one PEM file. */
    agent_server_cert: string;
    agent_server_network_dir: string;
    /** Seconds a request may take before the agent gives up on it. */
    agent_request_read_timeout: number;
    /** Minimum TLS version (the agent never goes above TLSv1.2 as minimum: the controller pins 1.2). */
    agent_tls_protocol: 'SSLv3' | 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    /** This amphora's UUID: heartbeat `id`. */
    amphora_id: string | undefined;
    amphora_udp_driver: string;
    administrative_log_facility: number;
    user_log_facility: number;
  };
  haproxy_amphora: {
    /** BASE: configs, pid files, stats sockets, lvs/, vrrp/. */
    base_path: string;
    /** CERTS: listener certificates, one directory per LB. */
    base_cert_dir: string;
    bind_host: string;
    bind_port: number;
    haproxy_cmd: string;
  };
  health_manager: {
    /** Live (PUT /config). `host:port` entries, IPv6 hosts in brackets. */
    controller_ip_port_list: string[];
    /** Live (PUT /config). Seconds between heartbeats. */
    heartbeat_interval: number;
    /** Live (PUT /config). HMAC key of the heartbeats. */
    heartbeat_key: string | undefined;
  };
  controller_worker: {
    /** Live (PUT /config). */
    loadbalancer_topology: Topology;
  };
  amphora_ts: {
    /** The data plane: our proxy-core (default) or a real HAProxy. */
    engine: Engine;
    /** systemd (an amphora image) or process (the agent supervises the engine itself). */
    service_manager: ServiceManagerKind;
    /** Network namespace the engine runs in; '' = the agent's own (development, tests). */
    netns: string;
    /** proxy-core entry script, run with the agent's own Node (process.execPath). */
    proxy_core_path: string;
    /** HAProxy binary; default [haproxy_amphora] haproxy_cmd. */
    haproxy_path: string;
    /** Where the systemd service manager writes unit files. */
    systemd_unit_dir: string;
    /** systemctl binary used by the systemd service manager. */
    systemctl_path: string;
  };
}

/** The repository root (agent/..), where bin/proxy-core.js lives. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ------------------------------------------------------------------------------ INI parsing

interface Assignment {
  value: string;
  where: string;
}

/** section → option → last assignment. Section names are lower-cased except DEFAULT. */
type Ini = Map<string, Map<string, Assignment>>;

/** oslo.config's INI dialect: `key = value` or `key: value`, `#`/`;` comments, indented
 *  continuation lines joined with '\n', a blank line ends a value, surrounding matching quotes
 *  stripped, the last assignment of a key wins. */
export function parseIni(text: string, file: string, into: Ini = new Map()): Ini {
  let section: Map<string, Assignment> | undefined;
  let pending: { key: string; lines: string[]; where: string } | undefined;
  const flush = () => {
    if (!pending) return;
    if (!section) throw new AgentConfigError(`${pending.where}: option ${pending.key} outside of any [section]`);
    section.set(pending.key, { value: pending.lines.join('\n'), where: pending.where });
    pending = undefined;
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\s+$/, '');
    const where = `${file}:${i + 1}`;
    if (line === '') {
      flush();
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!pending) throw new AgentConfigError(`${where}: unexpected continuation line`);
      pending.lines.push(line.trimStart());
      continue;
    }
    flush();
    if (line.startsWith('[')) {
      if (!line.endsWith(']') || line.length <= 2) throw new AgentConfigError(`${where}: invalid section header ${line}`);
      let name = line.slice(1, -1);
      if (name !== 'DEFAULT') name = name.toLowerCase();
      section = into.get(name);
      if (!section) into.set(name, (section = new Map()));
      continue;
    }
    if (line.startsWith('#') || line.startsWith(';')) continue;
    const colon = line.indexOf(':');
    const equal = line.indexOf('=');
    if (colon < 0 && equal < 0) throw new AgentConfigError(`${where}: no ':' or '=' in ${JSON.stringify(line)}`);
    const at = colon < 0 || (equal >= 0 && equal < colon) ? equal : colon;
    const key = line.slice(0, at).trim().replace(/-/g, '_');
    let value = line.slice(at + 1).trim();
    if (value.length >= 2 && value[0] === value[value.length - 1] && (value[0] === '"' || value[0] === "'")) {
      value = value.slice(1, -1);
    }
    if (!key) throw new AgentConfigError(`${where}: empty option name`);
    pending = { key, lines: [value], where };
  }
  flush();
  return into;
}

// ------------------------------------------------------------------------- typed options

class Reader {
  private readonly ini: Ini;
  constructor(ini: Ini) {
    this.ini = ini;
  }
  private get(section: string, key: string): Assignment | undefined {
    return this.ini.get(section)?.get(key);
  }
  str(section: string, key: string, def: string): string {
    return this.get(section, key)?.value ?? def;
  }
  optStr(section: string, key: string): string | undefined {
    const v = this.get(section, key)?.value;
    return v === undefined || v === '' ? undefined : v;
  }
  int(section: string, key: string, def: number, min?: number, max?: number): number {
    const a = this.get(section, key);
    if (!a) return def;
    const n = Number(a.value.trim());
    if (a.value.trim() === '' || !Number.isInteger(n)) {
      throw new AgentConfigError(`${a.where}: [${section}] ${key} must be an integer, not ${JSON.stringify(a.value)}`);
    }
    if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
      throw new AgentConfigError(`${a.where}: [${section}] ${key} = ${n} is out of range ${min ?? ''}..${max ?? ''}`);
    }
    return n;
  }
  bool(section: string, key: string, def: boolean): boolean {
    const a = this.get(section, key);
    if (!a) return def;
    const v = a.value.trim().toLowerCase();
    if (['true', '1', 'on', 'yes'].includes(v)) return true;
    if (['false', '0', 'off', 'no'].includes(v)) return false;
    throw new AgentConfigError(`${a.where}: [${section}] ${key} must be a boolean, not ${JSON.stringify(a.value)}`);
  }
  list(section: string, key: string): string[] {
    const a = this.get(section, key);
    if (!a) return [];
    return a.value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  choice<T extends string>(section: string, key: string, def: T, choices: readonly T[]): T {
    const a = this.get(section, key);
    if (!a) return def;
    const v = a.value.trim();
    if (!(choices as readonly string[]).includes(v)) {
      throw new AgentConfigError(`${a.where}: [${section}] ${key} must be one of ${choices.join(', ')}, not ${JSON.stringify(v)}`);
    }
    return v as T;
  }
  /** Options present in a section that `known` does not list. */
  unknown(section: string, known: readonly string[]): Assignment & { key: string } | undefined {
    for (const [key, a] of this.ini.get(section) ?? []) {
      if (!known.includes(key)) return { key, ...a };
    }
    return undefined;
  }
}

const AMPHORA_TS_OPTIONS = [
  'engine',
  'service_manager',
  'netns',
  'proxy_core_path',
  'haproxy_path',
  'systemd_unit_dir',
  'systemctl_path',
] as const;

/** Build the typed configuration from already-read files (later files override earlier). */
export function parseAgentConfig(files: { path: string; text: string }[]): AgentConfig {
  const ini: Ini = new Map();
  for (const f of files) parseIni(f.text, f.path, ini);
  const r = new Reader(ini);

  const bad = r.unknown('amphora_ts', AMPHORA_TS_OPTIONS);
  if (bad) {
    throw new AgentConfigError(
      `${bad.where}: unknown option "${bad.key}" in [amphora_ts] (known: ${AMPHORA_TS_OPTIONS.join(', ')})`,
    );
  }

  const haproxyCmd = r.str('haproxy_amphora', 'haproxy_cmd', '/usr/sbin/haproxy');
  return {
    configFiles: files.map((f) => f.path),
    DEFAULT: {
      debug: r.bool('DEFAULT', 'debug', false),
      use_syslog: r.bool('DEFAULT', 'use_syslog', false),
      syslog_log_facility: r.str('DEFAULT', 'syslog_log_facility', 'LOG_USER'),
    },
    amphora_agent: {
      agent_server_ca: r.str('amphora_agent', 'agent_server_ca', '/etc/octavia/certs/client_ca.pem'),
      agent_server_cert: r.str('amphora_agent', 'agent_server_cert', '/etc/octavia/certs/server.pem'),
      agent_server_network_dir: r.str('amphora_agent', 'agent_server_network_dir', '/etc/octavia/interfaces/'),
      agent_request_read_timeout: r.int('amphora_agent', 'agent_request_read_timeout', 180, 1),
      agent_tls_protocol: r.choice('amphora_agent', 'agent_tls_protocol', 'TLSv1.2', [
        'SSLv3',
        'TLSv1',
        'TLSv1.1',
        'TLSv1.2',
        'TLSv1.3',
      ] as const),
      amphora_id: r.optStr('amphora_agent', 'amphora_id'),
      amphora_udp_driver: r.str('amphora_agent', 'amphora_udp_driver', 'keepalived_lvs'),
      administrative_log_facility: r.int('amphora_agent', 'administrative_log_facility', 1, 0, 7),
      user_log_facility: r.int('amphora_agent', 'user_log_facility', 0, 0, 7),
    },
    haproxy_amphora: {
      base_path: r.str('haproxy_amphora', 'base_path', '/var/lib/octavia'),
      base_cert_dir: r.str('haproxy_amphora', 'base_cert_dir', '/var/lib/octavia/certs'),
      bind_host: r.str('haproxy_amphora', 'bind_host', '::'),
      bind_port: r.int('haproxy_amphora', 'bind_port', 9443, 0, 65535),
      haproxy_cmd: haproxyCmd,
    },
    health_manager: {
      controller_ip_port_list: r.list('health_manager', 'controller_ip_port_list'),
      heartbeat_interval: r.int('health_manager', 'heartbeat_interval', 10, 1),
      heartbeat_key: r.optStr('health_manager', 'heartbeat_key'),
    },
    controller_worker: {
      loadbalancer_topology: r.choice('controller_worker', 'loadbalancer_topology', 'SINGLE', [
        'SINGLE',
        'ACTIVE_STANDBY',
      ] as const),
    },
    amphora_ts: {
      engine: r.choice('amphora_ts', 'engine', 'proxy-core', ['proxy-core', 'haproxy'] as const),
      service_manager: r.choice('amphora_ts', 'service_manager', 'systemd', ['systemd', 'process'] as const),
      netns: r.str('amphora_ts', 'netns', 'amphora-haproxy').trim(),
      proxy_core_path: r.str('amphora_ts', 'proxy_core_path', join(REPO_ROOT, 'bin', 'proxy-core.js')),
      haproxy_path: r.str('amphora_ts', 'haproxy_path', haproxyCmd),
      systemd_unit_dir: r.str('amphora_ts', 'systemd_unit_dir', '/usr/lib/systemd/system'),
      systemctl_path: r.str('amphora_ts', 'systemctl_path', 'systemctl'),
    },
  };
}

/** Read and parse the --config-file paths. Throws AgentConfigError naming file and line. */
export function loadAgentConfig(paths: string[]): AgentConfig {
  const files = paths.map((path) => {
    try {
      return { path, text: readFileSync(path, 'utf8') };
    } catch (e) {
      throw new AgentConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
    }
  });
  return parseAgentConfig(files);
}

/** The options PUT /config changes in the running agent (Octavia's `mutable=True` ones). */
export const LIVE_OPTIONS = [
  'health_manager.heartbeat_key',
  'health_manager.controller_ip_port_list',
  'health_manager.heartbeat_interval',
  'controller_worker.loadbalancer_topology',
] as const;

/** Copy the live options of `next` into `target` (in place); returns the names that changed.
 *  Everything else in `next` takes effect only after an agent restart, as in Octavia. */
export function applyLiveOptions(target: AgentConfig, next: AgentConfig): string[] {
  const changed: string[] = [];
  const hm = target.health_manager;
  if (hm.heartbeat_key !== next.health_manager.heartbeat_key) {
    hm.heartbeat_key = next.health_manager.heartbeat_key;
    changed.push('health_manager.heartbeat_key');
  }
  if (hm.controller_ip_port_list.join(',') !== next.health_manager.controller_ip_port_list.join(',')) {
    hm.controller_ip_port_list = [...next.health_manager.controller_ip_port_list];
    changed.push('health_manager.controller_ip_port_list');
  }
  if (hm.heartbeat_interval !== next.health_manager.heartbeat_interval) {
    hm.heartbeat_interval = next.health_manager.heartbeat_interval;
    changed.push('health_manager.heartbeat_interval');
  }
  if (target.controller_worker.loadbalancer_topology !== next.controller_worker.loadbalancer_topology) {
    target.controller_worker.loadbalancer_topology = next.controller_worker.loadbalancer_topology;
    changed.push('controller_worker.loadbalancer_topology');
  }
  return changed;
}

/** PUT /config: `text` replaces the first --config-file (the file Octavia's image passes).
 *  It is parsed together with the other config files first, so a file that would keep the
 *  agent from starting is refused and nothing is written; then it is written atomically
 *  (0600) and the live options are applied to `cfg`. Returns the live options that changed.
 *  Throws ConfigUpdateError (500 "Unable to update amphora-agent configuration."). */
export async function updateConfigFile(cfg: AgentConfig, text: string): Promise<string[]> {
  const target = cfg.configFiles[0];
  if (target === undefined) throw new ConfigUpdateError('the agent was started without --config-file: nowhere to write');
  // The controller renders the file from its own template and knows nothing of our
  // [amphora_ts] section: keep the one the file had, or the agent would come back after a
  // restart with the default engine and service manager.
  text = keepOwnSection(readFileSync(target, 'utf8'), text);
  let next: AgentConfig;
  try {
    const files = cfg.configFiles.map((path, i) => ({ path, text: i === 0 ? text : readFileSync(path, 'utf8') }));
    next = parseAgentConfig(files);
  } catch (e) {
    throw new ConfigUpdateError((e as Error).message);
  }
  try {
    await writeFileAtomic(target, text, 0o600);
  } catch (e) {
    throw new ConfigUpdateError(`cannot write ${target}: ${(e as Error).message}`);
  }
  return applyLiveOptions(cfg, next);
}

const OWN_SECTION = /^\s*\[amphora_ts\]\s*$/m;

/** `next` with the [amphora_ts] section of `current` appended, unless `next` has its own. */
export function keepOwnSection(current: string, next: string): string {
  if (OWN_SECTION.test(next)) return next;
  const lines = current.split('\n');
  const start = lines.findIndex((l) => OWN_SECTION.test(l));
  if (start < 0) return next;
  let end = start + 1;
  while (end < lines.length && !/^\s*\[[^\]]+\]\s*$/.test(lines[end]!)) end++;
  const section = lines.slice(start, end).join('\n').trimEnd();
  return `${next.endsWith('\n') ? next : `${next}\n`}\n${section}\n`;
}
