// The typed configuration model: what a haproxy.cfg means, as plain data.
//
// Produced by parse.ts from tokenized text, consumed by compile/ (which builds the runtime
// plan) and by the stats socket (names, limits). Plain objects only: no classes, no
// functions, so a model survives structuredClone (workers receive it) and prints as JSON
// in tests. Every element that came from a line carries `where` so later stages can still
// name file:line in their errors.
//
// Durations are milliseconds; sizes are bytes; a field left undefined means "not set"
// (the engine applies HAProxy's default at compile time, not here).

/** Where a directive was read: file path as given on the command line, 1-based line. */
export interface Where {
  file: string;
  line: number;
}

export interface ProxyConfig {
  global: GlobalSettings;
  /** `peers` sections, by name. Only stick-table replication uses them. */
  peers: PeersSection[];
  /** Frontends in file order; a `listen` section yields one frontend and one backend of the same name. */
  frontends: Frontend[];
  /** Backends in file order (including the backend half of every `listen`). */
  backends: Backend[];
  /** `userlist` sections are accepted and kept by name (no runtime use yet). */
  userlists: { name: string; where: Where }[];
  /** Accepted but not acted upon, or limited: each is printed once at start. */
  warnings: ConfigMessage[];
  /**
   * This process's peer name (`-L`, else global `localpeer`, else the host name), set by
   * loadConfig(); the matching entry of a `peers` section has `local: true`.
   */
  localPeer?: string;
}

export interface ConfigMessage {
  where: Where;
  message: string;
}

// ------------------------------------------------------------------------------ global

export interface GlobalSettings {
  daemon: boolean;
  /** `user` / `group` by name; numeric `uid` / `gid` also land here as strings of digits. */
  user?: string;
  group?: string;
  /** Process-wide connection limit (`maxconn`). */
  maxconn?: number;
  /** Worker thread count (`nbthread`); undefined = 1 like HAProxy 2.6 without auto-detection. */
  nbthread?: number;
  statsSockets: StatsSocket[];
  logTargets: LogTarget[];
  serverStateFile?: string;
  pidfile?: string;
  /** `external-check` present (allows `option external-check` in backends). */
  externalCheck: boolean;
  insecureForkWanted: boolean;
  /** `tune.*` keywords, kept raw by name (e.g. `tune.ssl.cachesize` → "20000"). */
  tune: Record<string, string>;
  /** `cpu-map` lines, raw (threads are not pinned from Node). */
  cpuMap: string[];
  /** `ssl-default-bind-*` / `ssl-default-server-*` options, raw words by keyword. */
  sslDefaults: Record<string, string[]>;
  /** `stats timeout`: idle timeout of stats socket sessions, ms. */
  statsTimeout?: number;
  /** `hard-stop-after`: longest a soft stop may wait for connections to end, ms. */
  hardStopAfter?: number;
  /** `localpeer <name>`: the local peer name when no `-L` is given. */
  localPeer?: string;
  /** `chroot <dir>`: accepted, not applied (a warning says so). */
  chroot?: string;
  where: Where;
}

export interface StatsSocket {
  /** Filesystem path of the UNIX socket (`ipv4@`/`ipv6@` addresses are not supported). */
  path: string;
  /** File mode, parsed from octal (`mode 0666` → 0o666). */
  mode?: number;
  level: 'user' | 'operator' | 'admin';
  where: Where;
}

export interface LogTarget {
  /** `global`, a UNIX socket path, or `host:port` (UDP). */
  address: string;
  facility?: string;
  level?: string;
  minLevel?: string;
  where: Where;
}

// ------------------------------------------------------------------------------- peers

export interface PeersSection {
  name: string;
  /** `local` marks the entry naming this process (see ProxyConfig.localPeer). */
  peers: { name: string; address: string; port: number; local?: boolean; where: Where }[];
  where: Where;
}

// --------------------------------------------------------------------- shared by proxies

export type ProxyMode = 'http' | 'tcp';

/** Every timeout HAProxy has that Octavia's templates or an operator may set, in ms. */
export interface Timeouts {
  client?: number;
  server?: number;
  connect?: number;
  queue?: number;
  httpRequest?: number;
  httpKeepAlive?: number;
  tunnel?: number;
  clientFin?: number;
  serverFin?: number;
  check?: number;
  tarpit?: number;
}

