import { describe, expect, it } from 'vitest';
import type { ConfigMessage } from '../../proxy-core/config/model.ts';
import { parseConfig } from '../../proxy-core/config/parse.ts';

const HEAD = `defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
`;

function parse(text: string, path = 'test.cfg') {
  return parseConfig([{ path, text }], { env: { PORT: '8080' } });
}

/** Errors as "file:line: message" for compact assertions. */
function errorsOf(text: string): string[] {
  return parse(text).errors.map((e: ConfigMessage) => `${e.where.file}:${e.where.line}: ${e.message}`);
}

describe('errors name file:line and the problem', () => {
  it('refuses an unknown keyword in each section', () => {
    expect(errorsOf('global\n    daemonize\n')).toEqual(["test.cfg:2: unknown keyword 'daemonize' in 'global' section"]);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    frobnicate yes\n`)).toEqual([
      "test.cfg:8: unknown keyword 'frobnicate' in 'frontend' section",
    ]);
    expect(errorsOf(`${HEAD}backend b\n    serveur s 1.2.3.4:80\n`)).toEqual([
      "test.cfg:7: unknown keyword 'serveur' in 'backend' section",
    ]);
    expect(errorsOf('    daemon\n')).toEqual(["test.cfg:1: unknown keyword 'daemon' out of section."]);
  });

  it('refuses bad durations, sizes and integers', () => {
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    timeout client 1.5s\n`)).toEqual([
      "test.cfg:8: 'timeout client' : invalid duration '1.5s' (a number followed by us, ms, s, m, h or d; no unit means ms)",
    ]);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    timeout client 25d\n`)[0]).toMatch(/^test.cfg:8: 'timeout client' : timer overflow/);
    // Microseconds round up to whole milliseconds, as in HAProxy.
    expect(parse(`${HEAD}frontend f\n    bind :80\n    timeout client 10us\n`).config.frontends[0]!.timeouts.client).toBe(1);
    expect(errorsOf(`${HEAD}backend b\n    stick-table type ip size 10q\n`)).toEqual([
      "test.cfg:7: 'stick-table size' : invalid size '10q' (a number with an optional k, m or g suffix)",
    ]);
    expect(errorsOf(`${HEAD}backend b\n    server s 1.2.3.4:80 weight 300\n`)).toEqual([
      "test.cfg:7: 'weight' : 300 is out of range (0..256)",
    ]);
  });

  it('refuses a use_backend / default_backend naming a backend that does not exist', () => {
    const text = `${HEAD}frontend f\n    bind :80\n    acl a path /x\n    use_backend nope if a\n    default_backend missing\n`;
    expect(errorsOf(text)).toEqual([
      "test.cfg:10: Proxy 'f': unable to find required default_backend: 'missing'.",
      "test.cfg:9: Proxy 'f': unable to find required use_backend: 'nope'.",
    ]);
  });

  it('refuses a dynamic use_backend name', () => {
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    use_backend be_%[req.hdr(host)]\n`)).toEqual([
      "test.cfg:8: 'use_backend' with a dynamic name ('be_%[req.hdr(host)]') is not supported yet",
    ]);
  });

  it('refuses an ACL a condition names before it is declared', () => {
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    http-request deny if blocked\n    acl blocked path /x\n`)).toEqual([
      "test.cfg:8: no such ACL : 'blocked'",
    ]);
  });

  it('reports an unterminated quote with its line and keeps parsing', () => {
    const r = parse(`${HEAD}frontend f\n    bind :80\n    http-request set-header X "abc\n    bogus\n`);
    expect(r.errors.map((e) => [e.where.line, e.message])).toEqual([
      [8, 'unmatched quote at position 31'],
      [9, "unknown keyword 'bogus' in 'frontend' section"],
    ]);
  });

  it('refuses an HTTP frontend routing to a TCP backend', () => {
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    default_backend b\nbackend b\n    mode tcp\n`)).toEqual([
      "test.cfg:8: http frontend 'f' (test.cfg:6) tries to use incompatible tcp backend 'b' (test.cfg:9) as its default backend (see 'mode').",
    ]);
  });

  it('refuses duplicate proxy and server names', () => {
    expect(errorsOf(`${HEAD}backend b\nbackend b\n`)).toEqual(["test.cfg:7: backend 'b' has the same name as backend 'b' declared at test.cfg:6."]);
    expect(errorsOf(`${HEAD}frontend x\n    bind :80\nlisten x\n    bind :81\n`)).toEqual([
      "test.cfg:8: listen 'x' has the same name as frontend 'x' declared at test.cfg:6.",
    ]);
    // A frontend and a backend may share a name.
    expect(errorsOf(`${HEAD}frontend x\n    bind :80\n    default_backend x\nbackend x\n`)).toEqual([]);
    expect(errorsOf(`${HEAD}backend b\n    server s 1.1.1.1:80\n    server s 1.1.1.2:80\n`)).toEqual([
      "test.cfg:8: backend 'b' has a server named 's' already declared at test.cfg:7",
    ]);
  });

  it('refuses invalid server addresses and ports', () => {
    expect(errorsOf(`${HEAD}backend b\n    server s 10.0.0.1:70000\n`)).toEqual(["test.cfg:7: 'server s' : invalid port '70000' (1..65535)"]);
    expect(errorsOf(`${HEAD}backend b\n    server s fd00::1\n`)).toEqual(["test.cfg:7: 'server s' : invalid address 'fd00:' in 'fd00::1'"]);
    expect(errorsOf(`${HEAD}backend b\n    server s 10.0.0.1 check\n`)).toEqual([
      "test.cfg:7: 'server s' has neither service port nor check port (health checks need one)",
    ]);
    expect(errorsOf(`${HEAD}frontend f\n    bind 10.0.0.1\n`)).toEqual(["test.cfg:7: 'bind' : missing port number in '10.0.0.1'"]);
  });

  it('refuses a TLS server without CA and without verify none, like HAProxy', () => {
    expect(errorsOf(`${HEAD}backend b\n    server s 10.0.0.1:443 ssl\n`)[0]).toMatch(/^test.cfg:7: 'server b\/s' : verify is enabled by default but no CA file specified/);
    expect(errorsOf(`${HEAD}backend b\n    server s 10.0.0.1:443 check check-ssl\n`)[0]).toMatch(/verify is enabled by default/);
    expect(errorsOf(`${HEAD}backend b\n    server s 10.0.0.1:443 ssl verify none\n`)).toEqual([]);
    expect(errorsOf(`${HEAD}backend b\n    server s 10.0.0.1:443 ssl ca-file /ca.pem\n`)).toEqual([]);
    // ssl-server-verify applies wherever it is written, as in HAProxy.
    expect(errorsOf(`${HEAD}backend b\n    server s 10.0.0.1:443 ssl\nglobal\n    ssl-server-verify none\n`)).toEqual([]);
  });

  it('refuses stick rules without a table and stick tables with unknown peers', () => {
    expect(errorsOf(`${HEAD}backend b\n    stick on src\n`)).toEqual(["test.cfg:7: Proxy 'b': unable to find stick-table 'b'."]);
    expect(errorsOf(`${HEAD}backend b\n    stick-table type ip size 1k peers nope\n`)).toEqual([
      "test.cfg:7: Proxy 'b': unable to find sync peers 'nope'.",
    ]);
  });

  it('refuses an external check without the global keyword', () => {
    expect(errorsOf(`${HEAD}backend b\n    option external-check\n    external-check command /bin/true\n`)).toEqual([
      "test.cfg:6: Proxy 'b' : 'option external-check' unable to find required 'global.external-check'.",
    ]);
  });

  it('refuses known-but-unsupported features precisely', () => {
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    http-request set-var(txn.x) str(1)\n`)).toEqual([
      "test.cfg:8: 'http-request set-var(txn.x)' is not supported yet",
    ]);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    http-request frobnicate\n`)).toEqual([
      "test.cfg:8: 'http-request' : unknown action 'frobnicate'",
    ]);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    http-request replace-path /a /b\n`)).toEqual([
      "test.cfg:8: 'http-request replace-path' is not supported yet",
    ]);
    expect(errorsOf(`${HEAD}backend b\n    option mysql-check\n`)[0]).toMatch(/'option mysql-check' health checks are not supported yet/);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    compression algo gzip\n`)).toEqual(["test.cfg:8: 'compression' is not supported yet"]);
    expect(errorsOf(`resolvers dns\n    nameserver a 1.1.1.1:53\n`)).toEqual(["test.cfg:1: 'resolvers' sections are not supported yet"]);
    expect(errorsOf(`global\n    nbproc 2\n`)).toEqual(["test.cfg:2: 'nbproc' is not supported any more since HAProxy 2.5, use 'nbthread'"]);
  });

  it('refuses bad ACLs: unknown fetch, bad option, bad patterns', () => {
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    acl a pth /x\n`)).toEqual(["test.cfg:8: unknown fetch method 'pth'"]);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    acl a path -x /x\n`)[0]).toMatch(/'-x' is not a valid ACL option/);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    acl a ssl_c_verify eq zero\n`)[0]).toMatch(/'zero' is not a valid integer pattern/);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    acl a src 10.0.0.0/33\n`)[0]).toMatch(/not a valid IPv4 or IPv6 address/);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    acl a path_reg (unclosed\n`)[0]).toMatch(/regex '\(unclosed' cannot be compiled/);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    acl a req.hdr(host),nope foo\n`)[0]).toMatch(/unknown converter 'nope'/);
  });

  it('refuses samples read where their data is not available', () => {
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    http-response set-header X %[req.hdr(host)]\n`)).toEqual([
      "test.cfg:8: sample fetch 'req.hdr' may not be used in 'http-response' rules: it needs the request, which is not available there",
    ]);
    expect(errorsOf(`${HEAD}backend b\n    stick-table type string len 32 size 1k\n    stick match res.cook(a)\n`)).toEqual([
      "test.cfg:8: sample fetch 'res.cook' may not be used in 'stick match': it needs the response, which is not available there",
    ]);
    const r = parse(`${HEAD}frontend f\n    bind :80\n    acl st status 500\n    http-request deny if st\n`);
    expect(r.errors).toEqual([]);
    expect(r.config.warnings.map((w) => w.message)).toEqual([
      "acl 'st' will never match in 'http-request' rules because it only involves keywords that need the response.",
    ]);
  });

  it('refuses bad log-format strings', () => {
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    log-format %zz\n`)[0]).toMatch(/no such format variable '%zz'/);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    log-format %[nope]\n`)[0]).toMatch(/unknown fetch method 'nope'/);
    expect(errorsOf(`${HEAD}frontend f\n    bind :80\n    log-format a b\n`)[0]).toMatch(/'log-format' expects only one argument/);
  });
});

