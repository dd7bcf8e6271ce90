// Differential tests against real HAProxy 2.6 (/usr/sbin/haproxy): the Octavia fixtures are
// real configs HAProxy accepts, with the same rule-order warnings as ours; proxies and
// servers get the ids HAProxy's stats socket reports. Skipped where HAProxy is not installed.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../proxy-core/config/parse.ts';
import { HAPROXY, haproxyCheck, haveHaproxy, makeMaterial, prepareForHaproxy } from './haproxy-check.ts';

const HEAD = `defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
`;

const FIXTURES = join(import.meta.dirname, '../fixtures/octavia');
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Record<string, { localPeer: string | null }>;

let root = '';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'config-haproxy-'));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!haveHaproxy)('every Octavia fixture is a config real HAProxy accepts', () => {
  it('passes haproxy -c, with the same rule-order warnings as ours', { timeout: 60_000 }, () => {
    const material = makeMaterial(join(root, 'pki'));
    for (const [rel, meta] of Object.entries(manifest)) {
      const text = readFileSync(join(FIXTURES, rel), 'utf8');
      const cfg = prepareForHaproxy(text, root, material, rel.replace('/', '-'));
      const r = haproxyCheck(cfg, meta.localPeer ?? undefined);
      expect(r.output, rel).toContain('Configuration file is valid');
      expect(r.status, rel).toBe(0);

      // HAProxy's "placed after" warnings name the same lines as ours.
      const theirs = [...r.output.matchAll(/\.cfg:(\d+)\] : (a '[^']+' rule placed after .*)$/gm)].map((m) => `${m[1]}: ${m[2]}`);
      const ours = parseConfig([{ path: rel, text }])
        .config.warnings.filter((w) => w.message.includes('placed after'))
        .map((w) => `${w.where.line}: ${w.message}`);
      expect(ours, rel).toEqual(theirs);
    }
  });
});

/** Ask a stats socket `show stat` and return name,svname → [iid, sid]. */
function showStat(sock: string): Promise<Map<string, [number, number]>> {
  return new Promise((resolve, reject) => {
    const c = createConnection(sock);
    let data = '';
    c.on('data', (d) => (data += d));
    c.on('error', reject);
    c.on('end', () => {
      const out = new Map<string, [number, number]>();
      for (const line of data.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const f = line.split(',');
        out.set(`${f[0]}/${f[1]}`, [Number(f[27]), Number(f[28])]);
      }
      resolve(out);
    });
    c.write('show stat\n');
  });
}

describe.skipIf(!haveHaproxy)('proxy and server ids match what HAProxy reports', () => {
  it('numbers proxies and servers like HAProxy, explicit ids included', { timeout: 30_000 }, async () => {
    const sock = join(root, 'ids.sock');
    // No bind lines: nothing listens but the stats socket.
    const text = `global
    stats socket ${sock} mode 600 level admin
${HEAD}frontend f1
    default_backend b1
backend b1
    server s1 127.0.0.1:9 id 2
    server s2 127.0.0.1:10
    server s3 127.0.0.1:11
    server s4 127.0.0.1:11 id 1
listen l1
    id 3
    server x 127.0.0.1:9
backend b3
    server s1 127.0.0.1:9
backend b2
    id 5
    server s1 127.0.0.1:9
backend b4
    server s1 127.0.0.1:9
`;
    const cfg = join(root, 'ids.cfg');
    writeFileSync(cfg, text);
    const child = spawn(HAPROXY, ['-f', cfg], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const theirs = await showStat(sock);
      const { config, errors } = parseConfig([{ path: 'ids.cfg', text }]);
      expect(errors).toEqual([]);
      const ours = new Map<string, [number, number]>();
      for (const f of config.frontends) ours.set(`${f.name}/FRONTEND`, [f.id!, 0]);
      for (const b of config.backends) {
        for (const s of b.servers) ours.set(`${b.name}/${s.name}`, [b.id!, s.id!]);
        ours.set(`${b.name}/BACKEND`, [b.id!, 0]);
      }
      expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(theirs));
    } finally {
      child.kill('SIGKILL');
    }
  });
});
