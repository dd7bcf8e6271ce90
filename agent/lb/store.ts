// LoadBalancerStore: the on-disk state of the load balancers, in the layout Octavia's agent
// uses (contract 2.4-2.8, util.py), so an image moved from the Python agent keeps its LBs:
//
//   BASE/<lb_id>/haproxy.cfg            the live config (an LB exists iff this file exists)
//   BASE/<lb_id>/haproxy.cfg.new        an upload being validated
//   BASE/<lb_id>/haproxy.cfg.new-failed the last upload the validator refused (for debugging)
//   BASE/<lb_id>/<lb_id>.pid            the engine's pid file
//   BASE/<lb_id>/servers-state          server state saved before a reload
//   BASE/<lb_id>/running                ours: present while the LB should be running
//   BASE/<lb_id>/peer                   ours: the -L peer name of the last upload
//   BASE/<lb_id>/engine.log             ours: engine stdout/stderr (process service manager)
//   BASE/<lb_id>.sock                   stats socket (the path is whatever the config says)
//   BASE/haproxy-default-user-group.conf  `global` + `group nogroup`, passed with -f
//   CERTS/<lb_id>/<name>.pem            listener/pool TLS material
//
// Every id or file name reaching a path here has been checked by isUuid / isCertFilename
// first (assertUuid / assertCertFilename): nothing a request says can name a path outside
// BASE or CERTS.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { lstat, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentConfig } from '../config.ts';
import { InvalidFilenameError, InvalidIdError } from '../errors.ts';
import { ensureDir, writeFileAtomic } from './atomic.ts';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// What the controller uploads (contract 2.8, 8.11): `<uuid>.pem` (listener crt-list, pool or
// listener cert ids) or `<40 hex>.pem` (SHA-1 of a CA/CRL/certificate).
const CERT_FILENAME = /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{40})\.pem$/;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

export function isCertFilename(s: string): boolean {
  return CERT_FILENAME.test(s);
}

/** Throws InvalidIdError (400) unless `value` is a UUID. `kind` names it in the message. */
export function assertUuid(kind: string, value: string): string {
  if (!isUuid(value)) throw new InvalidIdError(kind, value);
  return value;
}

/** Throws InvalidFilenameError (400 "Filename has wrong format") unless a valid cert name. */
export function assertCertFilename(value: string): string {
  if (!isCertFilename(value)) throw new InvalidFilenameError(value);
  return value;
}

/** The local peer name of an amphora, as Octavia computes it (contract 2.4): SHA-1 of the
 *  UTF-8 id, base64 with '+' → '_' and '/' → '-', a leading '-' replaced by 'x' (HAProxy
 *  refuses peer names starting with '-'), padding stripped. It must equal a `peer` line. */