describe('defaults sections', () => {
  it('gives a proxy everything of the most recent defaults section above it', () => {
    const { config, errors } = parse(`defaults
    mode http
    log global
    retries 5
    balance leastconn
    maxconn 300
    fullconn 200
    http-reuse always
    option httplog
    option forwardfor
    option http-server-close
    timeout client 10s
    timeout server 20s
    timeout connect 3s
    timeout http-request 2s
    default_backend b
frontend f
    bind :80
backend b
    server s 127.0.0.1:8080
defaults
    mode tcp
    timeout client 1m
    timeout server 1m
    timeout connect 1m
frontend g
    bind :81
    default_backend b2
backend b2
    server s 127.0.0.1:8081
`);
    expect(errors).toEqual([]);
    const [f, g] = config.frontends;
    const [b, b2] = config.backends;
    expect(f).toMatchObject({ mode: 'http', maxconn: 300, defaultBackend: 'b', log: { global: true } });
    expect(f!.timeouts).toEqual({ client: 10000, server: 20000, connect: 3000, httpRequest: 2000 });
    expect(f!.options).toMatchObject({ httplog: true, httpServerClose: true, forwardfor: { header: 'X-Forwarded-For', ifNone: false } });
    expect(b).toMatchObject({ mode: 'http', retries: 5, fullconn: 200, httpReuse: 'always', balance: { algorithm: 'leastconn' } });
    // A new defaults section starts from scratch.
    expect(g).toMatchObject({ mode: 'tcp', defaultBackend: 'b2', log: { global: false } });
    expect(g!.maxconn).toBeUndefined();
    expect(g!.timeouts).toEqual({ client: 60000, server: 60000, connect: 60000 });
    expect(b2!.balance.algorithm).toBe('roundrobin');
    expect(b2!.retries).toBeUndefined();
  });

  it("lets a proxy cancel an inherited option with 'no option'", () => {
    const { config, errors } = parse(`${HEAD}    option redispatch
    option http-keep-alive
    option dontlognull
    option splice-response
frontend f
    bind :80
    no option dontlognull
    option http-server-close
    default_backend b
backend b
    no option redispatch
    no option splice-response
    server s 127.0.0.1:80
`);
    expect(errors).toEqual([]);
    const f = config.frontends[0]!;
    const b = config.backends[0]!;
    expect(f.options.dontlognull).toBe(false);
    expect(f.options.httpServerClose).toBe(true);
    expect(f.options.httpKeepAlive).toBeUndefined();
    expect(b.options.redispatch).toBe(false);
    expect(b.options.spliceResponse).toBe(false);
    expect(b.options.httpKeepAlive).toBe(true);
  });

  it("lets a proxy turn logging off with 'no log' and back on with 'log global'", () => {
    const { config } = parse(`global
    log 127.0.0.1:514 local0
${HEAD}    log global
frontend quiet
    bind :80
    no log
    default_backend loud
backend loud
    log global
`);
    expect(config.frontends[0]!.log).toEqual({ global: false, disabled: true, targets: [] });
    expect(config.backends[0]!.log.global).toBe(true);
    expect(config.warnings.filter((w) => w.message.startsWith('log shipping'))).toEqual([
      { where: { file: 'test.cfg', line: 2 }, message: 'log shipping is not implemented yet: log targets are accepted and ignored' },
    ]);
  });

  it("supports named defaults and 'from'", () => {
    const { config, errors } = parse(`defaults web
    mode http
    timeout client 7s
defaults
    mode tcp
frontend f from web
    bind :80
frontend g
    bind :81
`);
    expect(errors).toEqual([]);
    expect(config.frontends.map((f) => [f.mode, f.timeouts.client])).toEqual([
      ['http', 7000],
      ['tcp', undefined],
    ]);
    expect(errorsOf('frontend f from nope\n    bind :80\n')).toEqual(["test.cfg:1: frontend 'f' : unable to find defaults section 'nope'"]);
  });

  it('applies default-server lines to the servers after them', () => {
    const { config, errors } = parse(`${HEAD}    default-server inter 3s fall 2
backend b
    server a 10.0.0.1:80 check
    default-server rise 4
    server b 10.0.0.2:80 check inter 1s
`);
    expect(errors).toEqual([]);
    expect(config.backends[0]!.servers.map((s) => s.check)).toEqual([
      { enabled: true, ssl: false, inter: 3000, fall: 2 },
      { enabled: true, ssl: false, inter: 1000, fall: 2, rise: 4 },
    ]);
  });
});

