// Each kind of check against real loopback members: the bytes an HTTP check puts on the wire,
// `http-check expect`, TLS checks, external commands with HAProxy's arguments and environment,
// and the status HAProxy reports for each way a member can fail.

import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HttpCheckRequest } from '../../proxy-core/config/model.ts';
import type { MemberPlan, Plan } from '../../proxy-core/compile/plan.ts';
import { HealthChecker, type MemberHealth } from '../../proxy-core/health/checker.ts';
import { checkRequest } from '../../proxy-core/health/http.ts';
import { httpSpec } from '../../proxy-core/health/spec.ts';
import { G } from '../../proxy-core/runtime/counters.ts';
import { serverStatus } from '../../proxy-core/stats/show-stat.ts';
import { buildConfig, buildPlan, type LbSpec } from '../stats/fixture.ts';
import { closedPort, httpMember, replyMember, selfSigned, tcpMember, waitFor, type Member } from './members.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

let dir = '';
let cert: { key: Buffer; cert: Buffer };
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'health-probes-'));
  cert = selfSigned();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function member(make: () => Promise<Member>): Promise<Member> {
  const m = await make();
  cleanup.push(() => m.close());
  return m;
}

function run(spec: LbSpec): { plan: Plan; checker: HealthChecker; m: (be: string, name: string) => MemberPlan } {
  const { plan } = buildPlan(buildConfig(spec));
  const checker = new HealthChecker(plan);
  cleanup.push(() => checker.stop());
  checker.start();
  return { plan, checker, m: (be, name) => plan.backendsByName.get(be)!.members.find((x) => x.name === name)! };
}

/** Wait until `m` has had `n` checks; its health then. */
async function afterChecks(checker: HealthChecker, m: MemberPlan, n = 1): Promise<MemberHealth> {
  let count = 0;
  const previous = checker.onCheck;
  checker.onCheck = (x, h) => {
    previous?.(x, h);
    if (x === m) count++;
  };
  expect(await waitFor(() => count >= n)).toBe(true);
  return checker.status(m);
}

/** As in HAProxy, connect and TLS handshake must fit in min(timeout connect, inter): a roomy
 *  `inter`, with quick `fastinter`/`downinter` so the test still sees several checks. */
const TLS_CHECK = { inter: 2000, fastinter: 50, downinter: 50, ssl: true };
/** `timeout check` for checks that must pass or fail on their merits: the members share this
 *  process, and without it the whole check (reply included) must fit in `inter`. */
const ROOMY = { check: 2000 };

const httpchk = (method: string, uri: string, version: string, headers: [string, string][] = []): HttpCheckRequest => ({ method, uri, version, headers });
const respond = (code: number, reason: string, body = '') => `HTTP/1.1 ${code} ${reason}\r\ncontent-length: ${body.length}\r\n\r\n${body}`;

describe('HTTP check request', () => {
  it("Octavia 11's `HTTP/1.1\\r\\nHost:\\ x` version hack sends a Host header (and HAProxy's connection: close)", async () => {
    const got = await member(() => httpMember(() => respond(200, 'OK')));
    const expected = 'GET /health HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n';
    // However the parser hands the version word over: unescaped CR LF, or the literal spelling.
    for (const version of ['HTTP/1.1\r\nHost: example.com', 'HTTP/1.1\\r\\nHost:\\ example.com']) {
      const before = got.connections;
      const { checker, m } = run({
        sections: [{ kind: 'backend', name: 'be', mode: 'http', timeouts: ROOMY, options: { httpchk: httpchk('GET', '/health', version) }, servers: [{ name: 's', port: got.port, check: { inter: 50 } }] }],
      });
      const h = await afterChecks(checker, m('be', 's'));
      checker.stop();
      expect([h.checkStatus, h.checkCode]).toEqual(['L7OK', 200]);
      expect(got.requests[before]!.toString('latin1')).toBe(expected);
    }
  });

  it('master-style `http-check send hdr` and the bare `option httpchk` default', () => {
    const be = buildConfig({
      sections: [{ kind: 'backend', name: 'b', servers: [], options: { httpchk: httpchk('GET', '/p', 'HTTP/1.1') }, send: [['hdr', 'Host', 'example.org', 'hdr', 'X-A', 'b']] }],
    }).backends[0]!;
    expect(checkRequest(httpSpec(be, be.options.httpchk as HttpCheckRequest)).toString()).toBe(
      'GET /p HTTP/1.1\r\nhost: example.org\r\nx-a: b\r\nconnection: close\r\n\r\n',
    );
    const bare = { ...be, httpCheckSend: [] };
    // `HTTP/1.0` with a hidden header: no connection header is added (HAProxy 2.6 does the same).
    expect(checkRequest(httpSpec(bare, httpchk('HEAD', '/q', 'HTTP/1.0\r\nHost: foo'))).toString()).toBe('HEAD /q HTTP/1.0\r\nhost: foo\r\n\r\n');
    expect(checkRequest(httpSpec(bare, httpchk('', '', ''))).toString()).toBe('OPTIONS / HTTP/1.0\r\n\r\n');
  });
});

