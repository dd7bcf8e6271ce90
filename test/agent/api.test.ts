// Every API 1.0 endpoint's success and error paths, over real mutual TLS, with the real
// lifecycle and HAProxy's own validator (engine = haproxy, process service manager).

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.ts';
import type { AgentHandle } from '../../agent/main.ts';
import {
  AMP_ID,
  type AgentDir,
  freePort,
  LB_ID,
  LISTENER_ID,
  makeAgentDir,
  makePki,
  memberId,
  type Pki,
  renderLbConfig,
  request,
  startTestAgent,
} from './helpers.ts';

const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex');
const OTHER_LB = 'b2c3d4e5-0000-4000-8000-000000002b02';
const CERT_NAME = `${'ab12'.repeat(10)}.pem`;

let pki: Pki;
let dir: AgentDir;
let agent: AgentHandle;
let port: number;
let vipPort: number;
const call = (method: string, path: string, body?: string | Buffer) => request(port, pki, method, path, body);

beforeAll(async () => {
  pki = makePki();
  dir = makeAgentDir(pki);
  agent = await startTestAgent(dir);
  port = agent.address.port;
  vipPort = await freePort();
});

afterAll(async () => {
  for (const lb of agent.store.list()) await agent.lifecycle.remove(lb);
  await agent.close();
  dir.cleanup();
});

function validConfig(members = [9]): string {
  return renderLbConfig({ base: dir.base, vipPort, members: members.map((n) => ({ id: memberId(n), port: 1 + n })) });
}

describe('version discovery and system information', () => {
  it('GET / answers {"api_version":"1.0"} as JSON (trap 8.1: a 404 would mean the legacy 0.5 API)', async () => {
    const r = await call('GET', '/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('application/json');
    expect(r.text).toBe('{"api_version":"1.0"}');
    expect(r.headers.connection).toBe('close'); // one request per connection, like the reference agent
  });

  it('GET // (what the controller really requests: base URL "https://ip:port/" + path "/") answers like GET /', async () => {
    const r = await call('GET', '//');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ api_version: '1.0' });
    expect((await call('GET', '/1.0//info')).status).toBe(200);
  });

  it('GET /1.0/info and /1.0/details return the system source bodies as JSON (traps 8.6, 8.7)', async () => {
    const info = await call('GET', '/1.0/info');
    expect(info.status).toBe(200);
    expect(info.json()).toMatchObject({ api_version: '1.0', haproxy_version: '2.6.12' });
    const details = await call('GET', '/1.0/details');
    expect(details.status).toBe(200);
    expect(details.json()).toMatchObject({ active: true });
  });
});

describe('framework errors are JSON like werkzeug', () => {
  it('unknown path → 404 {"error", "http_code"} with a JSON content type (trap 8.2: a non-JSON 404 is retried for minutes)', async () => {
    const r = await call('GET', '/1.0/nothing/here');
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toContain('application/json');
    expect(r.json()).toEqual({ error: expect.stringMatching(/^404 Not Found: /), http_code: 404 });
  });

  it('a route with another method → 405 JSON with Allow (GET /listeners/<id> is the controller\'s dead get_listener_status)', async () => {
    const r = await call('GET', `/1.0/listeners/${LISTENER_ID}`);
    expect(r.status).toBe(405);
    expect(r.json()).toEqual({ error: expect.stringMatching(/^405 Method Not Allowed: /), http_code: 405 });
    expect(r.headers.allow).toContain('DELETE');
    const post = await call('POST', '/1.0/config', 'x');
    expect(post.status).toBe(405);
    expect(post.headers['content-type']).toContain('application/json');
  });

  it('paths are case-sensitive and trailing slashes are not folded', async () => {
    expect((await call('GET', '/1.0/INFO')).status).toBe(404);
    expect((await call('GET', '/1.0/info/')).status).toBe(404);
  });

  it('malformed percent-encoding in a path → 400 JSON', async () => {
    const r = await call('GET', `/1.0/loadbalancer/%E0%A4%A/haproxy`);
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toContain('application/json');
  });
});

