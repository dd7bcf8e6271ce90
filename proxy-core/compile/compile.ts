// Model → plan: resolve every HAProxy default once, number the counter slots, build the
// balancers and hand mode-http proxies to the l7 compiler.
//
// Deterministic by construction: the supervisor and every worker compile the same model
// independently (closures cannot cross threads), and they must agree on every slot number,
// so the result depends on the model's order only.
//
// Slot numbering: 0 = global (process sessions); then every frontend in config order; then
// every backend in config order; then every server, backend by backend, in order.

import type { Backend, Frontend, ProxyConfig, Server } from '../config/model.ts';
import { createBalancer } from '../balance/index.ts';
import type { Balancer } from '../balance/balancer.ts';
import { compileBackendHttp, compileFrontendHttp } from '../l7/rules.ts';
import { ServerState, G, type Counters } from '../runtime/counters.ts';
import type {
  BackendPlan,
  BackendTimeouts,
  FrontendPlan,
  FrontendTimeouts,
  HashFunction,
  HashPlan,
  MemberPlan,
  Plan,
} from './plan.ts';

/** Number of counter slots the plan of `config` uses (allocate the counters with it). */
export function countSlots(config: ProxyConfig): number {
  let servers = 0;
  for (const be of config.backends) servers += be.servers.length;
  return 1 + config.frontends.length + config.backends.length + servers;
}

/**
 * Build the plan. With `init` (the supervisor, once per generation) every server's gauges
 * start as HAProxy starts them: MAINT when disabled, else UP when checked (until a check
 * says otherwise), else "no check"; weight = configured weight. Workers pass false and
 * read what the supervisor wrote.
 */
export function compilePlan(config: ProxyConfig, counters: Counters, generation: number, init: boolean): Plan {
  const slots = countSlots(config);
  if (counters.slots < slots) {
    throw new RangeError(`counters hold ${counters.slots} slots, the config needs ${slots}`);
  }
  const globalMaxconn = config.global.maxconn ?? 0;

  const backends: BackendPlan[] = [];
  const backendsByName = new Map<string, BackendPlan>();
  let serverSlot = 1 + config.frontends.length + config.backends.length;
  config.backends.forEach((be, i) => {
    const plan = compileBackend(be, 1 + config.frontends.length + i, serverSlot, config);
    serverSlot += be.servers.length;
    plan.balancer = createBalancer(plan, be.balance, counters);
    backends.push(plan);
    backendsByName.set(be.name, plan);
    if (init) initGauges(plan, counters);
  });

  const frontends: FrontendPlan[] = [];
  const frontendsByName = new Map<string, FrontendPlan>();
  config.frontends.forEach((fe, i) => {
    const plan = compileFrontend(fe, 1 + i, globalMaxconn, backendsByName);
    frontends.push(plan);
    frontendsByName.set(fe.name, plan);
  });

  return {
    generation,
    config,
    counters,
    frontends,
    backends,
    backendsByName,
    frontendsByName,
    maxconn: globalMaxconn,
    globalSlot: 0,
    slots,
  };
}

// ---------------------------------------------------------------------------- frontends

function compileFrontend(
  fe: Frontend,
  slot: number,
  globalMaxconn: number,
  backendsByName: Map<string, BackendPlan>,
): FrontendPlan {
  const plan: FrontendPlan = {
    name: fe.name,
    slot,
    mode: fe.mode,
    binds: fe.binds,
    maxconn: frontendMaxconn(fe, globalMaxconn),
    timeouts: frontendTimeouts(fe),
    defaultBackend: fe.defaultBackend === undefined ? undefined : backendsByName.get(fe.defaultBackend),
  };
  if (fe.mode === 'http') plan.http = compileFrontendHttp(fe, backendsByName);
  return plan;
}

/** A frontend without `maxconn` gets the global one (0 = unlimited). */
function frontendMaxconn(fe: Frontend, globalMaxconn: number): number {
  return fe.maxconn ?? globalMaxconn;
}

/**
 * HAProxy's fallbacks: `timeout http-request` → `timeout client`, `timeout http-keep-alive`
 * → `timeout http-request`. An unset client timeout stays 0 (= none; HAProxy warns about it).
 * `tunnel` and `clientFin` stay 0 when unset: the engines then apply `client`.
 */
export function frontendTimeouts(fe: Frontend): FrontendTimeouts {
  const t = fe.timeouts;
  const client = t.client ?? 0;
  const httpRequest = t.httpRequest ?? client;
  return {
    client,
    httpRequest,
    httpKeepAlive: t.httpKeepAlive ?? httpRequest,
    tunnel: t.tunnel ?? 0,
    clientFin: t.clientFin ?? 0,
  };
}

