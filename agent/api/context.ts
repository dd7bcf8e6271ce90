// What the routers need from the rest of the agent (built in main.ts; stubbed in tests).

import type { AgentConfig } from '../config.ts';
import type { Lifecycle } from '../lb/lifecycle.ts';
import type { Logger } from '../lb/log.ts';

export interface SystemSource {
  /** GET /info body. */
  info(): Promise<Record<string, unknown>>;
  /** GET /details body. */
  details(): Promise<Record<string, unknown>>;
}

export interface ApiContext {
  cfg: AgentConfig;
  lifecycle: Lifecycle;
  system: SystemSource;
  /** PUT /certificate: validate, store and serve the new certificate+key PEM. */
  rotateServerCertificate(pem: Buffer): Promise<void>;
  log: Logger;
}

/** The REST API version served (GET / and the path prefix). */
export const API_VERSION = '1.0';
export const PREFIX = `/${API_VERSION}`;