describe('not implemented endpoints answer a JSON error, never a silent 2xx', () => {
  const cases: [string, string][] = [
    ['POST', '/1.0/plug/vip/10.0.0.100'],
    ['POST', '/1.0/plug/network'],
    ['PUT', '/1.0/vrrp/upload'],
    ['PUT', '/1.0/vrrp/start'],
    ['GET', '/1.0/interface/10.0.0.11'],
    ['PUT', '/1.0/interface/10.0.0.11/rules'],
    ['PUT', `/1.0/listeners/${AMP_ID}/${LISTENER_ID}/udp_listener`],
    ['GET', `/1.0/listeners/${LISTENER_ID}/udp_listener`],
  ];
  for (const [method, path] of cases) {
    it(`${method} ${path} → 500 "Not implemented" (traps 8.3/8.4: an error the controller raises at once, never a 2xx nor the retried 404)`, async () => {
      const r = await call(method, path, method === 'GET' ? undefined : '{"mac_address": "fa:16:3e:00:00:01"}');
      expect(r.status).toBe(500);
      expect(r.headers['content-type']).toContain('application/json');
      expect(r.json()).toEqual({ message: 'Not implemented', details: expect.stringContaining('not implemented') });
      expect(r.text).not.toContain('No suitable network interface found');
    });
  }
});

