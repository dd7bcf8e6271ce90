// Builders for config models in tests: complete, plain ProxyConfig objects with HAProxy's
// "not set" left undefined, so compile.ts applies the defaults under test.

import type { Backend, BalanceAlgorithm, Frontend, ProxyConfig, ProxyOptions, Server } from '../../proxy-core/config/model.ts';

let line = 0;
const where = () => ({ file: 'test.cfg', line: ++line });

export function options(o: Partial<ProxyOptions> = {}): ProxyOptions {
  return { other: {}, ...o };
}

export function server(name: string, address: string, port: number | undefined, o: Partial<Server> = {}): Server {
  return {
    name,
    address,
    port,
    weight: 1,
    backup: false,
    disabled: false,
    check: { enabled: false, ssl: false },
    where: where(),
    ...o,
  };
}

export function backend(name: string, servers: Server[], o: Partial<Backend> & { algorithm?: BalanceAlgorithm } = {}): Backend {
  const { algorithm, ...rest } = o;
  return {
    name,
    mode: 'tcp',
    balance: { algorithm: algorithm ?? 'roundrobin', args: [] },
    servers,
    timeouts: {},
    options: options(),
    log: { global: false, disabled: false, targets: [] },
    acls: [],
    httpRequest: [],
    httpResponse: [],
    stickRules: [],
    httpCheckSend: [],
    fromListen: false,
    disabled: false,
    where: where(),
    ...rest,
  };
}

export function frontend(name: string, o: Partial<Frontend> = {}): Frontend {
  return {
    name,
    mode: 'tcp',
    binds: [{ address: '127.0.0.1', port: 0, acceptProxy: false, options: {}, where: where() }],
    timeouts: {},
    options: options(),
    log: { global: false, disabled: false, targets: [] },
    acls: [],
    httpRequest: [],
    httpResponse: [],
    redirects: [],
    useBackends: [],
    tcpRequest: [],
    fromListen: false,
    disabled: false,
    where: where(),
    ...o,
  };
}

export function config(frontends: Frontend[], backends: Backend[], global: { maxconn?: number } = {}): ProxyConfig {
  return {
    global: {
      daemon: false,
      statsSockets: [],
      logTargets: [],
      externalCheck: false,
      insecureForkWanted: false,
      tune: {},
      cpuMap: [],
      sslDefaults: {},
      where: where(),
      ...global,
    },
    peers: [],
    frontends,
    backends,
    userlists: [],
    warnings: [],
  };
}

/** A `listen` section: a frontend and a backend of the same name, the one routing to the other. */
export function listen(
  name: string,
  servers: Server[],
  be: Partial<Backend> & { algorithm?: BalanceAlgorithm } = {},
  fe: Partial<Frontend> = {},
): ProxyConfig {
  return config(
    [frontend(name, { fromListen: true, defaultBackend: name, ...fe })],
    [backend(name, servers, { fromListen: true, ...be })],
  );
}
