// The compiled plan: what the runtime sees. Built from the model (config/model.ts) by
// compile.ts in every thread that needs it (closures cannot cross threads, so each worker
// compiles the same model it was sent; compilation is deterministic, so slot numbers agree).
//
// Nothing in here is looked up by directive name on the hot path: timeouts are resolved
// numbers (HAProxy defaults applied), conditions are closures, header insertions are
// precomputed, balancers are objects with one method.

import type { Bind, ProxyConfig, ProxyMode } from '../config/model.ts';
import type { Counters } from '../runtime/counters.ts';
import type { Balancer } from '../balance/balancer.ts';

/** Resolved timeouts in ms; 0 = no timeout (HAProxy's "infinite"). */
export interface FrontendTimeouts {
  client: number;
  /** `timeout http-request`, falling back to `client` as HAProxy does. */
  httpRequest: number;
  /** `timeout http-keep-alive`, falling back to `httpRequest`. */
  httpKeepAlive: number;
  tunnel: number;
  clientFin: number;
}

export interface BackendTimeouts {
  connect: number;
  server: number;
  /** `timeout queue`, falling back to `connect` as HAProxy does. */
  queue: number;
  tunnel: number;
  serverFin: number;
  check: number;
}

export interface MemberPlan {
  name: string;
  /** Counter slot (counters.ts). */
  slot: number;
  /** Position in backend.members. */
  index: number;
  /** HAProxy's server id (`id` keyword, else its position, 1-based): `balance first` order. */
  id: number;
  backend: BackendPlan;
  host: string;
  /** Undefined: same port the client connected to (tcp mode only). */
  port: number | undefined;
  /** Configured weight (effective weight lives in the `weight` gauge). */
  weight: number;
  backup: boolean;
  /** `disabled` in config: never picked, reported MAINT. */
  disabled: boolean;
  /** 0 = unlimited. Past it, requests queue (HAProxy server queue). */
  maxconn: number;
  /** 0 = unlimited queue. */
  maxqueue: number;
  cookie?: string;
  sendProxy?: 'v1' | 'v2' | 'v2-ssl' | 'v2-ssl-cn';
  /** `check` configured: state comes from the health checker. */
  checked: boolean;
}

/** A `hash-type` function: what turns the key's bytes into 32 bits. */
export type HashFunction = 'sdbm' | 'djb2' | 'wt6' | 'crc32';

/** `hash-type` with HAProxy's defaults applied (compile.ts hashPlan()). */
export interface HashPlan {
  /** map-based: hash modulo the total weight; consistent: a ring of weight-proportional points. */
  method: 'map-based' | 'consistent';
  /** Applied to the key's bytes (for `balance source`, the binary client address). */
  fn: HashFunction;
  /** Mix the function's result with a full-avalanche integer hash before using it. */
  avalanche: boolean;
}

export interface BackendPlan {
  name: string;
  slot: number;
  mode: ProxyMode;
  members: MemberPlan[];
  balancer: Balancer;
  /** Set when the balance algorithm hashes (`balance source`); undefined for the others. */
  hash?: HashPlan;
  /** `retries` (HAProxy default 3). */
  retries: number;
  redispatch: boolean;
  allbackups: boolean;
  /** `fullconn`, else HAProxy's default: 10% of the summed maxconn of the frontends routing
   *  here (default_backend / use_backend); 0 when those are unlimited. */
  fullconn: number;
  timeouts: BackendTimeouts;
  httpReuse: 'never' | 'safe' | 'aggressive' | 'always';
  /** Mode-http request/response rules of this backend, compiled by the l7 compiler. */
  http?: unknown;
}

export interface FrontendPlan {
  name: string;
  slot: number;
  mode: ProxyMode;
  binds: Bind[];
  /** 0 = unlimited (the global maxconn still applies). */
  maxconn: number;
  timeouts: FrontendTimeouts;
  defaultBackend?: BackendPlan;
  /** Mode-http routing (rules, use_backend, redirects), compiled by the l7 compiler. */
  http?: unknown;
  /** tcp mode: `use_backend` conditions need no request; resolved at accept time. */
}

export interface Plan {
  /** Increases by one for every config loaded by the supervisor. */
  generation: number;
  config: ProxyConfig;
  counters: Counters;
  frontends: FrontendPlan[];
  backends: BackendPlan[];
  backendsByName: Map<string, BackendPlan>;
  frontendsByName: Map<string, FrontendPlan>;
  /** Global maxconn (0 = unlimited) and the slot that counts process-wide sessions. */
  maxconn: number;
  globalSlot: number;
  /** Total number of counter slots (1 global + frontends + backends + servers). */
  slots: number;
}
