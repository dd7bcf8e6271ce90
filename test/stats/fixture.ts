// One description of a load balancer, three products: the typed config model, the compiled
// plan (with its shared counters, a supervisor view and one view per simulated worker) and the
// equivalent haproxy.cfg text, so a test can run real HAProxy and proxy-core on the same thing.
//
// The plan comes from compile/compile.ts when it can be imported; until the l7 compiler it
// depends on exists, an equivalent plan is built here (same slot numbering, same gauge init).

import type {
  Backend,
  Bind,
  Frontend,
  HttpCheckExpect,
  HttpCheckRequest,
  ProxyConfig,
  ProxyMode,
  ProxyOptions,
  Server,
  ServerCheck,
  ServerSsl,
  Timeouts,
} from '../../proxy-core/config/model.ts';
import type { BackendPlan, FrontendPlan, MemberPlan, Plan } from '../../proxy-core/compile/plan.ts';
import { allocateCounters, Counters, G, ServerState } from '../../proxy-core/runtime/counters.ts';

export interface SrvSpec {
  name: string;
  host?: string;
  port?: number;
  weight?: number;
  backup?: boolean;
  disabled?: boolean;
  /** true = `check` with defaults. */
  check?: true | Partial<Omit<ServerCheck, 'enabled'>>;
  maxconn?: number;
  maxqueue?: number;
  id?: number;
  cookie?: string;
  ssl?: Partial<ServerSsl>;
}

interface ProxyCommon {
  name: string;
  mode?: ProxyMode;
  id?: number;
  disabled?: boolean;
}

export interface FeSpec extends ProxyCommon {
  kind: 'frontend';
  binds: [string, number][];
  maxconn?: number;
  defaultBackend?: string;
}

export interface BeSpec extends ProxyCommon {
  kind: 'backend';
  servers: SrvSpec[];
  timeouts?: Timeouts;
  options?: Partial<ProxyOptions>;
  expect?: Omit<HttpCheckExpect, 'where'>;
  send?: string[][];
  externalCommand?: string;
  externalPath?: string;
  fullconn?: number;
  balance?: Backend['balance']['algorithm'];
  cookie?: string;
}

export interface ListenSpec extends Omit<BeSpec, 'kind'>, Omit<FeSpec, 'kind' | 'defaultBackend'> {
  kind: 'listen';
}

export interface LbSpec {
  maxconn?: number;
  sections: (FeSpec | BeSpec | ListenSpec)[];
}

let line = 0;
const where = () => ({ file: 'fixture.cfg', line: ++line });

function options(o: Partial<ProxyOptions> = {}): ProxyOptions {
  return { other: {}, ...o };
}

function server(s: SrvSpec): Server {
  const check: ServerCheck = s.check ? { enabled: true, ssl: false, ...(s.check === true ? {} : s.check) } : { enabled: false, ssl: false };
  const srv: Server = {
    name: s.name,
    address: s.host ?? '127.0.0.1',
    port: s.port,
    weight: s.weight ?? 1,
    backup: s.backup ?? false,
    disabled: s.disabled ?? false,
    check,
    where: where(),
  };
  if (s.maxconn !== undefined) srv.maxconn = s.maxconn;
  if (s.maxqueue !== undefined) srv.maxqueue = s.maxqueue;
  if (s.id !== undefined) srv.id = s.id;
  if (s.cookie !== undefined) srv.cookie = s.cookie;
  if (s.ssl) srv.ssl = { disabledVersions: [], ...s.ssl };
  return srv;
}

function backend(b: Omit<BeSpec, 'kind'>, fromListen: boolean): Backend {
  const be: Backend = {
    name: b.name,
    mode: b.mode ?? 'tcp',
    balance: { algorithm: b.balance ?? 'roundrobin', args: [] },
    servers: [],
    timeouts: b.timeouts ?? {},
    options: options(b.options),
    log: { global: false, disabled: false, targets: [] },
    acls: [],
    httpRequest: [],
    httpResponse: [],
    stickRules: [],
    httpCheckSend: b.send ?? [],
    fromListen,
    disabled: b.disabled ?? false,
    where: where(),
  };
  be.servers = b.servers.map(server);
  if (b.expect) be.httpCheckExpect = { ...b.expect, where: where() };
  if (b.externalCommand !== undefined) be.externalCheckCommand = b.externalCommand;
  if (b.externalPath !== undefined) be.externalCheckPath = b.externalPath;
  if (b.fullconn !== undefined) be.fullconn = b.fullconn;
  if (b.id !== undefined) be.id = b.id;
  if (b.cookie !== undefined) {
    be.cookie = {
      name: b.cookie,
      mode: 'insert',
      indirect: true,
      nocache: true,
      postonly: false,
      preserve: false,
      httponly: false,
      secure: false,
      domain: [],
      where: where(),
    };
  }
  return be;
}

