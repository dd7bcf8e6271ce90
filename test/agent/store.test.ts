// The on-disk store: Octavia's layout and its computations, checked against Octavia's own
// code (python3-octavia) where it has one: the peer name, the `group` stripping regex, the
// frontend parser of GET /listeners.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../agent/config.ts';
import { InvalidFilenameError, InvalidIdError } from '../../agent/errors.ts';
import { writeFileAtomic } from '../../agent/lb/atomic.ts';
import { stripGroupLines } from '../../agent/lb/lifecycle.ts';
import { KeyedMutex } from '../../agent/lb/mutex.ts';
import { isCertFilename, isUuid, LoadBalancerStore, parseFrontends, peerName } from '../../agent/lb/store.ts';
import { LB_ID } from './helpers.ts';

const EXAMPLE = readFileSync(join(import.meta.dirname, '../fixtures/octavia/11/active-standby-full.cfg'), 'utf8');

function python(code: string, input: string): string {
  return execFileSync('/usr/bin/python3', ['-c', code], { input, encoding: 'utf8' });
}

let tmp: string | undefined;
afterEach(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

function store(): LoadBalancerStore {
  tmp = mkdtempSync(join(tmpdir(), 'agent-store-'));
  return new LoadBalancerStore(
    parseAgentConfig([{ path: 'x', text: `[haproxy_amphora]\nbase_path = ${tmp}/base\nbase_cert_dir = ${tmp}/base/certs\n` }]),
  );
}

describe('peer name (-L), as Octavia computes it', () => {
  it('matches the contract\'s example', () => {
    expect(peerName('5e1c2a40-9f3c-4e55-9a5d-111111111111')).toBe('h9VrZysCv0u5NLWyvFqoaxS-N1M');
  });

  it('matches octavia.common.utils.base64_sha1_string(id).rstrip("=") for many ids, including a leading "-"', () => {
    const ids = Array.from({ length: 400 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const theirs = python(
      'import sys\nfrom octavia.common import utils\nfor l in sys.stdin.read().split():\n    print(utils.base64_sha1_string(l).rstrip("="))',
      ids.join('\n'),
    )
      .trim()
      .split('\n');
    expect(ids.map(peerName)).toEqual(theirs);
    expect(theirs.some((p) => p.startsWith('x'))).toBe(true); // the '-' → 'x' rule was exercised
  });
});

describe('group lines of old controllers', () => {
  it('are removed exactly like Octavia\'s re.sub(r"\\s+group\\s.+", "", cfg)', () => {
    const samples = [
      'global\n    daemon\n    user nobody\n    group nogroup\n    log x\n',
      'global\n    group haproxy\ndefaults\n',
      'frontend a\n    acl x hdr(x) -m str group 1\n    bind 1.2.3.4:80\n',
      'global\r\n    group nogroup\r\n    user nobody\r\n',
      'no group here\n',
      EXAMPLE,
    ];
    const theirs = python(
      'import json,re,sys\nfor s in json.load(sys.stdin):\n    print(json.dumps(re.sub(r"\\s+group\\s.+", "", s)))',
      JSON.stringify(samples),
    )
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(samples.map(stripGroupLines)).toEqual(theirs);
  });
});

describe('frontends of a stored config (GET /listeners, /details)', () => {
  it('agree with Octavia\'s util.parse_haproxy_file on the rendered example', () => {
    const theirs = JSON.parse(
      python(
        [
          'import json,sys,tempfile,os',
          'from unittest import mock',
          'from octavia.amphorae.backends.agent.api_server import util',
          'with tempfile.TemporaryDirectory() as d:',
          '    os.makedirs(d+"/lb")',
          '    open(d+"/lb/haproxy.cfg","w").write(sys.stdin.read())',
          '    with mock.patch.object(util, "config_path", return_value=d+"/lb/haproxy.cfg"):',
          '        sock, listeners = util.parse_haproxy_file("lb")',
          'print(json.dumps({"sock": sock, "listeners": {k: v["mode"] for k, v in listeners.items()}}))',
        ].join('\n'),
        EXAMPLE,
      ),
    );
    const ours = parseFrontends(EXAMPLE);
    expect(Object.fromEntries(ours.map((f) => [f.id, f.type]))).toEqual(theirs.listeners);
    expect(ours.some((f) => f.type === 'TERMINATED_HTTPS')).toBe(true);
  });

  it('the stats socket path is the one the config names', () => {
    const s = store();
    mkdirSync(join(tmp!, 'base', LB_ID), { recursive: true });
    writeFileSync(join(tmp!, 'base', LB_ID, 'haproxy.cfg'), EXAMPLE);
    expect(s.statsSocketPath(LB_ID)).toBe(`/var/lib/octavia/${LB_ID}.sock`);
    expect(s.list()).toEqual([LB_ID]);
    expect(s.listenerIds()).toEqual(parseFrontends(EXAMPLE).map((f) => f.id).sort());
  });
});

describe('ids and file names', () => {
  it('accepts UUIDs and the controller\'s certificate names only', () => {
    expect(isUuid(LB_ID)).toBe(true);
    for (const bad of ['', '..', `${LB_ID}/..`, `${LB_ID}\n`, `../${LB_ID}`, LB_ID.replace(/-/g, '')]) expect(isUuid(bad), bad).toBe(false);
    expect(isCertFilename(`${LB_ID}.pem`)).toBe(true);
    expect(isCertFilename(`${'a'.repeat(40)}.pem`)).toBe(true);
    for (const bad of ['x.pem', '../x.pem', `${'a'.repeat(39)}.pem`, `${LB_ID}.pem/..`, `${LB_ID}.crt`, '.pem']) {
      expect(isCertFilename(bad), bad).toBe(false);
    }
  });

  it('every path builder refuses a bad id before building a path', () => {
    const s = store();
    expect(() => s.configPath('../../etc')).toThrow(InvalidIdError);
    expect(() => s.certDir('..')).toThrow(InvalidIdError);
    expect(() => s.certPath(LB_ID, '../../server.pem')).toThrow(InvalidFilenameError);
    expect(() => s.pidPath('')).toThrow(InvalidIdError);
  });
});

describe('writes', () => {
  it('writeFileAtomic replaces the file whole, with the given mode, leaving no temp file', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'agent-atomic-'));
    const f = join(tmp, 'f');
    writeFileSync(f, 'old', { mode: 0o644 });
    await writeFileAtomic(f, 'new contents', 0o600);
    expect(readFileSync(f, 'utf8')).toBe('new contents');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(execFileSync('ls', ['-A', tmp], { encoding: 'utf8' }).trim()).toBe('f');
  });

  it('a failing write leaves the old file in place', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'agent-atomic-'));
    const f = join(tmp, 'f');
    writeFileSync(f, 'old');
    await expect(writeFileAtomic(join(tmp, 'missing-dir', 'f'), 'x')).rejects.toThrow();
    mkdirSync(join(tmp, 'd'));
    await expect(writeFileAtomic(join(tmp, 'd'), 'x')).rejects.toThrow(); // rename over a directory
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(execFileSync('ls', ['-A', tmp], { encoding: 'utf8' }).trim().split('\n').sort()).toEqual(['d', 'f']);
  });

  it('remove() deletes the LB directory, its certificates and its stats socket, but never another file the config names', async () => {
    const s = store();
    const base = join(tmp!, 'base');
    mkdirSync(join(base, LB_ID), { recursive: true });
    const victim = join(tmp!, 'victim');
    writeFileSync(victim, 'keep me');
    writeFileSync(join(base, LB_ID, 'haproxy.cfg'), `global\n    stats socket ${victim} mode 0666 level user\n`);
    await s.writeCert(LB_ID, `${LB_ID}.pem`, Buffer.from('pem'));
    await s.remove(LB_ID);
    expect(existsSync(join(base, LB_ID))).toBe(false);
    expect(existsSync(join(base, 'certs', LB_ID))).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');

    mkdirSync(join(base, LB_ID), { recursive: true });
    const sock = join(base, `${LB_ID}.sock`);
    writeFileSync(join(base, LB_ID, 'haproxy.cfg'), `global\n    stats socket ${sock} mode 0666 level user\n`);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sock, () => r()));
    server.close(); // leaves the socket file behind
    if (!existsSync(sock)) writeFileSync(sock, ''); // (not a socket: then it must stay)
    const wasSocket = statSync(sock).isSocket();
    await s.remove(LB_ID);
    expect(existsSync(sock)).toBe(!wasSocket);
  });
});

describe('KeyedMutex', () => {
  it('runs one holder per key at a time, in arrival order, and keys independently', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const step = (k: string, n: number, ms: number) =>
      m.run(k, async () => {
        log.push(`${k}${n}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${k}${n}-`);
      });
    await Promise.all([step('a', 1, 30), step('a', 2, 1), step('b', 1, 1)]);
    expect(log.indexOf('a1-')).toBeLessThan(log.indexOf('a2+'));
    expect(log.indexOf('b1+')).toBeLessThan(log.indexOf('a1-'));
    await expect(m.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await m.run('a', async () => 42)).toBe(42);
  });
});
