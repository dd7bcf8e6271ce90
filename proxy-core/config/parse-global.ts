// `global`, `peers` and `userlist` sections.

import type { GlobalSettings, PeersSection, StatsSocket, Where } from './model.ts';
import { parseLogTarget } from './parse-log.ts';
import type { SectionContext } from './parse-proxy.ts';
import { checkName, LineError, parseDuration, parseHostPort, parseInteger } from './units.ts';

export function emptyGlobal(where: Where): GlobalSettings {
  return {
    daemon: false,
    statsSockets: [],
    logTargets: [],
    externalCheck: false,
    insecureForkWanted: false,
    tune: {},
    cpuMap: [],
    sslDefaults: {},
    where,
  };
}

/** Global keywords accepted without effect on this engine, with their minimum argument count. */
const NO_EFFECT: Record<string, number> = {
  'master-worker': 0,
  quiet: 0,
  'zero-warning': 0,
  node: 1,
  description: 1,
  'log-send-hostname': 0,
  'log-tag': 1,
  'ulimit-n': 1,
  'fd-hard-limit': 1,
  maxconnrate: 1,
  maxsessrate: 1,
  maxsslrate: 1,
  maxsslconn: 1,
  maxcomprate: 1,
  maxcompcpuusage: 1,
  maxpipes: 1,
  maxzlibmem: 1,
  'spread-checks': 1,
  'max-spread-checks': 1,
  noepoll: 0,
  nopoll: 0,
  noevports: 0,
  nokqueue: 0,
  nosplice: 0,
  noreuseport: 0,
  nogetaddrinfo: 0,
  'busy-polling': 0,
  'set-dumpable': 0,
  'strict-limits': 0,
  'numa-cpu-mapping': 0,
  'expose-experimental-directives': 0,
  'insecure-setuid-wanted': 0,
  'unix-bind': 1,
  'server-state-base': 1,
  'ssl-mode-async': 0,
  'ssl-skip-self-issued-ca': 0,
  'ssl-load-extra-files': 1,
  'ssl-load-extra-del-ext': 0,
  'issuers-chain-path': 1,
  'thread-groups': 1,
  'thread-group': 1,
  'cluster-secret': 1,
  grace: 1,
  'close-spread-time': 1,
  'h1-accept-payload-with-any-method': 0,
  'h2-workaround-bogus-websocket-clients': 0,
  'default-path': 1,
  'no-memory-trimming': 0,
  'pp2-never-send-local': 0,
  'mworker-max-reloads': 1,
  'profiling.tasks': 1,
  'profiling.memory': 1,
  'httpclient.resolvers.id': 1,
  'httpclient.resolvers.prefer': 1,
  'httpclient.ssl.ca-file': 1,
  'httpclient.ssl.verify': 1,
};

/** Global keywords refused with a reason. */
const REFUSED: Record<string, string> = {
  nbproc: "'nbproc' is not supported any more since HAProxy 2.5, use 'nbthread'",
  'lua-load': 'Lua is not supported',
  'lua-load-per-thread': 'Lua is not supported',
  'lua-prepend-path': 'Lua is not supported',
  setenv: "'setenv' is not supported yet (set the variable in the environment of the process)",
  presetenv: "'presetenv' is not supported yet (set the variable in the environment of the process)",
  resetenv: "'resetenv' is not supported yet",
  unsetenv: "'unsetenv' is not supported yet",
  'set-var': "'set-var' is not supported yet",
  'set-var-fmt': "'set-var-fmt' is not supported yet",
  'h1-case-adjust': "'h1-case-adjust' is not supported yet",
  'h1-case-adjust-file': "'h1-case-adjust-file' is not supported yet",
  'ssl-engine': "'ssl-engine' is not supported",
  'ssl-provider': "'ssl-provider' is not supported",
  'ssl-provider-path': "'ssl-provider-path' is not supported",
  'ssl-propquery': "'ssl-propquery' is not supported",
};