function frontend(f: Omit<FeSpec, 'kind'>, fromListen: boolean): Frontend {
  const binds: Bind[] = f.binds.map(([address, port]) => ({ address, port, acceptProxy: false, options: {}, where: where() }));
  const fe: Frontend = {
    name: f.name,
    mode: f.mode ?? 'tcp',
    binds,
    timeouts: {},
    options: options(),
    log: { global: false, disabled: false, targets: [] },
    acls: [],
    httpRequest: [],
    httpResponse: [],
    redirects: [],
    useBackends: [],
    tcpRequest: [],
    fromListen,
    disabled: f.disabled ?? false,
    where: where(),
  };
  if (f.maxconn !== undefined) fe.maxconn = f.maxconn;
  if (f.defaultBackend !== undefined) fe.defaultBackend = f.defaultBackend;
  if (f.id !== undefined) fe.id = f.id;
  return fe;
}

/** The config model of a spec (sections keep their order through increasing line numbers). */
export function buildConfig(spec: LbSpec, statsSocket = '/tmp/fixture.sock'): ProxyConfig {
  const frontends: Frontend[] = [];
  const backends: Backend[] = [];
  let external = false;
  for (const s of spec.sections) {
    const startLine = line;
    if (s.kind === 'frontend') frontends.push(frontend(s, false));
    else if (s.kind === 'backend') backends.push(backend(s, false));
    else {
      const fe = frontend({ ...s, defaultBackend: s.name }, true);
      const be = backend(s, true);
      be.where = fe.where = { file: 'fixture.cfg', line: startLine + 1 };
      frontends.push(fe);
      backends.push(be);
    }
    if (s.kind !== 'frontend' && s.options?.externalCheck) external = true;
  }
  const config: ProxyConfig = {
    global: {
      daemon: false,
      statsSockets: statsSocket ? [{ path: statsSocket, level: 'user', where: where() }] : [],
      logTargets: [],
      externalCheck: external,
      insecureForkWanted: external,
      tune: {},
      cpuMap: [],
      sslDefaults: {},
      where: where(),
    },
    peers: [],
    frontends,
    backends,
    userlists: [],
    warnings: [],
  };
  if (spec.maxconn !== undefined) config.global.maxconn = spec.maxconn;
  return config;
}

export interface Built {
  plan: Plan;
  /** One counters view per simulated worker (region i). */
  workers: Counters[];
}

type CompilePlan = (config: ProxyConfig, counters: Counters, generation: number, init: boolean) => Plan;
let compiler: CompilePlan | undefined;
try {
  compiler = ((await import('../../proxy-core/compile/compile.ts')) as { compilePlan: CompilePlan }).compilePlan;
} catch {
  compiler = undefined;
}
/** Whether the plans come from compile.ts (else from the stand-in below). */
export const usingCompiler = compiler !== undefined;

/** The plan the supervisor would run, its counters in the supervisor's region. */
export function buildPlan(config: ProxyConfig, nworkers = 2): Built {
  let servers = 0;
  for (const be of config.backends) servers += be.servers.length;
  const slots = 1 + config.frontends.length + config.backends.length + servers;
  const buffer = allocateCounters(slots, nworkers);
  const counters = new Counters(buffer, slots, nworkers);
  const workers = Array.from({ length: nworkers }, (_, i) => new Counters(buffer, slots, i));
  const plan = compiler ? compiler(config, counters, 1, true) : standIn(config, counters);
  return { plan, workers };
}

