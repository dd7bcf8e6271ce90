// amphora-agent: `amphora-agent --config-file /etc/octavia/amphora-agent.conf` (the command
// line of Octavia's unit; --config-file may repeat). Wires the load-balancer store, the
// engine, a service manager, the REST API over mutual TLS and the heartbeat, then serves
// until SIGTERM/SIGINT.
//
// Shutting the agent down leaves every engine running: the data plane never depends on the
// agent, and the next agent adopts the engines it finds. (Under systemd, run the agent's own
// unit with KillMode=process when service_manager = process, or systemd kills them with it.)

import { realpathSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp } from './api/app.ts';
import type { SystemSource } from './api/context.ts';
import { AgentServer } from './api/server.ts';
import { type AgentConfig, loadAgentConfig, REPO_ROOT } from './config.ts';
import { AgentConfigError } from './errors.ts';
import { Heartbeat } from './heartbeat/heartbeat.ts';
import { ensureDir } from './lb/atomic.ts';
import { EngineSpec } from './lb/engine.ts';
import { Lifecycle } from './lb/lifecycle.ts';
import { consoleLogger, type Logger } from './lb/log.ts';
import { KeyedMutex } from './lb/mutex.ts';
import { type ProcessManagerOptions, ProcessServiceManager } from './lb/process.ts';
import type { ServiceManager } from './lb/service.ts';
import { LoadBalancerStore, peerName } from './lb/store.ts';
import { SystemdServiceManager } from './lb/systemd.ts';
import { getDetails, getInfo } from './system/info.ts';

export interface StartOptions {
  log?: Logger;
  /** Send heartbeats (default true). */
  heartbeat?: boolean;
  /** /info and /details bodies (default: agent/system). */
  system?: SystemSource;
  /** Tuning of the process service manager (tests). */
  processManager?: ProcessManagerOptions;
}

export interface AgentHandle {
  cfg: AgentConfig;
  /** Where the API listens. */
  address: AddressInfo;
  store: LoadBalancerStore;
  lifecycle: Lifecycle;
  manager: ServiceManager;
  /** Stop the API and the heartbeat; engines keep running. */
  close(): Promise<void>;
}

/** The /info and /details bodies of agent/system. */
export function systemSource(cfg: AgentConfig, store: LoadBalancerStore): SystemSource {
  return {
    info: async () => ({ ...(await getInfo(cfg)) }),
    details: async () => ({ ...(await getDetails(cfg, store)) }),
  };
}

/** Start an agent in this process. */
export async function startAgent(cfg: AgentConfig, options: StartOptions = {}): Promise<AgentHandle> {
  const log = options.log ?? consoleLogger(() => cfg.DEFAULT.debug);
  const store = new LoadBalancerStore(cfg);
  await ensureDir(store.basePath);
  await ensureDir(store.certBasePath, 0o700);

  const engine = new EngineSpec(cfg);
  const mutex = new KeyedMutex();
  const defaultPeer = () => peerName(cfg.amphora_agent.amphora_id ?? '');
  const manager: ServiceManager =
    cfg.amphora_ts.service_manager === 'process'
      ? new ProcessServiceManager(store, engine, defaultPeer, mutex, log, options.processManager)
      : new SystemdServiceManager(store, engine, defaultPeer, log, {
          unitDir: cfg.amphora_ts.systemd_unit_dir,
          systemctl: cfg.amphora_ts.systemctl_path,
        });
  const lifecycle = new Lifecycle({ cfg, store, engine, manager, mutex, log });

  let server: AgentServer | undefined;
  const app = createApp({
    cfg,
    lifecycle,
    system: options.system ?? systemSource(cfg, store),
    log,
    rotateServerCertificate: (pem) => server!.rotate(pem),
  });
  server = new AgentServer(cfg, app, log);

  await lifecycle.resume();
  let address: AddressInfo;
  try {
    address = await server.listen();
  } catch (e) {
    await manager.close();
    throw e;
  }
  log.info(
    `amphora-agent listening on ${address.address}:${address.port} (engine ${engine.name}, ${manager.kind} service manager, ` +
      `state in ${store.basePath})`,
  );

  let heartbeat: Heartbeat | undefined;
  if (options.heartbeat ?? true) {
    heartbeat = new Heartbeat(cfg, store);
    heartbeat.start();
  }

  let closing: Promise<void> | undefined;
  return {
    cfg,
    address,
    store,
    lifecycle,
    manager,
    close: () =>
      (closing ??= (async () => {
        await heartbeat?.stop();
        await server.close();
        await manager.close();
      })()),
  };
}

/** `--config-file FILE` / `--config-file=FILE`, repeatable. */
export function parseArgs(argv: string[]): { configFiles: string[] } {
  const configFiles: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config-file') {
      const v = argv[++i];
      if (v === undefined) throw new AgentConfigError('--config-file needs a file name');
      configFiles.push(v);
    } else if (a.startsWith('--config-file=')) {
      configFiles.push(a.slice('--config-file='.length));
    } else if (a === '-h' || a === '--help') {
      throw new AgentConfigError('usage: amphora-agent --config-file FILE [--config-file FILE...]');
    } else {
      throw new AgentConfigError(`unknown argument ${a}; usage: amphora-agent --config-file FILE [--config-file FILE...]`);
    }
  }
  if (configFiles.length === 0) throw new AgentConfigError('usage: amphora-agent --config-file FILE [--config-file FILE...]');
  return { configFiles };
}

async function main(): Promise<void> {
  let handle: AgentHandle;
  try {
    const { configFiles } = parseArgs(process.argv.slice(2));
    handle = await startAgent(loadAgentConfig(configFiles));
  } catch (e) {
    console.error(`amphora-agent: ${e instanceof AgentConfigError ? e.message : (e as Error).stack}`);
    process.exit(2);
  }
  const shutdown = (signal: string) => {
    console.error(`amphora-agent: ${signal}: shutting down (load balancers keep running)`);
    void handle.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** True when this process was started as the agent (bin/amphora-agent.js or this file). */
function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  let entry: string;
  try {
    entry = realpathSync(argv1);
  } catch {
    return false;
  }
  return entry === join(REPO_ROOT, 'bin', 'amphora-agent.js') || entry === fileURLToPath(import.meta.url);
}

if (isEntryPoint()) void main();