/**
 * `option` flags. Each is undefined when never mentioned, true for `option x`, false for
 * `no option x` (so a proxy can cancel what its defaults section set).
 */
export interface ProxyOptions {
  httpKeepAlive?: boolean;
  httpServerClose?: boolean;
  httpClose?: boolean;
  redispatch?: boolean;
  allbackups?: boolean;
  spliceRequest?: boolean;
  spliceResponse?: boolean;
  spliceAuto?: boolean;
  httplog?: boolean;
  tcplog?: boolean;
  dontlognull?: boolean;
  /** `option http-ignore-probes`: a connection that ends before its first byte is no request error. */
  httpIgnoreProbes?: boolean;
  logasap?: boolean;
  /** `option forwardfor [except <net>] [header <name>] [if-none]`. */
  forwardfor?: ForwardFor | false;
  /** `option httpchk [<method> <uri> [<version>]]`; version may carry 11's `\r\nHost:\ x` hack. */
  httpchk?: HttpCheckRequest | false;
  externalCheck?: boolean;
  sslHelloChk?: boolean;
  tcpka?: boolean;
  clitcpka?: boolean;
  srvtcpka?: boolean;
  /** `option abortonclose`, `option http-buffer-request`, ... that have no effect here. */
  other: Record<string, boolean>;
}

export interface ForwardFor {
  header: string;
  except?: string;
  ifNone: boolean;
}

export interface HttpCheckRequest {
  method: string;
  uri: string;
  /** "HTTP/1.0" when omitted, as HAProxy does. */
  version: string;
  /** Headers from 11's `\r\n` hack in the version word, or from `http-check send hdr`. */
  headers: [string, string][];
}

export interface LogSettings {
  /** `log global` in this proxy (or inherited). */
  global: boolean;
  /** `no log`. */
  disabled: boolean;
  targets: LogTarget[];
  /** `log-format` string, unescaped (spaces as spaces). */
  format?: string;
}

// ------------------------------------------------------------------------ ACLs and rules

/** A sample fetch with its arguments: `req.hdr(host)` → { name: 'req.hdr', args: ['host'] }. */
export interface SampleFetch {
  name: string;
  args: string[];
  /** Converters applied in order: `ssl_c_sha1,hex` → [{ name: 'hex', args: [] }]. */
  converters: { name: string; args: string[] }[];
}

export type MatchMethod =
  | 'str'
  | 'beg'
  | 'end'
  | 'sub'
  | 'reg'
  | 'dir'
  | 'dom'
  | 'len'
  | 'int'
  | 'ip'
  | 'bool'
  | 'bin'
  | 'found';

export interface Acl {
  name: string;
  fetch: SampleFetch;
  /** Explicit `-m` method, or the fetch's default one (e.g. `path_end` → end, `ssl_c_used` → bool). */
  match: MatchMethod;
  /** `-i`. */
  ignoreCase: boolean;
  /**
   * Patterns as written after the flags, unescaped. For `int` matches an operator may lead
   * (`eq 0`, `gt 3`): kept as separate words, the matcher reads them.
   */
  patterns: string[];
  where: Where;
}

/** One `!name` or `name` or `{ anonymous acl }` term of a condition. */
export interface CondTerm {
  negate: boolean;
  /** Named ACL (looked up in the same proxy) or an inline anonymous ACL `{ ... }`. */
  acl: string | Acl;
}

/** `if|unless a b || c`: an OR of AND-groups, as HAProxy evaluates it. */
export interface Condition {
  kind: 'if' | 'unless';
  or: CondTerm[][];
}

/**
 * A log-format string (`%[dst_port]`, `%{+Q}[ssl_c_s_dn]`, literal text), split into
 * literal and sample parts so the engine never re-parses it per request.
 */
export type FormatPart =
  | { kind: 'text'; text: string }
  | { kind: 'sample'; fetch: SampleFetch; quote: boolean }
  | { kind: 'var'; name: string; quote: boolean };