/** compile.ts's plan, for what stats and health read of it. */
function standIn(config: ProxyConfig, counters: Counters): Plan {
  const globalMaxconn = config.global.maxconn ?? 0;
  const backends: BackendPlan[] = [];
  const backendsByName = new Map<string, BackendPlan>();
  let serverSlot = 1 + config.frontends.length + config.backends.length;
  config.backends.forEach((be, i) => {
    const t = be.timeouts;
    const plan: BackendPlan = {
      name: be.name,
      slot: 1 + config.frontends.length + i,
      mode: be.mode,
      members: [],
      balancer: { pick: () => undefined },
      retries: be.retries ?? 3,
      redispatch: be.options.redispatch === true,
      allbackups: be.options.allbackups === true,
      fullconn: be.fullconn ?? defaultFullconn(be.name, config),
      timeouts: {
        connect: t.connect ?? 0,
        server: t.server ?? 0,
        queue: t.queue ?? t.connect ?? 0,
        tunnel: t.tunnel ?? 0,
        serverFin: t.serverFin ?? 0,
        check: t.check ?? 0,
      },
      httpReuse: be.httpReuse ?? 'safe',
    };
    be.servers.forEach((srv, index) => {
      const m: MemberPlan = {
        name: srv.name,
        slot: serverSlot++,
        index,
        id: srv.id ?? index + 1,
        backend: plan,
        host: srv.address,
        port: srv.port,
        weight: srv.weight,
        backup: srv.backup,
        disabled: srv.disabled,
        maxconn: srv.maxconn ?? 0,
        maxqueue: srv.maxqueue ?? 0,
        checked: srv.check.enabled,
      };
      if (srv.cookie !== undefined) m.cookie = srv.cookie;
      plan.members.push(m);
      const state = m.disabled ? ServerState.maint : m.checked ? ServerState.up : ServerState.noCheck;
      counters.setGauge(m.slot, G.state, state);
      counters.setGauge(m.slot, G.weight, m.weight);
    });
    backends.push(plan);
    backendsByName.set(be.name, plan);
  });
  const frontends: FrontendPlan[] = [];
  const frontendsByName = new Map<string, FrontendPlan>();
  config.frontends.forEach((fe, i) => {
    const p: FrontendPlan = {
      name: fe.name,
      slot: 1 + i,
      mode: fe.mode,
      binds: fe.binds,
      maxconn: fe.maxconn ?? globalMaxconn,
      timeouts: { client: 0, httpRequest: 0, httpKeepAlive: 0, tunnel: 0, clientFin: 0 },
    };
    const be = fe.defaultBackend === undefined ? undefined : backendsByName.get(fe.defaultBackend);
    if (be) p.defaultBackend = be;
    frontends.push(p);
    frontendsByName.set(fe.name, p);
  });
  return {
    generation: 1,
    config,
    counters,
    frontends,
    backends,
    backendsByName,
    frontendsByName,
    maxconn: globalMaxconn,
    globalSlot: 0,
    slots: counters.slots,
  };
}

function defaultFullconn(name: string, config: ProxyConfig): number {
  const globalMaxconn = config.global.maxconn ?? 0;
  let sum = 0;
  for (const fe of config.frontends) {
    if (fe.defaultBackend !== name && !fe.useBackends.some((u) => u.backend === name)) continue;
    const max = fe.maxconn ?? globalMaxconn;
    if (max === 0) return 0;
    sum += max;
  }
  return Math.ceil(sum / 10);
}

// --------------------------------------------------------------------------- haproxy.cfg

function ms(n: number): string {
  return String(n);
}

