// The agent's heartbeat to Octavia's health manager (contract 4): the loop of sender.ts fed
// from the agent's configuration and its load-balancer store.

import type { AgentConfig } from '../config.ts';
import { consoleLogger, type Logger } from '../lb/log.ts';
import type { LoadBalancerStore } from '../lb/store.ts';
import type { HeartbeatMessage } from './message.ts';
import { type HeartbeatLoadBalancer, HeartbeatSender, type HeartbeatSettings } from './sender.ts';

export interface HeartbeatOptions {
  /** Default: the agent's console logger (debug lines with `[DEFAULT] debug`). */
  logger?: Logger;
  /** Timeout of one stats socket query (default 5 s). */
  statsTimeoutMs?: number;
}

export class Heartbeat {
  private readonly sender: HeartbeatSender;

  /** `cfg` is read before every heartbeat: PUT /config changes the key, the controller list
   *  and the interval in place and the next beat uses them (Octavia 11 needed a restart). */
  constructor(cfg: AgentConfig, store: LoadBalancerStore, options: HeartbeatOptions = {}) {
    const logger = options.logger ?? consoleLogger(() => cfg.DEFAULT.debug);
    const settings = (): HeartbeatSettings => {
      const id = cfg.amphora_agent.amphora_id;
      const key = cfg.health_manager.heartbeat_key;
      return {
        amphoraId: id ?? '',
        basePath: cfg.haproxy_amphora.base_path,
        heartbeatKey: key ?? '',
        heartbeatInterval: cfg.health_manager.heartbeat_interval,
        controllers: cfg.health_manager.controller_ip_port_list,
        // Missing options skip the beat but keep the loop alive: PUT /config may bring them.
        problem: !id ? '[amphora_agent] amphora_id is not set' : key === undefined ? '[health_manager] heartbeat_key is not set' : undefined,
      };
    };
    const source = {
      loadBalancers: async (): Promise<HeartbeatLoadBalancer[]> =>
        store.list().map((id) => {
          const running = store.isRunning(id);
          return { id, running, statsSocket: running ? store.statsSocketPath(id) : undefined };
        }),
    };
    this.sender = new HeartbeatSender(settings, source, {
      log: (level, message) => logger[level](`heartbeat: ${message}`),
      statsTimeoutMs: options.statsTimeoutMs,
    });
  }

  /** First heartbeat now, then one every `heartbeat_interval` seconds. */
  start(): void {
    this.sender.start();
  }

  /** Stop sending; resolves once a heartbeat in flight is done and the sockets are closed. */
  stop(): Promise<void> {
    return this.sender.stop();
  }

  /** Build and send one heartbeat now (tests, dev mode); undefined when it was skipped. */
  beat(): Promise<HeartbeatMessage | undefined> {
    return this.sender.tick();
  }
}
