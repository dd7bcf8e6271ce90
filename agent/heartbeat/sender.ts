// The heartbeat loop, independent of how the agent's config and store are shaped: every
// `interval` seconds, build a version 3 message from the stats sockets of the running load
// balancers, wrap it (zlib + hex HMAC) and send it as ONE datagram to ONE controller, the next
// one in the list each time (Octavia's health_sender round robin).

import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { COUNTERS_FILE_NAME, StatsCounters } from './counters.ts';
import { type Destination, parseDestination, resolveDestination } from './destinations.ts';
import { wrapEnvelope } from './envelope.ts';
import { addLoadBalancerStats, emptyMessage, type HeartbeatMessage } from './message.ts';
import { processIdentity, showStat, type StatRow } from './stats-query.ts';

/** The options the loop reads before every heartbeat (three of them are live-mutable through
 *  `PUT /config`, so they are never cached). */
export interface HeartbeatSettings {
  amphoraId: string;
  /** `[haproxy_amphora] base_path`: counters file and keepalived (VRRP) paths live here. */
  basePath: string;
  heartbeatKey: string;
  /** Seconds between heartbeats. */
  heartbeatInterval: number;
  /** `[health_manager] controller_ip_port_list` entries. */
  controllers: string[];
  /** Set when the configuration cannot produce a heartbeat (no amphora id, no key): the beat
   *  is skipped with this reason, the loop keeps running (PUT /config may fix it). */
  problem?: string;
}

/** One load balancer as the heartbeat sees it. */
export interface HeartbeatLoadBalancer {
  id: string;
  /** The data plane process is alive (Octavia: pid file present and process exists). */
  running: boolean;
  /** `stats socket` path of its config; undefined when the config names none. */
  statsSocket: string | undefined;
}

export interface HeartbeatSource {
  loadBalancers(): Promise<HeartbeatLoadBalancer[]>;
}

export type HeartbeatLog = (level: 'debug' | 'info' | 'warning' | 'error', message: string) => void;

/** Largest UDP payload; Octavia's receiver reads 64 KiB per datagram. */
const MAX_DATAGRAM = 65_507;

export class HeartbeatSender {
  private readonly settings: () => HeartbeatSettings;
  private readonly source: HeartbeatSource;
  private readonly log: HeartbeatLog;
  private readonly statsTimeoutMs: number;
  private counters: StatsCounters | undefined;
  private seq = 0;
  private next = 0; // round-robin index into the controller list
  private lastList = '';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  private sockets: Partial<Record<4 | 6, dgram.Socket>> = {};

  constructor(settings: () => HeartbeatSettings, source: HeartbeatSource, options: { log?: HeartbeatLog; statsTimeoutMs?: number } = {}) {
    this.settings = settings;
    this.source = source;
    this.log = options.log ?? (() => {});
    this.statsTimeoutMs = options.statsTimeoutMs ?? 5000;
  }