export type HttpRequestRule =
  | { action: 'deny' | 'reject' | 'tarpit'; status?: number; cond?: Condition; where: Where }
  | { action: 'allow'; cond?: Condition; where: Where }
  | {
      action: 'set-header' | 'add-header';
      name: string;
      value: FormatPart[];
      cond?: Condition;
      where: Where;
    }
  | { action: 'del-header'; name: string; cond?: Condition; where: Where }
  | { action: 'redirect'; redirect: Redirect; cond?: Condition; where: Where }
  | { action: 'use-service'; service: string; cond?: Condition; where: Where };

export type HttpResponseRule =
  | {
      action: 'set-header' | 'add-header';
      name: string;
      value: FormatPart[];
      cond?: Condition;
      where: Where;
    }
  | { action: 'del-header'; name: string; cond?: Condition; where: Where };

export interface Redirect {
  type: 'location' | 'prefix' | 'scheme';
  /** Target URL, prefix, or scheme, as written. */
  value: string;
  /**
   * `http-request redirect`: the value as a log-format string, evaluated per
   * request. The older `redirect` directive places its value verbatim (HAProxy does the same),
   * so it has none; nor does a prefix of "/", which only means "the same path".
   */
  format?: FormatPart[];
  /** 301, 302 (default), 303, 307 or 308. */
  code: number;
  dropQuery: boolean;
  appendSlash: boolean;
  /** `set-cookie NAME[=value]` / `clear-cookie NAME` options, raw. */
  setCookie?: string;
  clearCookie?: string;
  cond?: Condition;
  where: Where;
}

export interface UseBackend {
  backend: string;
  cond?: Condition;
  where: Where;
}

export interface TcpRequestRule {
  /** `tcp-request connection|content|inspect-delay ...`, words after `tcp-request`. */
  words: string[];
  where: Where;
}

// ------------------------------------------------------------------------------ frontend

export interface Bind {
  /** Host part as written: IPv4, IPv6 without brackets, '' or '*' or '::' for any. */
  address: string;
  port: number;
  /** TLS termination settings, present iff the bind line has `ssl`. */
  ssl?: BindSsl;
  /** `accept-proxy`: expect a PROXY protocol header from the client. */
  acceptProxy: boolean;
  /** Other bind options kept raw (e.g. `transparent`, `v4v6`), name → argument or true. */
  options: Record<string, string | true>;
  where: Where;
}

