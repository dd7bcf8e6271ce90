// Differential tests against real HAProxy 2.6 (/usr/sbin/haproxy): small configs, each
// either accepted or refused by both parsers. Skipped where HAProxy is not installed.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../proxy-core/config/parse.ts';
import { HAPROXY, haveHaproxy } from './haproxy-check.ts';

let root = '';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'config-verdicts-'));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Small configs and the verdict both parsers must reach. */
const HEAD = `defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
`;
const FE = `${HEAD}frontend f
    bind 127.0.0.1:18080
`;

const ACCEPTED: Record<string, string> = {
  'hash-type with each function and avalanche': `${HEAD}backend a
    balance source
    hash-type consistent sdbm avalanche
    server a 127.0.0.1:80
backend b
    balance source
    hash-type map-based djb2
    server a 127.0.0.1:80
backend c
    balance source
    hash-type consistent wt6 avalanche
    server a 127.0.0.1:80
backend d
    balance source
    hash-type map-based crc32
    server a 127.0.0.1:80
`,
  'listen with IPv6 v4v6 bind, static-rr, hash-type, server-close': `${HEAD}listen l
    bind :::18080 v4v6
    balance static-rr
    hash-type consistent
    option http-server-close
    server a 127.0.0.1:8080 check
`,
  'named defaults and from': `defaults web
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
defaults
    mode tcp
frontend f from web
    bind 127.0.0.1:18080
    default_backend b
backend b from web
    server s 127.0.0.1:80
`,
  'default-server, tcp servers without port, backups': `${HEAD}    default-server inter 3s fall 2 rise 3
backend b
    mode tcp
    server a 127.0.0.1
    server b 127.0.0.1 backup disabled
    server c 127.0.0.1:81 check
`,
  'conditions with anonymous, predefined and OR-ed ACLs': `${FE}    acl a path_beg /a
    acl a path_beg /b
    acl h hdr(host) -i example.com
    http-request deny deny_status 429 if a !h || { src 10.0.0.0/8 } METH_POST
    http-request add-header X-A b
    http-request del-header X-B
    http-request redirect scheme https code 308 drop-query if !{ ssl_fc }
    http-response set-header X-C "%[res.hdr(server),lower] %ci:%cp"
    redirect location /new code 301 if { path /old }
`,
  'health checks: httpchk with headers, http-check send and expect': `${HEAD}backend b
    option httpchk GET /h HTTP/1.1\\r\\nHost:\\ example.com
    http-check expect rstatus 200|204
backend c
    option httpchk
    http-check send meth HEAD uri /x ver HTTP/1.1 hdr Host example.com
    http-check expect ! status 500
backend d
    option ssl-hello-chk
    server s 127.0.0.1:443 check
`,
  'global tuning an operator adds': `global
    daemon
    maxconn 1000
    nbthread 2
    cpu-map auto:1/1-2 0-1
    tune.ssl.cachesize 20000
    tune.bufsize 32768
    stats socket /tmp/proxy-core-never.sock mode 600 level admin
    stats timeout 30s
    hard-stop-after 1m
    spread-checks 5
    log 127.0.0.1:514 len 1024 format rfc5424 local0 info
${FE}`,
  'userlist and peers sections': `userlist admins
    group ops users alice
    user alice insecure-password secret groups ops
peers p
    peer here 127.0.0.1:11025
    peer there 127.0.0.2:11025
${HEAD}backend b
    stick-table type string len 32 size 100k expire 30m peers p
    stick on req.cook(SID)
    server s 127.0.0.1:80
`,
  'IPv6 servers, cookie persistence, forwardfor except': `${HEAD}backend b
    cookie SRV insert indirect nocache httponly secure domain .example.com maxidle 30m
    option forwardfor except 127.0.0.0/8 header X-Client if-none
    server s [::1]:80 cookie s1
    server t ::1:81 cookie s2
`,
  'HTTP-only settings in a tcp backend (warnings only)': `${HEAD}backend b
    mode tcp
    cookie SRV insert
    option forwardfor
    http-request set-header X y
    server s 127.0.0.1:80
`,
  'keyword on the wrong side of a proxy (warnings only)': `${FE}    timeout server 1s
    balance source
`,
  'quoting, escapes and environment variables': `${FE}    http-request set-header X-A "a b\\"c"
    http-request set-header X-B 'single $HOME'
    http-request set-header X-C a\\ b\\#c
    acl p path_reg ^/a\\d+$
    http-request deny if p
`,
  'integer patterns: operators, ranges, dotted versions': `${FE}    acl a req_ssl_ver 3:3.1
    acl b dst_port 80 443 8000:8100
    acl c req.hdr_cnt(host) eq 1
    acl d path_len gt 100
    acl e src 10.0.0.1 192.168.0.0/255.255.0.0 ::1 fd00::/8
`,
  'every cookie mode': `${HEAD}backend a\n    cookie S prefix\nbackend b\n    cookie S rewrite postonly\nbackend c\n    cookie S\n`,
  'log-format with data that lasts until the log line': `${FE}    log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %{+Q}r %[capture.req.uri] %[status]"
`,
  'ssl server with verify none, check-ssl with ca': `${HEAD}backend b
    server s 127.0.0.1:443 ssl verify none sni ssl_fc_sni alpn h2,http/1.1 no-sslv3
    server t 127.0.0.1:443 check check-ssl verify none
`,
};