describe('http-check expect', () => {
  it('`rstatus` decides the verdict: a non-matching status is L7STS with its code and reason, then UP once it matches', async () => {
    let answer = respond(503, 'Service Unavailable');
    const web = await member(() => httpMember(() => answer));
    const { plan, checker, m } = run({
      sections: [
        {
          kind: 'backend',
          name: 'be',
          mode: 'http',
          timeouts: ROOMY,
          options: { httpchk: httpchk('GET', '/', 'HTTP/1.0') },
          expect: { kind: 'rstatus', negate: false, pattern: '^(200|202)$' },
          servers: [{ name: 's', port: web.port, check: { inter: 50, rise: 2 } }],
        },
      ],
    });
    const s = m('be', 's');
    let h = await afterChecks(checker, s);
    expect([h.checkStatus, h.checkCode, h.info, h.desc]).toEqual(['L7STS', 503, 'Service Unavailable', 'Layer7 wrong status']);
    expect(serverStatus(s, plan.counters.gauge(s.slot, G.state), h)).toBe('DOWN');

    // 302 passes HAProxy's default expectation, not this one.
    answer = respond(302, 'Found');
    h = await afterChecks(checker, s);
    expect([h.checkStatus, h.checkCode]).toEqual(['L7STS', 302]);

    answer = respond(202, 'Accepted');
    expect(await waitFor(() => checker.status(s).running)).toBe(true);
    h = checker.status(s);
    expect([h.checkStatus, h.checkCode, h.info]).toEqual(['L7OK', 202, '']);
  });

  it('default expectation (2xx/3xx), negated `status` lists, `string` and `! string` on the body', async () => {
    const ok = await member(() => httpMember(() => respond(200, 'OK', 'all good here')));
    const notFound = await member(() => httpMember(() => respond(404, 'Not Found', 'nope')));
    const chk = { httpchk: httpchk('GET', '/', 'HTTP/1.0') };
    const servers = [
      { name: 'ok', port: ok.port, check: { inter: 50 } },
      { name: 'nf', port: notFound.port, check: { inter: 50 } },
    ];
    const { checker, m } = run({
      sections: [
        { kind: 'backend', name: 'dflt', mode: 'http', timeouts: ROOMY, options: chk, servers },
        { kind: 'backend', name: 'notlist', mode: 'http', timeouts: ROOMY, options: chk, expect: { kind: 'status', negate: true, pattern: '400-499,500' }, servers },
        { kind: 'backend', name: 'str', mode: 'http', timeouts: ROOMY, options: chk, expect: { kind: 'string', negate: false, pattern: 'good' }, servers },
        { kind: 'backend', name: 'nostr', mode: 'http', timeouts: ROOMY, options: chk, expect: { kind: 'string', negate: true, pattern: 'nope' }, servers },
      ],
    });
    const verdict = async (be: string, s: string) => {
      const h = await afterChecks(checker, m(be, s));
      return [h.checkStatus, h.checkCode, h.info];
    };
    expect(await verdict('dflt', 'ok')).toEqual(['L7OK', 200, '']);
    expect(await verdict('dflt', 'nf')).toEqual(['L7STS', 404, 'Not Found']);
    expect(await verdict('notlist', 'ok')).toEqual(['L7OK', 200, '']);
    expect(await verdict('notlist', 'nf')).toEqual(['L7STS', 404, 'Not Found']);
    expect(await verdict('str', 'ok')).toEqual(['L7OK', 200, '']);
    expect(await verdict('str', 'nf')).toEqual(['L7RSP', undefined, 'HTTP content check did not match']);
    expect(await verdict('nostr', 'ok')).toEqual(['L7OK', 200, '']);
    expect(await verdict('nostr', 'nf')).toEqual(['L7RSP', undefined, 'HTTP check matched unwanted content']);
  });
});

