// What the load-balancer endpoints do (contract 2.3-2.8), on top of the store, the engine and
// a service manager. Every operation on one LB runs under that LB's lock, so the controller's
// re-sent requests (it retries on read timeouts) and the supervisor never interleave.

import { readFile } from 'node:fs/promises';
import type { AgentConfig } from '../config.ts';
import {
  CertificateNotFoundError,
  InvalidConfigError,
  LoadBalancerNotFoundError,
  ServiceActionError,
  ServiceStopError,
  UnknownActionError,
} from '../errors.ts';
import { queryStatsSocket } from '../heartbeat/stats-query.ts';
import { ensureDir, renameDurable, writeAndSync, writeFileAtomic } from './atomic.ts';
import type { EngineSpec } from './engine.ts';
import type { Logger } from './log.ts';
import type { KeyedMutex } from './mutex.ts';
import type { ServiceManager } from './service.ts';
import { assertCertFilename, assertUuid, type LoadBalancerStore, md5Hex, peerName } from './store.ts';

export const ACTIONS = ['start', 'stop', 'reload'] as const;
export type Action = (typeof ACTIONS)[number];

/** One entry of GET /listeners. */
export interface ListenerStatus {
  status: 'ACTIVE';
  uuid: string;
  type: string;
}

export interface LifecycleDeps {
  cfg: AgentConfig;
  store: LoadBalancerStore;
  engine: EngineSpec;
  manager: ServiceManager;
  mutex: KeyedMutex;
  log: Logger;
}

/** Octavia's agent drops `group` lines old controllers rendered (it supplies the group in the
 *  user-group file): Python's re.sub(r"\s+group\s.+", "", cfg) — `.` stops only at '\n'. */
export function stripGroupLines(text: string): string {
  return text.replace(/\s+group\s[^\n]+/g, '');
}

export class Lifecycle {
  private readonly cfg: AgentConfig;
  private readonly store: LoadBalancerStore;
  private readonly engine: EngineSpec;
  private readonly manager: ServiceManager;
  private readonly mutex: KeyedMutex;
  private readonly log: Logger;

  constructor(deps: LifecycleDeps) {
    this.cfg = deps.cfg;
    this.store = deps.store;
    this.engine = deps.engine;
    this.manager = deps.manager;
    this.mutex = deps.mutex;
    this.log = deps.log;
  }

  /** PUT /loadbalancer/<amp_id>/<lb_id>/haproxy. Stores a config only once the engine's
   *  validator accepts it; starts or reloads nothing. Returns the ETag (md5 of the body as
   *  received). Throws InvalidConfigError (400) with the validator's output. */
  async upload(ampId: string, lbId: string, body: Buffer): Promise<string> {
    assertUuid('amphora', ampId);
    assertUuid('loadbalancer', lbId);
    const etag = md5Hex(body);
    const peer = peerName(ampId);
    const text = stripGroupLines(body.toString('utf8'));
    return this.mutex.run(lbId, async () => {
      await ensureDir(this.store.lbDir(lbId));
      await this.store.ensureUserGroupFile(this.engine.name);
      // A re-sent upload (read timeout on the controller's side) of what is stored already.
      if (this.store.readConfig(lbId) === text && this.store.peer(lbId) === peer) {
        this.log.debug(`load balancer ${lbId}: upload identical to the stored config`);
        return etag;
      }
      const candidate = this.store.newConfigPath(lbId);
      await writeAndSync(candidate, text, 0o600);
      const check = await this.engine.check([candidate, this.store.userGroupPath], peer);
      if (!check.ok) {
        await renameDurable(candidate, this.store.failedConfigPath(lbId)).catch(() => {});
        this.log.warning(`load balancer ${lbId}: refused an invalid config:\n${check.output}`);
        throw new InvalidConfigError(check.output);
      }
      await this.store.setPeer(lbId, peer);
      await renameDurable(candidate, this.store.configPath(lbId));
      await this.manager.install(lbId);
      this.log.info(`load balancer ${lbId}: config stored (${body.length} bytes, md5 ${etag})`);
      return etag;
    });
  }

  /** GET /loadbalancer/<lb_id>/haproxy: the stored config and the md5 of its bytes. */
  async getConfig(lbId: string): Promise<{ text: Buffer; etag: string }> {
    assertUuid('loadbalancer', lbId);
    let text: Buffer;
    try {
      text = await readFile(this.store.configPath(lbId));
    } catch {
      throw new LoadBalancerNotFoundError(lbId);
    }
    return { text, etag: md5Hex(text) };
  }