describe('PUT /1.0/loadbalancer/<amp_id>/<lb_id>/haproxy', () => {
  it('stores a valid config: 202 {"message":"OK"} with ETag = md5 of the body, and starts nothing (traps 8.3, 8.9)', async () => {
    const cfg = validConfig();
    const r = await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, cfg);
    expect(r.status).toBe(202);
    expect(r.json()).toEqual({ message: 'OK' });
    expect(r.headers.etag).toBe(md5(cfg));
    const stored = join(dir.base, LB_ID, 'haproxy.cfg');
    expect(readFileSync(stored, 'utf8')).toBe(cfg);
    expect(statSync(stored).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir.base, LB_ID, 'haproxy.cfg.new'))).toBe(false);
    expect(agent.store.isRunning(LB_ID)).toBe(false);
    // the user-group file Octavia's image provides, passed as the second -f
    expect(readFileSync(join(dir.base, 'haproxy-default-user-group.conf'), 'utf8')).toBe('global\n    group nogroup\n    no strict-limits\n');
  });

  it('is idempotent: the same body again is 202 with the same ETag and the same stored bytes (trap 8.8: re-sent on read timeouts)', async () => {
    const cfg = validConfig();
    const a = await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, cfg);
    const b = await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, cfg);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.headers.etag).toBe(b.headers.etag);
    expect(readFileSync(join(dir.base, LB_ID, 'haproxy.cfg'), 'utf8')).toBe(cfg);
  });

  it('drops `group` lines of old controllers, as Octavia\'s agent does (the ETag stays the md5 of what was sent)', async () => {
    const cfg = validConfig().replace('    user nobody\n', '    user nobody\n    group haproxy\n');
    const r = await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, cfg);
    expect(r.status).toBe(202);
    expect(r.headers.etag).toBe(md5(cfg));
    expect(readFileSync(join(dir.base, LB_ID, 'haproxy.cfg'), 'utf8')).toBe(validConfig());
  });

  it('refuses an invalid config with 400 and the validator output in details; the stored config is untouched (trap 8.9)', async () => {
    const before = readFileSync(join(dir.base, LB_ID, 'haproxy.cfg'), 'utf8');
    const bad = `${validConfig()}\nbackend broken\n    balance nonsense\n`;
    const r = await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, bad);
    expect(r.status).toBe(400);
    const body = r.json();
    expect(body.message).toBe('Invalid request');
    expect(body.details).toMatch(/ALERT/);
    expect(body.details).toMatch(/broken|balance/);
    expect(readFileSync(join(dir.base, LB_ID, 'haproxy.cfg'), 'utf8')).toBe(before);
    expect(readFileSync(join(dir.base, LB_ID, 'haproxy.cfg.new-failed'), 'utf8')).toBe(bad);
    expect(existsSync(join(dir.base, LB_ID, 'haproxy.cfg.new'))).toBe(false);
  });

  it('validates with -L <peer name of the amp id>: a peers section naming another amphora as local fails', async () => {
    const peers = (local: string) =>
      `${validConfig()}\npeers lb_peers\n    peer ${local} 127.0.0.1:1025\n`;
    // h9VrZysCv0u5NLWyvFqoaxS-N1M is Octavia's peer name for AMP_ID (contract 2.4)
    const ok = await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${OTHER_LB}/haproxy`, peers('h9VrZysCv0u5NLWyvFqoaxS-N1M'));
    expect(ok.status).toBe(202);
    expect(agent.store.peer(OTHER_LB)).toBe('h9VrZysCv0u5NLWyvFqoaxS-N1M');
    await call('DELETE', `/1.0/listeners/${OTHER_LB}`);
  });

  it('refuses a body above the limit with a JSON 400 (413 would read as success to the controller)', async () => {
    const huge = Buffer.alloc(10 * 1024 * 1024 + 1, 0x23);
    const r = await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${OTHER_LB}/haproxy`, huge).catch((e) => e as Error);
    // Either the 400 arrives, or the server closed while the client was still sending.
    if (!(r instanceof Error)) {
      expect(r.status).toBe(400);
      expect(r.json().details).toContain('exceeds');
    }
    expect(existsSync(join(dir.base, OTHER_LB, 'haproxy.cfg'))).toBe(false);
  });

  it('rejects ids that are not UUIDs before touching the filesystem (traversal → JSON 400)', async () => {
    for (const bad of ['..', '..%2F..%2Fescape', 'x', `${LB_ID}%00`]) {
      const r = await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${bad}/haproxy`, validConfig());
      expect(r.status, bad).toBe(400);
      expect(r.json().message).toBe('Invalid Request');
    }
    const r = await call('PUT', `/1.0/loadbalancer/not-an-amp/${LB_ID}/haproxy`, validConfig());
    expect(r.status).toBe(400);
    expect(existsSync(join(dir.base, '..', 'escape'))).toBe(false);
    expect(readdirSync(dir.dir).sort()).toEqual(['amphora-agent.conf', 'client_ca.pem', 'octavia', 'server.pem']);
  });
});

describe('GET /1.0/loadbalancer/<lb_id>/haproxy', () => {
  it('returns the stored config as text/plain with ETag = md5 of it', async () => {
    const cfg = validConfig();
    await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, cfg);
    const r = await call('GET', `/1.0/loadbalancer/${LB_ID}/haproxy`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.text).toBe(cfg);
    expect(r.headers.etag).toBe(md5(cfg));
  });

  it('unknown LB → 404 "Loadbalancer Not Found" JSON', async () => {
    const r = await call('GET', `/1.0/loadbalancer/${OTHER_LB}/haproxy`);
    expect(r.status).toBe(404);
    expect(r.json()).toEqual({ message: 'Loadbalancer Not Found', details: `No loadbalancer with UUID: ${OTHER_LB}` });
  });
});

describe('GET /1.0/listeners', () => {
  it('lists every frontend of every stored config with status ACTIVE and its type', async () => {
    await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, validConfig());
    const r = await call('GET', '/1.0/listeners');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('application/json');
    expect(r.json()).toEqual([{ status: 'ACTIVE', uuid: LISTENER_ID, type: 'HTTP' }]);
  });
});

describe('PUT /1.0/loadbalancer/<id>/<action>', () => {
  it('unknown action → 400 "Invalid Request" / "Unknown action: <action>"', async () => {
    const r = await call('PUT', `/1.0/loadbalancer/${LB_ID}/explode`);
    expect(r.status).toBe(400);
    expect(r.json()).toEqual({ message: 'Invalid Request', details: 'Unknown action: explode' });
  });

  it('unknown LB → 404 "Loadbalancer Not Found"', async () => {
    const r = await call('PUT', `/1.0/loadbalancer/${OTHER_LB}/reload`);
    expect(r.status).toBe(404);
    expect(r.json().message).toBe('Loadbalancer Not Found');
  });

  it('reload of a stopped LB starts it (202, the start text); reload then answers "reloaded"; stop "stopped"', async () => {
    await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, validConfig());
    const first = await call('PUT', `/1.0/loadbalancer/${LB_ID}/RELOAD`);
    expect(first.status).toBe(202);
    expect(first.json()).toEqual({ message: 'OK', details: `Configuration file is valid\nhaproxy daemon for ${LB_ID} started` });
    expect(agent.store.isRunning(LB_ID)).toBe(true);
    const second = await call('PUT', `/1.0/loadbalancer/${LB_ID}/reload`);
    expect(second.status).toBe(202);
    expect(second.json()).toEqual({ message: 'OK', details: `Listener ${LB_ID} reloaded` });
    const start = await call('PUT', `/1.0/loadbalancer/${LB_ID}/start`);
    expect(start.status).toBe(202);
    const stop = await call('PUT', `/1.0/loadbalancer/${LB_ID}/stop`);
    expect(stop.status).toBe(202);
    expect(stop.json()).toEqual({ message: 'OK', details: `Listener ${LB_ID} stopped` });
    expect(agent.store.isRunning(LB_ID)).toBe(false);
  });

  it('a start that fails (port taken) → 500 "Error starting haproxy" with the engine output', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(vipPort, '127.0.0.1', () => r()));
    try {
      const r = await call('PUT', `/1.0/loadbalancer/${LB_ID}/start`);
      expect(r.status).toBe(500);
      expect(r.json().message).toBe('Error starting haproxy');
      expect(r.json().details).toMatch(/cannot bind|Address already in use/);
      expect(agent.store.isRunning(LB_ID)).toBe(false);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

describe('certificates: /1.0/loadbalancer/<lb_id>/certificates/<filename>', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  it('PUT stores the exact bytes (0600) before any config exists: 200 OK + ETag md5', async () => {
    const r = await call('PUT', `/1.0/loadbalancer/${OTHER_LB}/certificates/${CERT_NAME}`, pem);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ message: 'OK' });
    expect(r.headers.etag).toBe(md5(pem));
    const path = join(dir.certs, OTHER_LB, CERT_NAME);
    expect(readFileSync(path, 'utf8')).toBe(pem);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('GET answers {"md5sum"} of the exact stored bytes (trap 8.11: the controller skips the upload when it matches)', async () => {
    const crtList = `${dir.certs}/${OTHER_LB}/${CERT_NAME}\n`;
    await call('PUT', `/1.0/loadbalancer/${OTHER_LB}/certificates/${LISTENER_ID}.pem`, crtList);
    const r = await call('GET', `/1.0/loadbalancer/${OTHER_LB}/certificates/${LISTENER_ID}.pem`);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ md5sum: md5(crtList) });
    expect(r.headers.etag).toBe(md5(crtList));
    // bytes that are not valid UTF-8 keep their md5 too
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    await call('PUT', `/1.0/loadbalancer/${OTHER_LB}/certificates/${CERT_NAME}`, binary);
    expect((await call('GET', `/1.0/loadbalancer/${OTHER_LB}/certificates/${CERT_NAME}`)).json()).toEqual({ md5sum: md5(binary) });
  });

  it('GET of a missing file → 404 "Certificate Not Found"', async () => {
    const missing = `${'0'.repeat(40)}.pem`;
    const r = await call('GET', `/1.0/loadbalancer/${OTHER_LB}/certificates/${missing}`);
    expect(r.status).toBe(404);
    expect(r.json()).toEqual({ message: 'Certificate Not Found', details: `No certificate with filename: ${missing}` });
  });

  it('DELETE removes the file and is 200 even when nothing is there', async () => {
    expect((await call('DELETE', `/1.0/loadbalancer/${OTHER_LB}/certificates/${CERT_NAME}`)).status).toBe(200);
    expect(existsSync(join(dir.certs, OTHER_LB, CERT_NAME))).toBe(false);
    const again = await call('DELETE', `/1.0/loadbalancer/${OTHER_LB}/certificates/${CERT_NAME}`);
    expect(again.status).toBe(200);
    expect(again.json()).toEqual({ message: 'OK' });
  });

  it('filenames other than <uuid>.pem / <40 hex>.pem → 400 "Filename has wrong format", nothing written', async () => {
    for (const bad of ['..%2F..%2Fserver.pem', 'passwd', 'abc.pem', '..', `${LISTENER_ID}.pem.bak`, '%2Fetc%2Fpasswd.pem']) {
      for (const method of ['PUT', 'GET', 'DELETE']) {
        const r = await call(method, `/1.0/loadbalancer/${OTHER_LB}/certificates/${bad}`, method === 'PUT' ? pem : undefined);
        expect(r.status, `${method} ${bad}`).toBe(400);
        expect(r.json().message).toBe('Filename has wrong format');
      }
    }
    const r = await call('PUT', `/1.0/loadbalancer/..%2F..%2F/certificates/${CERT_NAME}`, pem);
    expect(r.status).toBe(400);
    expect(readFileSync(join(dir.dir, 'server.pem'), 'utf8')).toBe(pki.server.pem);
  });
});

describe('DELETE /1.0/listeners/<id>', () => {
  it('unknown id → 200 {"message":"OK"} (trap 8.10: deletes are idempotent)', async () => {
    const r = await call('DELETE', `/1.0/listeners/${'c3d4e5f6-0000-4000-8000-000000003c03'}`);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ message: 'OK' });
  });

  it('stops a running LB and removes its directory, stats socket and every certificate', async () => {
    await call('PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, validConfig());
    await call('PUT', `/1.0/loadbalancer/${LB_ID}/certificates/${CERT_NAME}`, 'x');
    expect((await call('PUT', `/1.0/loadbalancer/${LB_ID}/start`)).status).toBe(202);
    const pid = agent.store.pid(LB_ID)!;
    const r = await call('DELETE', `/1.0/listeners/${LB_ID}`);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ message: 'OK' });
    expect(existsSync(join(dir.base, LB_ID))).toBe(false);
    expect(existsSync(join(dir.certs, LB_ID))).toBe(false);
    expect(existsSync(join(dir.base, `${LB_ID}.sock`))).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await call('GET', `/1.0/loadbalancer/${LB_ID}/haproxy`)).status).toBe(404);
  });
});

describe('PUT /1.0/config', () => {
  it('writes the file (0600) and applies the four live options at once: 202 {"message":"OK"}', async () => {
    const text = readFileSync(dir.configFile, 'utf8')
      .replace('heartbeat_key = insecure', 'heartbeat_key = rotated')
      .replace('heartbeat_interval = 10', 'heartbeat_interval = 3')
      .replace('controller_ip_port_list = 127.0.0.1:5555', 'controller_ip_port_list = 127.0.0.1:5555, [::1]:5556')
      .replace('loadbalancer_topology = SINGLE', 'loadbalancer_topology = ACTIVE_STANDBY')
      .replace('bind_port = 0', 'bind_port = 9443');
    const r = await call('PUT', '/1.0/config', text);
    expect(r.status).toBe(202);
    expect(r.json()).toEqual({ message: 'OK' });
    expect(readFileSync(dir.configFile, 'utf8')).toBe(text);
    expect(statSync(dir.configFile).mode & 0o777).toBe(0o600);
    expect(agent.cfg.health_manager).toEqual({
      heartbeat_key: 'rotated',
      heartbeat_interval: 3,
      controller_ip_port_list: ['127.0.0.1:5555', '[::1]:5556'],
    });
    expect(agent.cfg.controller_worker.loadbalancer_topology).toBe('ACTIVE_STANDBY');
    // not live: takes effect after a restart only
    expect(agent.cfg.haproxy_amphora.bind_port).toBe(0);
  });

  it("keeps the file's [amphora_ts] section when the controller's text has none", async () => {
    // The controller renders the whole file from Octavia's template: no section of ours.
    const before = readFileSync(dir.configFile, 'utf8');
    const own = before.slice(before.indexOf('[amphora_ts]')).trimEnd();
    const controllers = before.slice(0, before.indexOf('[amphora_ts]')).replace('heartbeat_interval = 3', 'heartbeat_interval = 4');
    const r = await call('PUT', '/1.0/config', controllers);
    expect(r.status).toBe(202);
    const after = readFileSync(dir.configFile, 'utf8');
    expect(after.startsWith(controllers)).toBe(true);
    expect(after.trimEnd().endsWith(own)).toBe(true);
    expect(loadAgentConfig([dir.configFile]).amphora_ts).toMatchObject({ engine: 'haproxy', service_manager: 'process' });
  });

  it('a config the agent could not start with → 500 "Unable to update amphora-agent configuration.", file kept', async () => {
    const before = readFileSync(dir.configFile, 'utf8');
    const r = await call('PUT', '/1.0/config', `${before}\n[amphora_ts]\nengnie = haproxy\n`);
    expect(r.status).toBe(500);
    expect(r.json()).toEqual({ message: 'Unable to update amphora-agent configuration.', details: expect.stringContaining('engnie') });
    expect(readFileSync(dir.configFile, 'utf8')).toBe(before);
  });
});

describe('PUT /1.0/certificate', () => {
  it('refuses a PEM without a matching key with 400 and keeps serving the old certificate', async () => {
    const before = readFileSync(join(dir.dir, 'server.pem'), 'utf8');
    const r = await call('PUT', '/1.0/certificate', pki.server.certPem);
    expect(r.status).toBe(400);
    expect(r.json().message).toBe('Invalid request');
    expect(readFileSync(join(dir.dir, 'server.pem'), 'utf8')).toBe(before);
    expect((await call('GET', '/')).status).toBe(200);
  });
});

describe('ids in paths never escape the state directories', () => {
  it('an LB id that is not a UUID is refused for every LB endpoint', async () => {
    const ids = ['..', '...', '..%2F..', 'a%2Fb', 'A'.repeat(300)];
    for (const id of ids) {
      for (const [method, path] of [
        ['GET', `/1.0/loadbalancer/${id}/haproxy`],
        ['PUT', `/1.0/loadbalancer/${id}/reload`],
        ['DELETE', `/1.0/listeners/${id}`],
        ['GET', `/1.0/loadbalancer/${id}/certificates/${CERT_NAME}`],
      ] as const) {
        const r = await call(method, path);
        expect(r.status, `${method} ${path}`).toBe(400);
        expect(r.headers['content-type']).toContain('application/json');
      }
    }
  });

  it('nothing was created outside BASE and CERTS by any of the above', () => {
    writeFileSync(join(dir.dir, 'probe'), '');
    expect(readdirSync(dir.dir).sort()).toEqual(['amphora-agent.conf', 'client_ca.pem', 'octavia', 'probe', 'server.pem']);
  });
});