describe('failure statuses', () => {
  it('reports L4CON, L7TOUT (timeout check), L7RSP (not HTTP) and L7STS as HAProxy does', async () => {
    const silent = await member(() => tcpMember());
    const garbage = await member(() => httpMember(() => 'hello world\r\n'));
    const closed = await closedPort();
    const { checker, m } = run({
      sections: [
        {
          kind: 'backend',
          name: 'be',
          mode: 'http',
          timeouts: { check: 200 },
          options: { httpchk: httpchk('GET', '/', 'HTTP/1.0') },
          servers: [
            { name: 'closed', port: closed, check: { inter: 50 } },
            { name: 'silent', port: silent.port, check: { inter: 50 } },
            { name: 'garbage', port: garbage.port, check: { inter: 50 } },
          ],
        },
      ],
    });
    const closedH = await afterChecks(checker, m('be', 'closed'));
    expect([closedH.checkStatus, closedH.info, closedH.desc]).toEqual(['L4CON', 'Connection refused', 'Layer4 connection problem']);
    const silentH = await afterChecks(checker, m('be', 'silent'));
    expect([silentH.checkStatus, silentH.desc]).toEqual(['L7TOUT', 'Layer7 timeout']);
    expect(silentH.checkDuration).toBeGreaterThanOrEqual(190);
    const garbageH = await afterChecks(checker, m('be', 'garbage'));
    expect([garbageH.checkStatus, garbageH.desc]).toEqual(['L7RSP', 'Layer7 invalid response']);
  });
});

describe('TLS checks', () => {
  it('check-ssl completes a handshake without verifying (L6OK) and times out on a plain member (L6TOUT)', async () => {
    const secure = await member(() => httpMember(() => respond(200, 'OK'), 0, cert));
    const plain = await member(() => httpMember(() => respond(200, 'OK')));
    const { checker, m } = run({
      sections: [
        {
          kind: 'backend',
          name: 'tls',
          timeouts: { check: 300 },
          servers: [
            { name: 'secure', port: secure.port, check: TLS_CHECK },
            { name: 'plain', port: plain.port, check: { inter: 300, ssl: true } },
          ],
        },
        {
          kind: 'backend',
          name: 'https',
          mode: 'http',
          timeouts: { check: 2000 },
          options: { httpchk: httpchk('GET', '/tls', 'HTTP/1.0') },
          servers: [{ name: 'secure', port: secure.port, check: TLS_CHECK }],
        },
        {
          kind: 'backend',
          name: 'hello',
          timeouts: { check: 300 },
          options: { sslHelloChk: true },
          servers: [
            { name: 'secure', port: secure.port, check: { inter: 50 } },
            { name: 'plain', port: plain.port, check: { inter: 50 } },
          ],
        },
      ],
    });
    expect((await afterChecks(checker, m('tls', 'secure'))).checkStatus).toBe('L6OK');
    // The plain member waits for an HTTP head that never comes: the handshake times out.
    expect((await afterChecks(checker, m('tls', 'plain'))).checkStatus).toBe('L6TOUT');
    const https = await afterChecks(checker, m('https', 'secure'));
    expect([https.checkStatus, https.checkCode]).toEqual(['L7OK', 200]);
    expect(secure.requests.some((r) => r.toString().startsWith('GET /tls HTTP/1.0\r\n'))).toBe(true);
    expect((await afterChecks(checker, m('hello', 'secure'))).checkStatus).toBe('L6OK');
    expect((await afterChecks(checker, m('hello', 'plain'))).checkStatus).toBe('L6TOUT');
  });

  it('a member answering the handshake with something else than TLS is L6RSP', async () => {
    const rude = await member(() => replyMember('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const { checker, m } = run({
      sections: [
        { kind: 'backend', name: 'b', timeouts: { check: 500 }, servers: [{ name: 's', port: rude.port, check: TLS_CHECK }] },
        { kind: 'backend', name: 'h', timeouts: { check: 500 }, options: { sslHelloChk: true }, servers: [{ name: 's', port: rude.port, check: { inter: 50 } }] },
      ],
    });
    const h = await afterChecks(checker, m('b', 's'));
    expect([h.checkStatus, h.info, h.desc]).toEqual(['L6RSP', 'SSL handshake failure', 'Layer6 invalid response']);
    expect((await afterChecks(checker, m('h', 's'))).checkStatus).toBe('L6RSP');
  });
});