const REFUSED: Record<string, string> = {
  'hash-type modifier without a function': `${HEAD}backend b
    balance source
    hash-type consistent avalanche
    server a 127.0.0.1:80
`,
  "hash-type function 'none' (after 2.6)": `${HEAD}backend b
    balance source
    hash-type map-based none
    server a 127.0.0.1:80
`,
  'unknown keyword': `${FE}    frobnicate 1\n`,
  'decimal duration': `${FE}    timeout client 1.5s\n`,
  'use_backend to a missing backend': `${FE}    use_backend nope\n`,
  'default_backend to a missing backend': `${FE}    default_backend nope\n`,
  'unterminated quote': `${FE}    http-request set-header X "abc\n`,
  'condition naming an undeclared ACL': `${FE}    http-request deny if nope\n`,
  'http frontend to tcp backend': `${FE}    default_backend b\nbackend b\n    mode tcp\n`,
  'duplicate server name': `${HEAD}backend b\n    server s 127.0.0.1:80\n    server s 127.0.0.1:81\n`,
  'checked server without any port': `${HEAD}backend b\n    server s 127.0.0.1 check\n`,
  'tls server without CA': `${HEAD}backend b\n    server s 127.0.0.1:443 ssl\n`,
  'unknown balance algorithm': `${HEAD}backend b\n    balance bogus\n`,
  'unknown option': `${FE}    option nope\n`,
  'negated option that cannot be negated': `${HEAD}backend b\n    no option httpchk\n`,
  'stick rule without a table': `${HEAD}backend b\n    stick on src\n`,
  'mode health': `${FE}    mode health\n`,
  'unknown fetch in an ACL': `${FE}    acl a pth /x\n`,
  'unknown log-format variable': `${FE}    log-format %zz\n`,
  'bind without a port': `${HEAD}frontend f\n    bind 127.0.0.1\n`,
  'duplicate backend': `${HEAD}backend b\nbackend b\n`,
  'external check without global external-check': `${HEAD}backend b\n    option external-check\n    external-check command /bin/true\n`,
  'unknown ACL flag': `${FE}    acl a path -x /x\n`,
  'unsupported redirect code': `${FE}    redirect location /x code 305\n`,
  'weight above 256': `${HEAD}backend b\n    server s 127.0.0.1:80 weight 300\n`,
  'server port out of range': `${HEAD}backend b\n    server s 127.0.0.1:70000\n`,
  'keyword out of any section': `    daemon\n`,
  'stick table naming unknown peers': `${HEAD}backend b\n    stick-table type ip size 1k peers nope\n`,
  'unknown global keyword': `global\n    daemonize\n`,
  'unknown converter': `${FE}    acl a req.hdr(host),nope x\n`,
  'bad integer pattern': `${FE}    acl a dst_port eighty\n`,
  'request header read in a response rule': `${FE}    http-response set-header X %[req.hdr(host)]\n`,
  'response header read in a request rule': `${FE}    http-request set-header X %[res.hdr(server)]\n`,
  // Octavia 11 renders an IPv6 monitor_address this way; HAProxy reads '111' as a port.
  'negated tcpka': `${FE}    no option tcpka\n`,
  'request path in a log-format (gone at log time)': `${FE}    log-format %[path]\n`,
  'bare IPv6 check address': `${HEAD}backend b\n    server s 10.0.0.1:80 check addr fd00:2::111\n`,
  'stick store-response on a request cookie': `${HEAD}backend b\n    stick-table type string len 32 size 1k\n    stick store-response req.cook(a)\n`,
};