/** `tune.*` keywords of HAProxy 2.6; the value is kept raw. */
const TUNE = new Set(
  (
    'tune.buffers.limit tune.buffers.reserve tune.bufsize tune.chksize tune.comp.maxlevel tune.fail-alloc ' +
    'tune.fd.edge-triggered tune.h2.header-table-size tune.h2.initial-window-size ' +
    'tune.h2.max-concurrent-streams tune.h2.max-frame-size tune.http.cookielen tune.http.logurilen ' +
    'tune.http.maxhdr tune.idle-pool.shared tune.idletimer tune.listener.multi-queue tune.lua.forced-yield ' +
    'tune.lua.maxmem tune.lua.service-timeout tune.lua.session-timeout tune.lua.task-timeout tune.maxaccept ' +
    'tune.maxpollevents tune.maxrewrite tune.pattern.cache-size tune.pipesize tune.pool-high-fd-ratio ' +
    'tune.pool-low-fd-ratio tune.rcvbuf.client tune.rcvbuf.server tune.recv_enough tune.runqueue-depth ' +
    'tune.sched.low-latency tune.sndbuf.client tune.sndbuf.server tune.ssl.cachesize ' +
    'tune.ssl.capture-buffer-size tune.ssl.capture-cipherlist-size tune.ssl.default-dh-param ' +
    'tune.ssl.force-private-cache tune.ssl.hard-maxrecord tune.ssl.keylog tune.ssl.lifetime ' +
    'tune.ssl.maxrecord tune.ssl.ssl-ctx-cache-size tune.vars.global-max-size tune.vars.proc-max-size ' +
    'tune.vars.reqres-max-size tune.vars.sess-max-size tune.vars.txn-max-size tune.zlib.memlevel ' +
    'tune.zlib.windowsize tune.quic.frontend.conn-tx-buffers.limit tune.quic.frontend.max-idle-timeout ' +
    'tune.quic.frontend.max-streams-bidi tune.quic.retry-threshold tune.quic.backend.max-idle-timeout'
  ).split(' '),
);

const SSL_DEFAULTS = new Set([
  'ssl-default-bind-ciphers',
  'ssl-default-bind-ciphersuites',
  'ssl-default-bind-curves',
  'ssl-default-bind-options',
  'ssl-default-server-ciphers',
  'ssl-default-server-ciphersuites',
  'ssl-default-server-options',
  'ssl-dh-param-file',
  'ssl-server-verify',
  'ca-base',
  'crt-base',
]);

function one(words: string[], keyword: string): string {
  const v = words[1];
  if (v === undefined) throw new LineError(`'${keyword}' expects an argument`);
  if (words.length > 2) throw new LineError(`'${keyword}' cannot handle unexpected argument '${words[2]}'.`);
  return v;
}

function statsLine(g: GlobalSettings, words: string[], where: Where): void {
  const sub = words[1];
  if (sub === 'socket') {
    const path = words[2];
    if (path === undefined) throw new LineError(`'stats socket' requires a path or an address`);
    let p = path;
    if (p.startsWith('unix@')) p = p.slice(5);
    if (!p.startsWith('/')) {
      throw new LineError(`'stats socket ${path}' : only UNIX socket paths are supported (ipv4@/ipv6@ and relative paths are not)`);
    }
    const s: StatsSocket = { path: p, level: 'operator', where };
    for (let i = 3; i < words.length; i++) {
      const kw = words[i]!;
      const v = words[i + 1];
      switch (kw) {
        case 'mode':
          if (v === undefined || !/^[0-7]{1,4}$/.test(v)) throw new LineError(`'stats socket ... mode' expects an octal mode, got '${v ?? ''}'`);
          s.mode = parseInt(v, 8);
          i++;
          break;
        case 'level':
          if (v !== 'user' && v !== 'operator' && v !== 'admin') {
            throw new LineError(`'stats socket ... level' only supports 'user', 'operator', and 'admin'`);
          }
          s.level = v;
          i++;
          break;
        case 'user':
        case 'group':
        case 'uid':
        case 'gid':
        case 'name':
        case 'thread':
        case 'process':
        case 'severity-output':
        case 'maxconn':
        case 'backlog':
          if (v === undefined) throw new LineError(`'stats socket ... ${kw}' expects an argument`);
          i++;
          break;
        case 'expose-fd':
          if (v !== 'listeners') throw new LineError(`'stats socket ... expose-fd' only supports 'listeners'`);
          i++;
          break;
        default:
          throw new LineError(`'stats socket' : unknown keyword '${kw}'`);
      }
    }
    g.statsSockets.push(s);
    return;
  }
  if (sub === 'timeout') {
    if (words.length !== 3) throw new LineError(`'stats timeout' expects a duration`);
    const ms = parseDuration(words[2], 'stats timeout');
    if (ms === 0) throw new LineError(`'stats timeout' expects a positive value`);
    g.statsTimeout = ms;
    return;
  }
  if (sub === 'maxconn') {
    if (words.length !== 3) throw new LineError(`'stats maxconn' expects an integer`);
    parseInteger(words[2], 'stats maxconn', 1);
    return;
  }
  throw new LineError(`'stats' only supports 'socket', 'maxconn' and 'timeout' in 'global' section`);
}

