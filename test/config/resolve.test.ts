// Server host names are resolved when a config is loaded, and a name that does not resolve
// makes the config invalid (HAProxy's default `init-addr libc`).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatMessage, loadAndResolve } from '../../proxy-core/config/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'config-resolve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(text: string): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.cfg`);
  writeFileSync(path, text);
  return path;
}

const cfg = (servers: string) => `defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend f
    bind 127.0.0.1:8080
    default_backend b
backend b
${servers}`;

describe('server host names', () => {
  it('are replaced by their address through the system resolver (/etc/hosts), the name kept', async () => {
    const r = await loadAndResolve([file(cfg('    server s localhost:8081 check addr localhost port 9000\n    server t 127.0.0.9:80\n'))]);
    expect(r.errors).toEqual([]);
    const [s, t] = r.config!.backends[0]!.servers;
    expect(isIP(s!.address)).not.toBe(0);
    expect(['127.0.0.1', '::1']).toContain(s!.address);
    expect(s!.fqdn).toBe('localhost');
    expect(s!.check.addr).toBe(s!.address);
    expect(t!.address).toBe('127.0.0.9');
    expect(t!.fqdn).toBeUndefined();
  });

  it('that do not resolve make the config invalid, one error per server line', async () => {
    const path = file(cfg('    server a app.example.test:80\n    server b 127.0.0.2:80\n    server c app.example.test:81\n'));
    const asked: string[] = [];
    const r = await loadAndResolve([path], {
      lookup: (host) => {
        asked.push(host);
        return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
      },
    });
    expect(r.config).toBeUndefined();
    expect(r.errors.map((e) => formatMessage('ALERT', e))).toEqual([
      `[ALERT] ${path}:10 : 'server b/a' : could not resolve address 'app.example.test' (no such host)`,
      `[ALERT] ${path}:12 : 'server b/c' : could not resolve address 'app.example.test' (no such host)`,
    ]);
    // The same name is asked once.
    expect(asked).toEqual(['app.example.test']);
  });
});