export function peerName(amphoraId: string): string {
  const b64 = createHash('sha1').update(amphoraId, 'utf8').digest('base64').replace(/\+/g, '_').replace(/\//g, '-');
  return b64.replace(/^-/, 'x').replace(/=+$/, '');
}

export function md5Hex(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** What GET /listeners and /details report about a frontend of a stored config. */
export interface FrontendInfo {
  /** The frontend name = Octavia listener id. */
  id: string;
  /** `HTTP`, `TCP` (the frontend's mode upper-cased) or `TERMINATED_HTTPS` (bind ... ssl crt-list). */
  type: string;
}

/** The `frontend` sections of a config, the way Octavia's agent reads them (util.parse_haproxy_file):
 *  the name, its `mode` (inherited from the last `defaults` when absent) and whether a bind
 *  terminates TLS with a crt-list. */
export function parseFrontends(text: string): FrontendInfo[] {
  const out: FrontendInfo[] = [];
  let defaultsMode = 'TCP';
  let section: { kind: string; name: string; mode?: string; tls: boolean } | undefined;
  const close = () => {
    if (section?.kind === 'frontend') {
      out.push({ id: section.name, type: section.tls ? 'TERMINATED_HTTPS' : (section.mode ?? defaultsMode) });
    } else if (section?.kind === 'defaults' && section.mode) {
      defaultsMode = section.mode;
    }
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const words = line.split(/\s+/);
    if (/^\S/.test(raw) && /^(global|defaults|frontend|backend|listen|peers|userlist|resolvers|mailers|program|http-errors|ring|cache)$/.test(words[0])) {
      close();
      section = { kind: words[0], name: words[1] ?? '', tls: false };
      continue;
    }
    if (!section) continue;
    if (words[0] === 'mode' && words[1]) section.mode = words[1].toUpperCase();
    if (words[0] === 'bind' && /\sssl\s+crt-list\s/.test(` ${line} `)) section.tls = true;
  }
  close();
  return out;
}

export class LoadBalancerStore {
  /** BASE ([haproxy_amphora] base_path). */
  readonly basePath: string;
  /** CERTS ([haproxy_amphora] base_cert_dir). */
  readonly certBasePath: string;
  /** The `global` + `group` file passed as the last -f (Octavia: /var/lib/octavia/haproxy-default-user-group.conf). */
  readonly userGroupPath: string;

  constructor(cfg: AgentConfig) {
    this.basePath = cfg.haproxy_amphora.base_path;
    this.certBasePath = cfg.haproxy_amphora.base_cert_dir;
    this.userGroupPath = join(this.basePath, 'haproxy-default-user-group.conf');
  }

  // ------------------------------------------------------------------ paths (ids pre-checked)

  lbDir(lbId: string): string {
    return join(this.basePath, assertUuid('loadbalancer', lbId));
  }
  configPath(lbId: string): string {
    return join(this.lbDir(lbId), 'haproxy.cfg');
  }
  newConfigPath(lbId: string): string {
    return join(this.lbDir(lbId), 'haproxy.cfg.new');
  }
  failedConfigPath(lbId: string): string {
    return join(this.lbDir(lbId), 'haproxy.cfg.new-failed');
  }
  pidPath(lbId: string): string {
    return join(this.lbDir(lbId), `${lbId}.pid`);
  }
  stateFilePath(lbId: string): string {
    return join(this.lbDir(lbId), 'servers-state');
  }
  runningMarkerPath(lbId: string): string {
    return join(this.lbDir(lbId), 'running');
  }
  peerPath(lbId: string): string {
    return join(this.lbDir(lbId), 'peer');
  }
  engineLogPath(lbId: string): string {
    return join(this.lbDir(lbId), 'engine.log');
  }
  /** The stats socket named by the live config (`stats socket <path>`), else BASE/<lb_id>.sock. */
  statsSocketPath(lbId: string): string {
    const m = /stats socket\s+(\S+)/.exec(this.readConfig(lbId) ?? '');
    return m ? m[1] : join(this.basePath, `${assertUuid('loadbalancer', lbId)}.sock`);
  }
  certDir(lbId: string): string {
    return join(this.certBasePath, assertUuid('loadbalancer', lbId));
  }
  certPath(lbId: string, filename: string): string {
    return join(this.certDir(lbId), assertCertFilename(filename));
  }

  // -------------------------------------------------------------------------- queries

  /** Ids of the stored LBs (directories of BASE holding a haproxy.cfg), sorted. */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.basePath);
    } catch {
      return [];
    }
    return names.filter((n) => isUuid(n) && existsSync(join(this.basePath, n, 'haproxy.cfg'))).sort();
  }

  exists(lbId: string): boolean {
    return existsSync(this.configPath(lbId));
  }

  /** The live config text, or undefined when the LB is not stored. */
  readConfig(lbId: string): string | undefined {
    try {
      return readFileSync(this.configPath(lbId), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** The frontends (listeners) of one stored LB; [] when not stored. */
  frontends(lbId: string): FrontendInfo[] {
    const text = this.readConfig(lbId);
    return text === undefined ? [] : parseFrontends(text);
  }

  /** Sorted unique listener ids over every stored config (GET /details `listeners`). */
  listenerIds(): string[] {
    const ids = new Set<string>();
    for (const lb of this.list()) for (const f of this.frontends(lb)) ids.add(f.id);
    return [...ids].sort();
  }

  /** The pid in the LB's pid file (first line), or undefined. */
  pid(lbId: string): number | undefined {
    try {
      const n = Number(readFileSync(this.pidPath(lbId), 'utf8').split('\n')[0].trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** True when the pid file names a live process (Octavia's "running" test). */
  isRunning(lbId: string): boolean {
    const pid = this.pid(lbId);
    return pid !== undefined && pidAlive(pid);
  }

  /** True when the LB was last started/reloaded and not stopped since (survives agent restarts). */
  shouldRun(lbId: string): boolean {
    return existsSync(this.runningMarkerPath(lbId));
  }

  /** The local peer name recorded at the last upload (from the amp_id of its path). */
  peer(lbId: string): string | undefined {
    try {
      return readFileSync(this.peerPath(lbId), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  // -------------------------------------------------------------------------- writes

  async setPeer(lbId: string, peer: string): Promise<void> {
    if (this.peer(lbId) !== peer) await writeFileAtomic(this.peerPath(lbId), `${peer}\n`, 0o644);
  }

  async setShouldRun(lbId: string, run: boolean): Promise<void> {
    if (run) await writeFileAtomic(this.runningMarkerPath(lbId), '', 0o644);
    else await unlink(this.runningMarkerPath(lbId)).catch(() => {});
  }

  /** Write the user/group file the engine reads after the LB config (Octavia's image
   *  writes `global` + `group nogroup`). For HAProxy we add `no strict-limits`: under the
   *  process service manager the engine inherits the agent's file-descriptor limit, and
   *  Octavia's maxconn (50000 per listener) would otherwise stop HAProxy from starting where
   *  that limit is lower than its unit's LimitNOFILE; it then warns and serves. */
  async ensureUserGroupFile(engine: 'proxy-core' | 'haproxy', group = 'nogroup'): Promise<void> {
    const text = `global\n    group ${group}\n${engine === 'haproxy' ? '    no strict-limits\n' : ''}`;
    let current: string | undefined;
    try {
      current = readFileSync(this.userGroupPath, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) return;
    await ensureDir(this.basePath);
    await writeFileAtomic(this.userGroupPath, text, 0o644);
  }

  async readCert(lbId: string, filename: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.certPath(lbId, filename));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Store a certificate file atomically (0600) under CERTS/<lb_id>/. */
  async writeCert(lbId: string, filename: string, data: Uint8Array): Promise<void> {
    const path = this.certPath(lbId, filename);
    await ensureDir(this.certDir(lbId), 0o700);
    await writeFileAtomic(path, data, 0o600);
  }

  /** Remove a certificate file; true when one was there. */
  async deleteCert(lbId: string, filename: string): Promise<boolean> {
    try {
      await unlink(this.certPath(lbId, filename));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /** Forget an LB: its stats socket, CERTS/<lb_id> and BASE/<lb_id> (Octavia's delete_lb). */
  async remove(lbId: string): Promise<void> {
    // The path comes from an uploaded config: only ever remove a socket there.
    const socket = this.statsSocketPath(lbId);
    if ((await lstat(socket).catch(() => undefined))?.isSocket()) await unlink(socket).catch(() => {});
    await rm(this.certDir(lbId), { recursive: true, force: true });
    await rm(this.lbDir(lbId), { recursive: true, force: true });
  }
}

/** True when a process with this pid exists (signal 0 probe; EPERM still means it exists). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A zombie (dead, not yet reaped by a parent that is not us) is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