// ----------------------------------------------------------------------------- backends

/** Placeholder until createBalancer() runs on the finished backend (it needs the members). */
const UNSET_BALANCER: Balancer = { pick: () => undefined };

function compileBackend(be: Backend, slot: number, firstServerSlot: number, config: ProxyConfig): BackendPlan {
  const plan: BackendPlan = {
    name: be.name,
    slot,
    mode: be.mode,
    members: [],
    balancer: UNSET_BALANCER,
    retries: be.retries ?? 3,
    redispatch: be.options.redispatch === true,
    allbackups: be.options.allbackups === true,
    fullconn: be.fullconn ?? defaultFullconn(be.name, config),
    timeouts: backendTimeouts(be),
    httpReuse: be.httpReuse ?? 'safe',
  };
  if (HASHING.has(be.balance.algorithm)) plan.hash = hashPlan(be.hashType);
  be.servers.forEach((srv, i) => plan.members.push(compileMember(srv, i, firstServerSlot + i, plan)));
  if (be.mode === 'http') plan.http = compileBackendHttp(be);
  return plan;
}

/** The balance algorithms that hash a key and so follow `hash-type`. */
const HASHING = new Set(['source']);

const HASH_FUNCTIONS: readonly HashFunction[] = ['sdbm', 'djb2', 'wt6', 'crc32'];

/**
 * HAProxy's `hash-type` defaults: no line means map-based with sdbm; a function without
 * `avalanche` is used raw, except that `consistent` written without a function gets sdbm
 * with avalanche (configuration.txt, "hash-type").
 */
export function hashPlan(t: Backend['hashType']): HashPlan {
  const method = t?.method ?? 'map-based';
  const fn = t?.function ?? 'sdbm';
  if (!HASH_FUNCTIONS.includes(fn as HashFunction)) throw new Error(`hash-type function '${fn}' got past the parser`);
  const avalanche = t?.modifier === 'avalanche' || (method === 'consistent' && t?.function === undefined);
  return { method, fn: fn as HashFunction, avalanche };
}

/**
 * HAProxy's fallbacks: `timeout queue` → `timeout connect`. Unset connect/server stay 0
 * (= none). `tunnel` and `serverFin` stay 0 when unset: the engines then apply `server`;
 * `check` stays 0 when unset: the checker then uses the check interval.
 */
export function backendTimeouts(be: Backend): BackendTimeouts {
  const t = be.timeouts;
  const connect = t.connect ?? 0;
  return {
    connect,
    server: t.server ?? 0,
    queue: t.queue ?? connect,
    tunnel: t.tunnel ?? 0,
    serverFin: t.serverFin ?? 0,
    check: t.check ?? 0,
  };
}

/**
 * HAProxy sets an unset `fullconn` to 10% (rounded up) of the summed maxconn of every
 * frontend whose default_backend or use_backend names this backend (a `listen` counts its
 * own frontend). A frontend without any limit makes the sum unknown: 0 here.
 */
function defaultFullconn(name: string, config: ProxyConfig): number {
  const globalMaxconn = config.global.maxconn ?? 0;
  let sum = 0;
  for (const fe of config.frontends) {
    const routes = fe.defaultBackend === name || fe.useBackends.some((u) => u.backend === name);
    if (!routes) continue;
    const max = frontendMaxconn(fe, globalMaxconn);
    if (max === 0) return 0;
    sum += max;
  }
  return Math.ceil(sum / 10);
}

function compileMember(srv: Server, index: number, slot: number, backend: BackendPlan): MemberPlan {
  const m: MemberPlan = {
    name: srv.name,
    slot,
    index,
    id: srv.id ?? index + 1,
    backend,
    host: srv.address,
    port: srv.port,
    weight: srv.weight ?? 1,
    backup: srv.backup,
    disabled: srv.disabled,
    maxconn: srv.maxconn ?? 0,
    maxqueue: srv.maxqueue ?? 0,
    checked: srv.check.enabled,
  };
  if (srv.cookie !== undefined) m.cookie = srv.cookie;
  if (srv.sendProxy !== undefined) m.sendProxy = srv.sendProxy;
  return m;
}

function initGauges(be: BackendPlan, counters: Counters): void {
  for (const m of be.members) {
    const state = m.disabled ? ServerState.maint : m.checked ? ServerState.up : ServerState.noCheck;
    counters.setGauge(m.slot, G.state, state);
    counters.setGauge(m.slot, G.weight, m.weight);
  }
}