/** Parse one line of the `global` section. */
export function globalLine(g: GlobalSettings, words: string[], where: Where, ctx: SectionContext): void {
  const kw = words[0]!;
  if (kw.startsWith('tune.')) {
    if (!TUNE.has(kw)) throw new LineError(`unknown keyword '${kw}' in 'global' section`);
    if (words.length < 2) throw new LineError(`'${kw}' expects an argument`);
    g.tune[kw] = words.slice(1).join(' ');
    return;
  }
  if (SSL_DEFAULTS.has(kw)) {
    if (words.length < 2) throw new LineError(`'${kw}' expects an argument`);
    if (kw === 'ssl-server-verify' && words[1] !== 'none' && words[1] !== 'required') {
      throw new LineError(`'ssl-server-verify' expects 'none' or 'required'`);
    }
    g.sslDefaults[kw] = words.slice(1);
    return;
  }
  switch (kw) {
    case 'daemon':
      g.daemon = true;
      return;
    case 'user':
    case 'group':
      g[kw] = one(words, kw);
      return;
    case 'uid':
      g.user = String(parseInteger(one(words, kw), kw, 0));
      return;
    case 'gid':
      g.group = String(parseInteger(one(words, kw), kw, 0));
      return;
    case 'maxconn':
      g.maxconn = parseInteger(one(words, kw), kw, 1);
      return;
    case 'nbthread':
      g.nbthread = parseInteger(one(words, kw), kw, 1, 4096);
      return;
    case 'cpu-map':
      if (words.length < 3) throw new LineError(`'cpu-map' expects <thread-set> <cpu-set>`);
      g.cpuMap.push(words.slice(1).join(' '));
      return;
    case 'stats':
      return statsLine(g, words, where);
    case 'log':
      if (words[1] === 'global') throw new LineError(`'log global' is only allowed in proxy sections`);
      g.logTargets.push(parseLogTarget(words, where));
      ctx.noteLogTarget(where);
      return;
    case 'server-state-file':
      g.serverStateFile = one(words, kw);
      return;
    case 'pidfile':
      g.pidfile = one(words, kw);
      return;
    case 'external-check':
      if (words.length > 2 || (words[1] !== undefined && words[1] !== 'preserve-env')) {
        throw new LineError(`'external-check' only supports 'preserve-env' as an argument`);
      }
      g.externalCheck = true;
      return;
    case 'insecure-fork-wanted':
      if (words.length > 1) throw new LineError(`'insecure-fork-wanted' takes no argument`);
      g.insecureForkWanted = true;
      return;
    case 'hard-stop-after':
      g.hardStopAfter = parseDuration(one(words, kw), kw);
      return;
    case 'localpeer':
      g.localPeer = checkName(one(words, kw), `'localpeer'`);
      return;
    case 'chroot':
      g.chroot = one(words, kw);
      ctx.warn(where, `'chroot' is accepted but not applied: proxy-core does not change its root directory`);
      return;
  }
  if (kw in NO_EFFECT) {
    if (words.length - 1 < NO_EFFECT[kw]!) throw new LineError(`'${kw}' expects an argument`);
    return;
  }
  if (REFUSED[kw]) throw new LineError(REFUSED[kw]);
  throw new LineError(`unknown keyword '${kw}' in 'global' section`);
}

/** Parse one line of a `peers` section. */
export function peersLine(p: PeersSection, words: string[], where: Where): void {
  const kw = words[0]!;
  if (kw === 'peer') {
    const name = checkName(words[1], `'peer'`);
    const addr = words[2];
    if (addr === undefined) throw new LineError(`'peer ${name}' expects <addr>:<port> as argument`);
    const hp = parseHostPort(addr, `peer ${name}`, true);
    if (words.length > 3) throw new LineError(`'peer ${name}' : unexpected argument '${words[3]}' (peer options are not supported yet)`);
    const dup = p.peers.find((x) => x.name === name);
    if (dup) throw new LineError(`peers section '${p.name}' already has a peer named '${name}' (line ${dup.where.line})`);
    p.peers.push({ name, address: hp.host, port: hp.port!, where });
    return;
  }
  if (kw === 'disabled' || kw === 'enabled') {
    if (words.length > 1) throw new LineError(`'${kw}' takes no argument`);
    return;
  }
  if (['bind', 'server', 'default-bind', 'default-server', 'log', 'table', 'shards'].includes(kw)) {
    throw new LineError(`'${kw}' in a 'peers' section is not supported yet (use 'peer <name> <addr>:<port>' lines)`);
  }
  throw new LineError(`unknown keyword '${kw}' in 'peers' section`);
}

/** Parse one line of a `userlist` section (kept by name only). */
export function userlistLine(words: string[]): void {
  const kw = words[0]!;
  if (kw === 'group') {
    checkName(words[1], `'group'`);
    for (let i = 2; i < words.length; i += 2) {
      if (words[i] !== 'users' || words[i + 1] === undefined) throw new LineError(`'group' only supports 'users <user,...>'`);
    }
    return;
  }
  if (kw === 'user') {
    if (words[1] === undefined) throw new LineError(`'user' expects a user name`);
    for (let i = 2; i < words.length; i += 2) {
      if (!['password', 'insecure-password', 'groups'].includes(words[i]!) || words[i + 1] === undefined) {
        throw new LineError(`'user' supports 'password <hash>', 'insecure-password <pw>' and 'groups <group,...>'`);
      }
    }
    return;
  }
  throw new LineError(`unknown keyword '${kw}' in 'userlist' section`);
}