function serverLine(s: SrvSpec): string {
  let l = `    server ${s.name} ${(s.host ?? '127.0.0.1').includes(':') ? `[${s.host}]` : (s.host ?? '127.0.0.1')}`;
  if (s.port !== undefined) l += `:${s.port}`;
  l += ` weight ${s.weight ?? 1}`;
  if (s.maxconn !== undefined) l += ` maxconn ${s.maxconn}`;
  if (s.maxqueue !== undefined) l += ` maxqueue ${s.maxqueue}`;
  if (s.check) {
    l += ' check';
    const c = s.check === true ? {} : s.check;
    if (c.ssl) l += ' check-ssl verify none';
    if (c.inter !== undefined) l += ` inter ${ms(c.inter)}`;
    if (c.fastinter !== undefined) l += ` fastinter ${ms(c.fastinter)}`;
    if (c.downinter !== undefined) l += ` downinter ${ms(c.downinter)}`;
    if (c.fall !== undefined) l += ` fall ${c.fall}`;
    if (c.rise !== undefined) l += ` rise ${c.rise}`;
    if (c.addr !== undefined) l += ` addr ${c.addr}`;
    if (c.port !== undefined) l += ` port ${c.port}`;
  }
  if (s.cookie !== undefined) l += ` cookie ${s.cookie}`;
  if (s.backup) l += ' backup';
  if (s.disabled) l += ' disabled';
  if (s.id !== undefined) l += ` id ${s.id}`;
  return `${l}\n`;
}

function httpchkLine(chk: HttpCheckRequest | false | undefined): string {
  if (!chk) return '';
  const hidden = chk.headers.map(([n, v]) => `\\r\\n${n}:\\ ${v.replace(/ /g, '\\ ')}`).join('');
  return `    option httpchk ${chk.method} ${chk.uri} ${chk.version}${hidden}\n`;
}

function backendLines(b: Omit<BeSpec, 'kind'>): string {
  let out = '';
  if (b.balance) out += `    balance ${b.balance}\n`;
  const t = b.timeouts ?? {};
  if (t.connect !== undefined) out += `    timeout connect ${ms(t.connect)}\n`;
  if (t.check !== undefined) out += `    timeout check ${ms(t.check)}\n`;
  const o = b.options ?? {};
  out += httpchkLine(o.httpchk);
  for (const words of b.send ?? []) out += `    http-check send ${words.join(' ')}\n`;
  if (b.expect) out += `    http-check expect ${b.expect.negate ? '! ' : ''}${b.expect.kind} ${b.expect.pattern}\n`;
  if (o.sslHelloChk) out += '    option ssl-hello-chk\n';
  if (o.allbackups) out += '    option allbackups\n';
  if (o.externalCheck) out += '    option external-check\n';
  if (b.externalCommand !== undefined) out += `    external-check command ${b.externalCommand}\n`;
  if (b.externalPath !== undefined) out += `    external-check path ${b.externalPath}\n`;
  if (b.fullconn !== undefined) out += `    fullconn ${b.fullconn}\n`;
  if (b.cookie !== undefined) out += `    cookie ${b.cookie} insert indirect nocache\n`;
  for (const s of b.servers) out += serverLine(s);
  return out;
}

function frontendLines(f: Omit<FeSpec, 'kind' | 'defaultBackend'>): string {
  let out = '';
  for (const [a, p] of f.binds) out += `    bind ${a.includes(':') ? `[${a}]` : a}:${p}\n`;
  if (f.maxconn !== undefined) out += `    maxconn ${f.maxconn}\n`;
  return out;
}

/** The haproxy.cfg of a spec, with the given stats sockets (path → level). */
export function renderHaproxyCfg(spec: LbSpec, sockets: [string, 'user' | 'operator' | 'admin'][]): string {
  const external = spec.sections.some((s) => s.kind !== 'frontend' && s.options?.externalCheck);
  let out = 'global\n';
  for (const [path, level] of sockets) out += `    stats socket ${path} mode 0600 level ${level}\n`;
  if (spec.maxconn !== undefined) out += `    maxconn ${spec.maxconn}\n`;
  if (external) out += '    external-check\n    insecure-fork-wanted\n';
  out += 'defaults\n    timeout connect 2000\n    timeout client 10000\n    timeout server 10000\n';
  for (const s of spec.sections) {
    out += `${s.kind} ${s.name}\n    mode ${s.mode ?? 'tcp'}\n`;
    if (s.id !== undefined) out += `    id ${s.id}\n`;
    if (s.disabled) out += '    disabled\n';
    if (s.kind === 'frontend') {
      out += frontendLines(s);
      if (s.defaultBackend) out += `    default_backend ${s.defaultBackend}\n`;
    } else if (s.kind === 'backend') {
      out += backendLines(s);
    } else {
      out += frontendLines(s) + backendLines(s);
    }
  }
  return out;
}