describe('external checks', () => {
  function script(name: string, body: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  it("runs the command with HAProxy's arguments and only HAProxy's environment; exit 0 is PROCOK", async () => {
    const out = join(dir, 'seen');
    const cmd = script('record.sh', `printf '%s\\n' "$@" > ${out}.args\n/usr/bin/env > ${out}.env\nexit 0`);
    const port = 4242;
    const { plan, checker, m } = run({
      sections: [
        {
          kind: 'backend',
          name: 'pool:listener',
          mode: 'tcp',
          options: { externalCheck: true },
          externalCommand: cmd,
          externalPath: '/usr/bin:/bin',
          servers: [{ name: 'member-1', port, maxconn: 33, id: 12, check: { inter: 100, addr: '127.0.0.9', port: 9 } }],
        },
      ],
    });
    const s = m('pool:listener', 'member-1');
    plan.counters.setGauge(s.slot, G.scur, 5);
    const h = await afterChecks(checker, s);
    expect([h.checkStatus, h.checkCode, h.desc]).toEqual(['PROCOK', 0, 'External check passed']);
    // A backend has no listener: NOT_USED twice, then the server's own address (not `addr`).
    expect(readFileSync(`${out}.args`, 'utf8')).toBe(`NOT_USED\nNOT_USED\n127.0.0.1\n${port}\n`);
    const env = Object.fromEntries(
      readFileSync(`${out}.env`, 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    // The shell adds PWD (and may add SHLVL, _); nothing else of ours leaks in.
    for (const k of ['PWD', 'SHLVL', '_', 'OLDPWD']) delete env[k];
    expect(env).toEqual({
      HAPROXY_PROXY_ADDR: '',
      HAPROXY_PROXY_ID: '2',
      HAPROXY_PROXY_NAME: 'pool:listener',
      HAPROXY_PROXY_PORT: '',
      HAPROXY_SERVER_ADDR: '127.0.0.1',
      HAPROXY_SERVER_CURCONN: '5',
      HAPROXY_SERVER_ID: '12',
      HAPROXY_SERVER_MAXCONN: '33',
      HAPROXY_SERVER_NAME: 'member-1',
      HAPROXY_SERVER_PORT: String(port),
      HAPROXY_SERVER_SSL: '0',
      HAPROXY_SERVER_PROTO: 'tcp',
      PATH: '/usr/bin:/bin',
    });
  });

  it("gives a `listen` section's first bind as arguments 1 and 2", async () => {
    const out = join(dir, 'listen');
    const cmd = script('listen.sh', `printf '%s\\n' "$@" > ${out}.args\n/usr/bin/env > ${out}.env`);
    const { checker, m } = run({
      sections: [
        {
          kind: 'listen',
          name: 'li',
          mode: 'http',
          binds: [
            ['::1', 18095],
            ['127.0.0.1', 18096],
          ],
          options: { externalCheck: true },
          externalCommand: cmd,
          servers: [{ name: 'l1', port: 8080, check: { inter: 100 } }],
        },
      ],
    });
    await afterChecks(checker, m('li', 'l1'));
    expect(readFileSync(`${out}.args`, 'utf8')).toBe('::1\n18095\n127.0.0.1\n8080\n');
    const env = readFileSync(`${out}.env`, 'utf8');
    expect(env).toContain('HAPROXY_PROXY_ADDR=::1\n');
    expect(env).toContain('HAPROXY_PROXY_PORT=18095\n');
    expect(env).toContain('HAPROXY_SERVER_PROTO=h1\n');
    expect(env).toMatch(/^PATH=$/m);
  });

  it('a non-zero exit is PROCERR with the exit status; a missing command is PROCERR 255', async () => {
    const fail = script('fail.sh', 'exit 3');
    const { checker, m } = run({
      sections: [
        { kind: 'backend', name: 'f', options: { externalCheck: true }, externalCommand: fail, servers: [{ name: 's', port: 1, check: { inter: 100 } }] },
        { kind: 'backend', name: 'x', options: { externalCheck: true }, externalCommand: join(dir, 'missing.sh'), servers: [{ name: 's', port: 1, check: { inter: 100 } }] },
      ],
    });
    const f = await afterChecks(checker, m('f', 's'));
    expect([f.checkStatus, f.checkCode, f.running]).toEqual(['PROCERR', 3, false]);
    const x = await afterChecks(checker, m('x', 's'));
    expect([x.checkStatus, x.checkCode]).toEqual(['PROCERR', 255]);
  });

  it('past the check timeout the command and its children are killed (PROCTOUT)', async () => {
    const pidFile = join(dir, 'child.pid');
    const slow = script('slow.sh', `/bin/sleep 30 &\necho $! > ${pidFile}\nwait`);
    const { checker, m } = run({
      sections: [{ kind: 'backend', name: 'slow', timeouts: { check: 300 }, options: { externalCheck: true }, externalCommand: slow, servers: [{ name: 's', port: 1, check: { inter: 100 } }] }],
    });
    const h = await afterChecks(checker, m('slow', 's'));
    expect([h.checkStatus, h.checkCode, h.desc]).toEqual(['PROCTOUT', 0, 'External check timeout']);
    expect(h.checkDuration).toBeGreaterThanOrEqual(290);
    checker.stop();
    await checker.settled();
    expect(existsSync(pidFile)).toBe(true);
    const child = Number(readFileSync(pidFile, 'utf8'));
    const alive = () => {
      try {
        process.kill(child, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(await waitFor(() => !alive(), 3000)).toBe(true);
  });
});