describe('sections and keywords an operator adds', () => {
  it('turns a listen section into a frontend and a backend of the same name', () => {
    const { config, errors } = parse(`${HEAD}listen web
    bind :::8080 v4v6
    bind 127.0.0.1:8081,127.0.0.1:8082
    acl api path_beg /api
    http-request deny if !api
    balance static-rr
    hash-type consistent djb2 avalanche
    option http-server-close
    id 42
    description my web farm
    server a 10.0.0.1:80 maxconn 10 maxqueue 5
`);
    expect(errors).toEqual([]);
    const [f] = config.frontends;
    const [b] = config.backends;
    expect(f).toMatchObject({ name: 'web', fromListen: true, defaultBackend: 'web', id: 42 });
    expect(f!.binds.map((x) => [x.address, x.port, x.options])).toEqual([
      ['::', 8080, { v4v6: true }],
      ['127.0.0.1', 8081, {}],
      ['127.0.0.1', 8082, {}],
    ]);
    expect(f!.httpRequest).toHaveLength(1);
    expect(b).toMatchObject({ name: 'web', fromListen: true, id: 42, balance: { algorithm: 'static-rr' } });
    expect(b!.hashType).toEqual({ method: 'consistent', function: 'djb2', modifier: 'avalanche' });
    expect(b!.httpRequest).toEqual([]);
    expect(b!.acls.map((a) => a.name)).toEqual(['api']);
    expect(b!.servers[0]).toMatchObject({ maxconn: 10, maxqueue: 5 });
  });

  it('accepts the usual global tuning and keeps what matters', () => {
    const { config, errors } = parse(`global
    daemon
    chroot /var/empty
    pidfile /run/haproxy.pid
    maxconn 4000
    nbthread 4
    cpu-map auto:1/1-4 0-3
    tune.ssl.cachesize 20000
    tune.bufsize 32768
    stats socket /run/haproxy.sock mode 600 level admin expose-fd listeners
    stats timeout 30s
    hard-stop-after 5m
    ssl-default-bind-ciphers ECDHE-RSA-AES128-GCM-SHA256
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
    spread-checks 5
    localpeer lb1
`);
    expect(errors).toEqual([]);
    expect(config.global).toMatchObject({
      daemon: true,
      chroot: '/var/empty',
      pidfile: '/run/haproxy.pid',
      maxconn: 4000,
      nbthread: 4,
      cpuMap: ['auto:1/1-4 0-3'],
      tune: { 'tune.ssl.cachesize': '20000', 'tune.bufsize': '32768' },
      statsSockets: [{ path: '/run/haproxy.sock', mode: 0o600, level: 'admin' }],
      statsTimeout: 30000,
      hardStopAfter: 300000,
      sslDefaults: {
        'ssl-default-bind-ciphers': ['ECDHE-RSA-AES128-GCM-SHA256'],
        'ssl-default-bind-options': ['ssl-min-ver', 'TLSv1.2', 'no-tls-tickets'],
      },
      localPeer: 'lb1',
    });
    expect(config.warnings.map((w) => w.message)).toEqual([
      "'chroot' is accepted but not applied: proxy-core does not change its root directory",
    ]);
  });

  it('expands environment variables in quoted words', () => {
    const { config, errors } = parse(`${HEAD}frontend f\n    bind "127.0.0.1:$PORT"\n`);
    expect(errors).toEqual([]);
    expect(config.frontends[0]!.binds[0]!.port).toBe(8080);
  });

  it('parses conditions: OR groups, negation, anonymous and predefined ACLs', () => {
    const { config, errors } = parse(`${HEAD}frontend f
    bind :80
    acl a path_beg /a
    acl b hdr(host) -i example.com
    acl a path_beg /aa
    http-request deny if a !b || { src 10.0.0.0/8 } METH_POST or !{ path_end .php }
    default_backend be
backend be
`);
    expect(errors).toEqual([]);
    const f = config.frontends[0]!;
    expect(f.acls.filter((x) => x.name === 'a')).toHaveLength(2);
    const cond = f.httpRequest[0]!.cond!;
    expect(cond.kind).toBe('if');
    expect(cond.or).toHaveLength(3);
    expect(cond.or[0]).toEqual([
      { negate: false, acl: 'a' },
      { negate: true, acl: 'b' },
    ]);
    expect(cond.or[1]).toMatchObject([
      { negate: false, acl: { fetch: { name: 'src' }, match: 'ip', patterns: ['10.0.0.0/8'] } },
      { negate: false, acl: { name: 'METH_POST', fetch: { name: 'method' }, match: 'str', patterns: ['POST'] } },
    ]);
    expect(cond.or[2]).toMatchObject([{ negate: true, acl: { fetch: { name: 'path_end' }, match: 'end', patterns: ['.php'] } }]);
  });

  it('gives each ACL its default match method and honours -m and -i', () => {
    const { config, errors } = parse(`${HEAD}frontend f
    bind :80
    acl a1 path_dir /img
    acl a2 dst_port 80 443 8000:8100
    acl a3 method GET
    acl a4 url /x
    acl a5 ssl_fc
    acl a6 req.cook(SID) -m found
    acl a7 req.hdr(x),lower -m sub -i abc
    acl a8 req.hdr_cnt(host) gt 1
    acl a9 req.payload(0,2) 1603
    acl a10 src_port -- -1
`);
    expect(errors).toEqual([
      { where: { file: 'test.cfg', line: 17 }, message: "'-1' is not a valid integer pattern (N, N:M, :M, N: or eq|gt|ge|lt|le N)" },
    ]);
    expect(config.frontends[0]!.acls.map((a) => [a.name, a.match, a.ignoreCase, a.patterns])).toEqual([
      ['a1', 'dir', false, ['/img']],
      ['a2', 'int', false, ['80', '443', '8000:8100']],
      ['a3', 'str', false, ['GET']],
      ['a4', 'str', false, ['/x']],
      ['a5', 'bool', false, []],
      ['a6', 'found', false, []],
      ['a7', 'sub', true, ['abc']],
      ['a8', 'int', false, ['gt', '1']],
      ['a9', 'bin', false, ['1603']],
    ]);
  });

  it('reads redirects, http-request variants and http-response rules', () => {
    const { config, errors } = parse(`${HEAD}frontend f
    bind :80
    http-request deny deny_status 429 if { path /slow }
    http-request add-header X-Via proxy-core
    http-request del-header X-Secret
    http-request redirect scheme https code 308 drop-query
    http-response set-header X-Frame-Options "DENY"
    http-response del-header Server
    redirect location /new append-slash set-cookie SEEN=1 if { path /old }
`);
    expect(errors).toEqual([]);
    const f = config.frontends[0]!;
    expect(f.httpRequest.map((r) => r.action)).toEqual(['deny', 'add-header', 'del-header', 'redirect']);
    expect(f.httpRequest[0]).toMatchObject({ status: 429 });
    expect(f.httpRequest[3]).toMatchObject({ redirect: { type: 'scheme', value: 'https', code: 308, dropQuery: true } });
    expect(f.httpResponse).toMatchObject([
      { action: 'set-header', name: 'X-Frame-Options', value: [{ kind: 'text', text: 'DENY' }] },
      { action: 'del-header', name: 'Server' },
    ]);
    expect(f.redirects[0]).toMatchObject({ type: 'location', value: '/new', code: 302, appendSlash: true, setCookie: 'SEEN=1' });
  });

  it('splits set-header values into text, samples and log variables', () => {
    const { config, errors } = parse(`${HEAD}backend b
    http-request set-header X-Client %ci:%cp
    http-request set-header X-Info "host=%[req.hdr(host),lower] 100%% %{+Q}[ssl_fc_sni]"
`);
    expect(errors).toEqual([]);
    const [a, b] = config.backends[0]!.httpRequest as { value: unknown }[];
    expect(a!.value).toEqual([
      { kind: 'var', name: 'ci', quote: false },
      { kind: 'text', text: ':' },
      { kind: 'var', name: 'cp', quote: false },
    ]);
    expect(b!.value).toEqual([
      { kind: 'text', text: 'host=' },
      { kind: 'sample', fetch: { name: 'req.hdr', args: ['host'], converters: [{ name: 'lower', args: [] }] }, quote: false },
      { kind: 'text', text: ' 100% ' },
      { kind: 'sample', fetch: { name: 'ssl_fc_sni', args: [], converters: [] }, quote: true },
    ]);
  });

  it('merges http-check send into the check request', () => {
    const { config, errors } = parse(`${HEAD}backend b
    option httpchk
    http-check send meth HEAD uri /health ver HTTP/1.1 hdr Host example.com hdr X-A b
    http-check expect ! rstatus ^5
`);
    expect(errors).toEqual([]);
    const b = config.backends[0]!;
    expect(b.options.httpchk).toEqual({
      method: 'HEAD',
      uri: '/health',
      version: 'HTTP/1.1',
      headers: [
        ['Host', 'example.com'],
        ['X-A', 'b'],
      ],
    });
    expect(b.httpCheckExpect).toMatchObject({ kind: 'rstatus', negate: true, pattern: '^5' });
  });

  it('drops HTTP-only settings from a mode tcp proxy with HAProxy warnings', () => {
    const { config, errors } = parse(`${HEAD}    mode tcp
backend b
    cookie SRV insert
    option forwardfor
    http-request set-header X y
    server s 10.0.0.1:80
`);
    expect(errors).toEqual([]);
    const b = config.backends[0]!;
    expect(b.cookie).toBeUndefined();
    expect(b.options.forwardfor).toBeUndefined();
    expect(b.httpRequest).toEqual([]);
    expect(config.warnings.map((w) => w.message)).toEqual([
      "'http-request' rules ignored for backend 'b' as they require HTTP mode.",
      "'option forwardfor' ignored for backend 'b' as it requires HTTP mode.",
      "cookie will be ignored for backend 'b' (needs 'mode http').",
    ]);
  });

  it('warns when a keyword does not apply to the proxy type, and keeps going', () => {
    const { config, errors } = parse(`${HEAD}frontend f
    bind :80
    timeout server 3s
    balance source
    default_backend b
backend b
    default_backend f
`);
    expect(errors).toEqual([]);
    expect(config.warnings.map((w) => `${w.where.line}: ${w.message}`)).toEqual([
      "8: 'timeout server' will be ignored because frontend 'f' has no backend capability",
      "9: 'balance' ignored because frontend 'f' has no backend capability.",
      "12: 'default_backend' ignored because backend 'b' has no frontend capability.",
    ]);
  });

  it('reads every server option Octavia renders', () => {
    const { config, errors } = parse(`${HEAD}backend b
    server s1 10.0.0.1:443 weight 7 check check-ssl verify none check-alpn h2 inter 2s fastinter 500ms downinter 1m fall 4 rise 6 addr 10.0.1.1 port 8443 cookie c1 send-proxy-v2-ssl-cn backup disabled ssl crt /c.pem ca-file /ca.pem crl-file /crl.pem verify required sni ssl_fc_sni ciphers HIGH ciphersuites TLS_AES_128_GCM_SHA256 no-sslv3 no-tlsv10 no-tlsv11 alpn h2,http/1.1 id 9
    server s2 [fd00::2]:80 ssl-min-ver TLSv1.2 ssl verify none
`);
    expect(errors).toEqual([]);
    const [s1, s2] = config.backends[0]!.servers;
    expect(s1).toMatchObject({
      weight: 7,
      backup: true,
      disabled: true,
      cookie: 'c1',
      sendProxy: 'v2-ssl-cn',
      id: 9,
      check: { enabled: true, ssl: true, alpn: ['h2'], inter: 2000, fastinter: 500, downinter: 60000, fall: 4, rise: 6, addr: '10.0.1.1', port: 8443 },
      ssl: {
        crt: '/c.pem',
        caFile: '/ca.pem',
        crlFile: '/crl.pem',
        verify: 'required',
        ciphers: 'HIGH',
        ciphersuites: 'TLS_AES_128_GCM_SHA256',
        disabledVersions: ['SSLv3', 'TLSv1', 'TLSv1.1'],
        alpn: ['h2', 'http/1.1'],
      },
    });
    // Ids count on after an explicit one, like HAProxy's.
    expect(s2).toMatchObject({ address: 'fd00::2', port: 80, id: 2, ssl: { disabledVersions: ['SSLv3', 'TLSv1', 'TLSv1.1'] } });
  });

  it('keeps userlists by name and rejects unknown keywords in them', () => {
    const { config, errors } = parse(`userlist admins\n    group ops users alice\n    user alice password $6$abc groups ops\n    role x\n`);
    expect(config.userlists).toEqual([{ name: 'admins', where: { file: 'test.cfg', line: 1 } }]);
    expect(errors.map((e) => e.message)).toEqual(["unknown keyword 'role' in 'userlist' section"]);
  });

  it('reads several files as one configuration', () => {
    const r = parseConfig([
      { path: 'a.cfg', text: `global\n    user nobody\n${HEAD}frontend f\n    bind :80\n    default_backend b\n` },
      { path: 'b.cfg', text: 'global\n    group nogroup\nbackend b\n    server s 127.0.0.1:80\n' },
    ]);
    expect(r.errors).toEqual([]);
    expect(r.config.global).toMatchObject({ user: 'nobody', group: 'nogroup' });
    expect(r.config.backends[0]!.mode).toBe('http');
  });
});