async function haproxyVerdict(text: string, name: string): Promise<{ valid: boolean; output: string }> {
  const cfg = join(root, `${name.replace(/[^a-z0-9]+/gi, '-')}.cfg`);
  writeFileSync(cfg, text);
  return new Promise((resolve) => {
    const child = spawn(HAPROXY, ['-c', '-f', cfg, '-L', 'here']);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    // Exit 2 with "no error but will not start (no listener)" is a valid config too.
    child.on('close', (code) => resolve({ valid: code === 0 || output.includes('Configuration file has no error'), output }));
  });
}

describe.skipIf(!haveHaproxy)('small configs get the same verdict from HAProxy and from us', () => {
  it('accepts what HAProxy accepts', { timeout: 60_000 }, async () => {
    const results = await Promise.all(Object.entries(ACCEPTED).map(async ([name, text]) => ({ name, text, h: await haproxyVerdict(text, name) })));
    for (const { name, text, h } of results) {
      expect(h.valid, `${name}: HAProxy says\n${h.output}`).toBe(true);
      expect(parseConfig([{ path: 'x.cfg', text }], { env: {} }).errors, name).toEqual([]);
    }
  });

  it('refuses what HAProxy refuses', { timeout: 60_000 }, async () => {
    const results = await Promise.all(Object.entries(REFUSED).map(async ([name, text]) => ({ name, text, h: await haproxyVerdict(text, name) })));
    for (const { name, text, h } of results) {
      expect(h.valid, `${name}: HAProxy accepted it`).toBe(false);
      expect(parseConfig([{ path: 'x.cfg', text }], { env: {} }).errors.length, name).toBeGreaterThan(0);
    }
  });

  it('is stricter than HAProxy 2.6 only where 2.6 silently drops or guesses', { timeout: 60_000 }, async () => {
    const stricter: Record<string, string> = {
      // 2.6 stops reading the line at an empty word (later versions refuse it too).
      'empty word ends the line': `${HEAD}frontend f\n    bind 127.0.0.1:18080 "" v4v6\n`,
      // 2.6 warns and uses "10s"; later versions refuse trailing characters.
      'garbage after a duration unit': `${FE}    timeout client 10sec\n`,
      // 2.6 reads integers with atol(): 'x' is 0.
      'an integer that is not one': `${FE}    maxconn x\n`,
      // 2.6 ignores extra words after many keywords.
      'extra argument after an algorithm': `${HEAD}backend b\n    balance roundrobin extra\n`,
    };
    for (const [name, text] of Object.entries(stricter)) {
      const h = await haproxyVerdict(text, name);
      expect(h.valid, `${name}: HAProxy 2.6 accepts it`).toBe(true);
      expect(parseConfig([{ path: 'x.cfg', text }], { env: {} }).errors.length, name).toBeGreaterThan(0);
    }
  });
});