  /** PUT /loadbalancer/<id>/<start|stop|reload>; returns the `details` text of the 202. */
  async action(id: string, rawAction: string): Promise<string> {
    assertUuid('loadbalancer', id);
    const lowered = rawAction.toLowerCase();
    if (!(ACTIONS as readonly string[]).includes(lowered)) throw new UnknownActionError(lowered);
    let action = lowered as Action;
    return this.mutex.run(id, async () => {
      if (!this.store.exists(id)) throw new LoadBalancerNotFoundError(id);
      // A reload of what does not run is a start (HAProxy cannot reload what is not there).
      if (action === 'reload' && !this.manager.isRunning(id)) action = 'start';
      switch (action) {
        case 'start':
          await this.manager.start(id);
          await this.store.setShouldRun(id, true);
          this.log.info(`load balancer ${id}: started`);
          return `Configuration file is valid\nhaproxy daemon for ${id} started`;
        case 'reload':
          await this.saveServersState(id);
          await this.manager.reload(id);
          await this.store.setShouldRun(id, true);
          this.log.info(`load balancer ${id}: reloaded`);
          return `Listener ${id} reloaded`;
        case 'stop':
          await this.store.setShouldRun(id, false);
          await this.manager.stop(id);
          this.log.info(`load balancer ${id}: stopped`);
          return `Listener ${id} stopped`;
      }
    });
  }

  /** DELETE /listeners/<id>: stop the engine and forget the LB with its certificates.
   *  Unknown ids succeed (the controller deletes idempotently). */
  async remove(id: string): Promise<void> {
    assertUuid('loadbalancer', id);
    await this.mutex.run(id, async () => {
      if (!this.store.exists(id)) return;
      await this.store.setShouldRun(id, false);
      try {
        await this.manager.stop(id);
      } catch (e) {
        throw new ServiceStopError(e instanceof ServiceActionError ? e.message : String(e));
      }
      await this.store.remove(id);
      await this.manager.uninstall(id);
      this.log.info(`load balancer ${id}: deleted`);
    });
  }

  /** GET /listeners: every frontend of every stored config (status is not checked, as in Octavia). */
  listeners(): ListenerStatus[] {
    return this.store.list().flatMap((lb) => this.store.frontends(lb).map((f) => ({ status: 'ACTIVE' as const, uuid: f.id, type: f.type })));
  }

  /** PUT .../certificates/<filename>; returns the md5 of the stored bytes. No check that the
   *  LB exists: the controller uploads certificates before the first config. */
  async putCertificate(lbId: string, filename: string, body: Buffer): Promise<string> {
    assertCertFilename(filename);
    assertUuid('loadbalancer', lbId);
    await this.mutex.run(lbId, () => this.store.writeCert(lbId, filename, body));
    return md5Hex(body);
  }

  /** GET .../certificates/<filename>: md5 of the exact bytes stored. */
  async certificateMd5(lbId: string, filename: string): Promise<string> {
    assertCertFilename(filename);
    assertUuid('loadbalancer', lbId);
    const data = await this.store.readCert(lbId, filename);
    if (data === undefined) throw new CertificateNotFoundError(filename);
    return md5Hex(data);
  }

  /** DELETE .../certificates/<filename>: always succeeds. */
  async deleteCertificate(lbId: string, filename: string): Promise<void> {
    assertCertFilename(filename);
    assertUuid('loadbalancer', lbId);
    await this.mutex.run(lbId, () => this.store.deleteCert(lbId, filename));
  }

  /** At agent start: take charge of the engines still running and start every stored LB
   *  that was running (its marker says so) and is not. Failures are logged, not fatal. */
  async resume(): Promise<void> {
    await this.store.ensureUserGroupFile(this.engine.name).catch((e) => this.log.error(`cannot write ${this.store.userGroupPath}: ${e.message}`));
    for (const lbId of this.store.list()) {
      await this.mutex.run(lbId, async () => {
        try {
          if (await this.manager.adopt(lbId)) {
            await this.store.setShouldRun(lbId, true);
          } else if (this.store.shouldRun(lbId)) {
            await this.manager.start(lbId);
            this.log.info(`load balancer ${lbId}: started again after agent start`);
          }
        } catch (e) {
          this.log.error(`load balancer ${lbId}: could not be started again: ${(e as Error).message}`);
        }
      });
    }
  }

  /** Before a reload, keep the servers' states across it (`server-state-file`), as Octavia
   *  does; a failure only costs the states, so it is logged and the reload goes on. */
  private async saveServersState(lbId: string): Promise<void> {
    try {
      const state = await queryStatsSocket(this.store.statsSocketPath(lbId), 'show servers state');
      await writeFileAtomic(this.store.stateFilePath(lbId), state, 0o600);
    } catch (e) {
      this.log.warning(`load balancer ${lbId}: could not save the servers state: ${(e as Error).message}`);
    }
  }

  /** Used by the systemd/process managers when an LB carries no recorded peer name. */
  defaultPeer(): string {
    return peerName(this.cfg.amphora_agent.amphora_id ?? '');
  }
}
