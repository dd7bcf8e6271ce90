// The systemd service manager, as in Octavia's image: one unit per LB rendered from
// templates/proxy-core.service.hbs (installed and enabled at upload, so systemd starts the LB
// at boot), and `systemctl start|reload|stop`. The unit validates before start and reload
// and reloads with SIGUSR2 to the main pid.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { REPO_ROOT } from '../config.ts';
import { ServiceActionError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import type { Command, EngineSpec } from './engine.ts';
import type { Logger } from './log.ts';
import type { ServiceManager } from './service.ts';
import { canConnect } from './stats.ts';
import type { LoadBalancerStore } from './store.ts';

export const UNIT_TEMPLATE = join(REPO_ROOT, 'templates', 'proxy-core.service.hbs');
const SYSTEMCTL_TIMEOUT_MS = 45_000;

export interface SystemdOptions {
  /** Where unit files go (default /usr/lib/systemd/system, as Octavia). */
  unitDir: string;
  /** systemctl binary. */
  systemctl: string;
  /** How long start waits for the engine to serve after systemctl returns (default 15 s). */
  startTimeoutMs?: number;
}

/** Quote one argument for a systemd command line (specifiers and variables escaped). */
export function systemdQuote(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function commandLine(cmd: Command): string {
  return [cmd.file, ...cmd.args].map(systemdQuote).join(' ');
}

export class SystemdServiceManager implements ServiceManager {
  readonly kind = 'systemd' as const;
  private readonly store: LoadBalancerStore;
  private readonly engine: EngineSpec;
  private readonly defaultPeer: () => string;
  private readonly log: Logger;
  private readonly opts: Required<SystemdOptions>;
  private readonly template: HandlebarsTemplateDelegate;

  constructor(store: LoadBalancerStore, engine: EngineSpec, defaultPeer: () => string, log: Logger, options: SystemdOptions) {
    this.store = store;
    this.engine = engine;
    this.defaultPeer = defaultPeer;
    this.log = log;
    this.opts = { startTimeoutMs: 15_000, ...options };
    this.template = Handlebars.compile(readFileSync(UNIT_TEMPLATE, 'utf8'), { noEscape: true, strict: true });
  }

  /** `haproxy-<lb_id>.service` for HAProxy (Octavia's name), `proxy-core-<lb_id>.service` otherwise. */
  unitName(lbId: string): string {
    return `${this.engine.name === 'haproxy' ? 'haproxy' : 'proxy-core'}-${lbId}.service`;
  }

  unitPath(lbId: string): string {
    return join(this.opts.unitDir, this.unitName(lbId));
  }

  /** The unit text for an LB. */
  renderUnit(lbId: string): string {
    const peer = this.store.peer(lbId) ?? this.defaultPeer();
    const files = [this.store.configPath(lbId), this.store.userGroupPath];
    const check = this.engine.checkCommand(files, peer);
    const run = this.engine.systemdCommand(files, peer, this.store.pidPath(lbId));
    return this.template({
      lbId,
      description: this.engine.name === 'haproxy' ? 'HAProxy Load Balancer' : 'proxy-core load balancer (amphora-ts)',
      netnsUnit: this.engine.netns ? 'amphora-netns.service' : '',
      type: run.type,
      check: commandLine({ file: check.file, args: [...check.args.slice(0, 1), '-q', ...check.args.slice(1)] }),
      execStart: commandLine(run),
    });
  }

  async install(lbId: string): Promise<void> {
    const text = this.renderUnit(lbId);
    const path = this.unitPath(lbId);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (current !== text) {
      await writeFileAtomic(path, text, 0o644);
      await this.systemctl('install', ['daemon-reload']);
    }
    // Octavia only logs a failed enable; so do we (the LB still runs, it would just not come
    // back by itself after a reboot — the agent restarts it anyway, see Lifecycle.resume).
    try {
      await this.systemctl('install', ['enable', this.unitName(lbId)]);
    } catch (e) {
      this.log.error(`systemctl enable ${this.unitName(lbId)} failed: ${(e as Error).message}`);
    }
  }

  async uninstall(lbId: string): Promise<void> {
    try {
      await this.systemctl('delete', ['disable', this.unitName(lbId)]);
    } catch (e) {
      this.log.warning(`systemctl disable ${this.unitName(lbId)} failed: ${(e as Error).message}`);
    }
    if (existsSync(this.unitPath(lbId))) {
      await unlink(this.unitPath(lbId)).catch(() => {});
      await this.systemctl('delete', ['daemon-reload']).catch(() => {});
    }
  }

  isRunning(lbId: string): boolean {
    return this.store.isRunning(lbId);
  }

  async adopt(lbId: string): Promise<boolean> {
    return this.isRunning(lbId);
  }

  async start(lbId: string): Promise<void> {
    if (!existsSync(this.unitPath(lbId))) await this.install(lbId);
    await this.systemctl('start', ['start', this.unitName(lbId)]);
    await this.waitServing(lbId);
  }

  async reload(lbId: string): Promise<void> {
    if (!existsSync(this.unitPath(lbId))) await this.install(lbId);
    // Octavia (master) retries when systemd has not yet noticed the unit is active.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.systemctl('reload', ['reload', this.unitName(lbId)]);
        return;
      } catch (e) {
        if (attempt >= 3 || !/is not active, cannot reload/.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  async stop(lbId: string): Promise<void> {
    await this.systemctl('stop', ['stop', this.unitName(lbId)]);
    await unlink(this.store.pidPath(lbId)).catch(() => {});
  }

  async close(): Promise<void> {}

  private async waitServing(lbId: string): Promise<void> {
    const socket = /stats socket\s+(\S+)/.exec(this.store.readConfig(lbId) ?? '')?.[1];
    const deadline = Date.now() + this.opts.startTimeoutMs;
    while (Date.now() < deadline) {
      if (this.store.isRunning(lbId) && (socket === undefined || (await canConnect(socket)))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    let status = '';
    try {
      status = await this.run(['status', '--no-pager', this.unitName(lbId)]);
    } catch (e) {
      status = (e as Error).message;
    }
    throw new ServiceActionError('start', `${this.unitName(lbId)} did not start serving within ${this.opts.startTimeoutMs / 1000} s\n${status}`);
  }

  /** systemctl <args>; "Job is already running" counts as success, as in Octavia. */
  private async systemctl(action: string, args: string[]): Promise<string> {
    try {
      return await this.run(args);
    } catch (e) {
      const output = (e as Error).message;
      if (output.includes('Job is already running')) return output;
      throw new ServiceActionError(action, output);
    }
  }

  private run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.opts.systemctl, args, { timeout: SYSTEMCTL_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (err) reject(new Error(`systemctl ${args.join(' ')} failed: ${output || err.message}`.trim()));
        else resolve(output);
      });
    });
  }
}