  /** First heartbeat now, then one per interval. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stop the loop, wait for a heartbeat in flight, close the sockets. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    for (const s of Object.values(this.sockets)) s?.close();
    this.sockets = {};
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        const interval = Number(this.settings().heartbeatInterval);
        this.schedule(Number.isFinite(interval) && interval > 0 ? interval * 1000 : 10_000);
      });
    }, delayMs);
  }

  /** One heartbeat: build, wrap, send. Failures are logged and the beat is skipped, like
   *  Octavia's sender (a missing beat is what makes the health manager fail an amp over). */
  async tick(): Promise<HeartbeatMessage | undefined> {
    const settings = this.settings();
    if (settings.problem) {
      this.log('error', `heartbeat not sent: ${settings.problem}`);
      return undefined;
    }
    try {
      const skip = keepalivedDown(settings.basePath);
      if (skip) {
        this.log('error', `${skip}, skipping health heartbeat`);
        return undefined;
      }
      const message = await this.buildMessage(settings);
      await this.send(settings, message);
      return message;
    } catch (err) {
      this.log('error', `heartbeat skipped: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** The next message: every FRONTEND of every running LB, and their pools. A stopped LB
   *  reports nothing (Octavia's `is_lb_running` gate): the health manager then sees the
   *  listener count drop and fails the amphora over, which is the point. */
  async buildMessage(settings: HeartbeatSettings = this.settings()): Promise<HeartbeatMessage> {
    const counters = this.loadCounters(settings.basePath);
    const answers: { rows: StatRow[]; process: string | undefined }[] = [];
    for (const lb of await this.source.loadBalancers()) {
      if (!lb.running) continue;
      if (!lb.statsSocket) throw new Error(`load balancer ${lb.id} has no stats socket in its config`);
      // Asked before and after `show stat`: a reload in between leaves the identity unknown
      // rather than pinning the new process's counters on the old one (or the reverse).
      const identity = () => processIdentity(lb.statsSocket!, this.statsTimeoutMs).catch(() => undefined);
      const before = await identity();
      const rows = await showStat(lb.statsSocket, this.statsTimeoutMs);
      const after = await identity();
      answers.push({ rows, process: before === after ? before : undefined });
    }
    // seq is taken only once every socket answered: a skipped beat does not consume a number.
    const message = emptyMessage(settings.amphoraId, this.seq++);
    for (const { rows, process } of answers) addLoadBalancerStats(message, rows, counters, process);
    counters.retain(new Set(Object.keys(message.listeners)));
    try {
      await counters.persist();
    } catch (err) {
      this.log('warning', `could not persist ${counters.path}: ${(err as Error).message}`);
    }
    return message;
  }

  private loadCounters(basePath: string): StatsCounters {
    const path = join(basePath, COUNTERS_FILE_NAME);
    if (this.counters?.path !== path) {
      this.counters = new StatsCounters(path);
      this.counters.load();
    }
    return this.counters;
  }

  private async send(settings: HeartbeatSettings, message: HeartbeatMessage): Promise<void> {
    const list = settings.controllers.map((c) => c.trim()).filter((c) => c !== '');
    const key = list.join(',');
    if (key !== this.lastList) {
      // The list changed (PUT /config): start over from its first entry, as Octavia does.
      this.lastList = key;
      this.next = 0;
    }
    if (list.length === 0) {
      this.log('error', 'no controller address configured (controller_ip_port_list); heartbeat not sent');
      return;
    }
    const text = list[this.next % list.length];
    this.next = (this.next + 1) % list.length;
    const dest: Destination | undefined = parseDestination(text);
    if (!dest) {
      this.log('error', `invalid ip and port '${text}' in health_manager controller_ip_port_list`);
      return;
    }
    const datagram = wrapEnvelope(message, String(settings.heartbeatKey ?? ''));
    if (datagram.length > MAX_DATAGRAM) {
      this.log('warning', `heartbeat of ${datagram.length} bytes does not fit in one datagram`);
    }
    let target: Awaited<ReturnType<typeof resolveDestination>>;
    try {
      target = await resolveDestination(dest);
    } catch (err) {
      this.log('warning', `cannot resolve controller ${dest.text}: ${(err as Error).message}`);
      return;
    }
    const socket = this.socket(target.family);
    await new Promise<void>((resolve) => {
      // Send errors are expected while the management network comes up: ignored, like Octavia.
      socket.send(datagram, target.port, target.address, (err) => {
        if (err) this.log('debug', `heartbeat to ${dest.text} not sent: ${err.message}`);
        resolve();
      });
    });
  }

  private socket(family: 4 | 6): dgram.Socket {
    let s = this.sockets[family];
    if (!s) {
      s = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      s.on('error', (err) => this.log('debug', `heartbeat socket: ${err.message}`));
      s.unref();
      this.sockets[family] = s;
    }
    return s;
  }
}

/** Contract 8.14: with keepalived (VRRP) configured but not running, Octavia's agent stops
 *  heartbeating on purpose so that the broken member of an active/standby pair is failed
 *  over. Returns why the beat must be skipped, or undefined. Paths are Octavia's
 *  (BASE/vrrp/octavia-keepalived.conf and .pid). */
export function keepalivedDown(basePath: string): string | undefined {
  const conf = join(basePath, 'vrrp', 'octavia-keepalived.conf');
  const pidFile = join(basePath, 'vrrp', 'octavia-keepalived.pid');
  if (!existsSync(conf)) return undefined;
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0], 10);
  } catch {
    return `missing keepalived PID file ${pidFile}`;
  }
  if (!Number.isInteger(pid) || pid <= 0) return `invalid keepalived PID file ${pidFile}`;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return 'keepalived is configured but not running';
  }
  return undefined;
}