export interface BindSsl {
  crt: string[];
  crtList?: string;
  caFile?: string;
  crlFile?: string;
  verify?: 'none' | 'optional' | 'required';
  ciphers?: string;
  ciphersuites?: string;
  /** Versions disabled by `no-sslv3`, `no-tlsv10` ... `no-tlsv13`. */
  disabledVersions: ('SSLv3' | 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3')[];
  sslMinVer?: string;
  sslMaxVer?: string;
  alpn?: string[];
}

export interface Frontend {
  name: string;
  mode: ProxyMode;
  binds: Bind[];
  maxconn?: number;
  timeouts: Timeouts;
  options: ProxyOptions;
  log: LogSettings;
  acls: Acl[];
  /** `http-request ...` in file order. */
  httpRequest: HttpRequestRule[];
  httpResponse: HttpResponseRule[];
  /** `redirect ...` lines in file order (evaluated after http-request rules, as HAProxy does). */
  redirects: Redirect[];
  useBackends: UseBackend[];
  defaultBackend?: string;
  tcpRequest: TcpRequestRule[];
  /** True when the frontend came from a `listen` section. */
  fromListen: boolean;
  disabled: boolean;
  /** Numeric id (`id` keyword), else assigned in file order like HAProxy (iid). */
  id?: number;
  where: Where;
}

// ------------------------------------------------------------------------------- backend

export type BalanceAlgorithm =
  | 'roundrobin'
  | 'static-rr'
  | 'leastconn'
  | 'first'
  | 'source'
  | 'uri'
  | 'url_param'
  | 'hdr'
  | 'random';

export interface Balance {
  algorithm: BalanceAlgorithm;
  /** Algorithm arguments as written (e.g. `hdr(host)` → ['host']). */
  args: string[];
}

export interface StickTable {
  type: 'ip' | 'ipv6' | 'integer' | 'string' | 'binary';
  /** `len` for string/binary keys. */
  len?: number;
  /** Entries (`size 10k` → 10240). */
  size: number;
  expire?: number;
  peers?: string;
  /** `store ...` data types, raw. */
  store: string[];
  where: Where;
}

export interface StickRule {
  kind: 'on' | 'match' | 'store-request' | 'store-response';
  fetch: SampleFetch;
  table?: string;
  cond?: Condition;
  where: Where;
}

export interface CookiePersistence {
  name: string;
  /** 'passive' when none of insert/rewrite/prefix is given: the server sets the cookie itself. */
  mode: 'insert' | 'rewrite' | 'prefix' | 'passive';
  indirect: boolean;
  nocache: boolean;
  postonly: boolean;
  preserve: boolean;
  httponly: boolean;
  secure: boolean;
  domain: string[];
  maxidle?: number;
  maxlife?: number;
  where: Where;
}

export interface HttpCheckExpect {
  /** `status`, `rstatus`, `string`, `rstring`, ... */
  kind: string;
  negate: boolean;
  pattern: string;
  where: Where;
}

export interface ServerCheck {
  /** `check` present. */
  enabled: boolean;
  inter?: number;
  fastinter?: number;
  downinter?: number;
  rise?: number;
  fall?: number;
  /** `addr` / `port`: probe a different address or port than traffic. */
  addr?: string;
  port?: number;
  /** `check-ssl`. */
  ssl: boolean;
  /** `check-alpn`. */
  alpn?: string[];
  /**
   * With `check-ssl`: the TLS settings the check uses. HAProxy shares the server's TLS
   * keywords (`verify`, `ca-file`, `crt`, ...) between traffic and checks, so these are the
   * server line's own, whether or not the line also has `ssl`.
   */
  tls?: ServerSsl;
  /** `agent-check` and friends are not supported; kept for the error message. */
}

export interface ServerSsl {
  crt?: string;
  caFile?: string;
  crlFile?: string;
  verify?: 'none' | 'required';
  /** `sni <expr>`, e.g. `ssl_fc_sni`. */
  sni?: SampleFetch;
  ciphers?: string;
  ciphersuites?: string;
  disabledVersions: ('SSLv3' | 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3')[];
  alpn?: string[];
}

export interface Server {
  name: string;
  /**
   * IPv4 or IPv6 address (without brackets). A host name written here is replaced by its
   * address when the config is loaded (config/resolve.ts), and kept in `fqdn`.
   */
  address: string;
  /** The host name `address` was resolved from. */
  fqdn?: string;
  /** Undefined when omitted (mode tcp "same port as the client connected to"). */
  port?: number;
  weight: number;
  backup: boolean;
  disabled: boolean;
  maxconn?: number;
  maxqueue?: number;
  check: ServerCheck;
  /** Value of `cookie <value>` for cookie persistence. */
  cookie?: string;
  sendProxy?: 'v1' | 'v2' | 'v2-ssl' | 'v2-ssl-cn';
  /** Present iff the server line has `ssl` (re-encryption). */
  ssl?: ServerSsl;
  /** Numeric id (`id` keyword) or assigned in order, 1-based, like HAProxy's sid. */
  id?: number;
  where: Where;
}

export interface Backend {
  name: string;
  mode: ProxyMode;
  balance: Balance;
  servers: Server[];
  timeouts: Timeouts;
  options: ProxyOptions;
  log: LogSettings;
  retries?: number;
  fullconn?: number;
  /** `http-reuse never|safe|aggressive|always`. */
  httpReuse?: 'never' | 'safe' | 'aggressive' | 'always';
  /** `hash-type <method> [<function>] [<modifier>]`, for the hashing balance algorithms. */
  hashType?: { method: 'map-based' | 'consistent'; function?: string; modifier?: string };
  acls: Acl[];
  httpRequest: HttpRequestRule[];
  httpResponse: HttpResponseRule[];
  cookie?: CookiePersistence;
  stickTable?: StickTable;
  stickRules: StickRule[];
  httpCheckExpect?: HttpCheckExpect;
  /** `http-check send ...` lines, raw words after `send`. */
  httpCheckSend: string[][];
  externalCheckCommand?: string;
  externalCheckPath?: string;
  loadServerStateFromFile?: 'global' | 'local' | 'none';
  /** True when the backend came from a `listen` section. */
  fromListen: boolean;
  disabled: boolean;
  id?: number;
  where: Where;
}
