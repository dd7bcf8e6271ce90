import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatMessage, loadConfig } from '../../proxy-core/config/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'config-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const BASE = `global
    stats socket /tmp/x.sock mode 0666 level user
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend f
    bind 127.0.0.1:8080
    default_backend b
backend b
    server s 127.0.0.1:8081 check
`;

describe('loadConfig', () => {
  it('returns the config when it parses and everything in it runs', () => {
    const r = loadConfig([file('ok.cfg', BASE)]);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.config!.frontends[0]!.defaultBackend).toBe('b');
  });

  it('refuses a conditional use_backend in mode tcp rather than bypassing it', () => {
    const path = file(
      'tcp-use-backend.cfg',
      BASE.replace('    mode http\n', '    mode tcp\n').replace(
        '    default_backend b\n',
        '    use_backend b if { src 127.0.0.2 }\n    default_backend b\n',
      ),
    );
    const r = loadConfig([path]);
    expect(r.config).toBeUndefined();
    expect(r.errors.map((m) => formatMessage('ALERT', m))).toEqual([
      `[ALERT] ${path}:10 : not supported yet: use_backend in mode tcp (only default_backend routes TCP)`,
    ]);
  });

  it('names a missing file', () => {
    const missing = join(dir, 'nope.cfg');
    const r = loadConfig([file('a.cfg', BASE), missing]);
    expect(r.config).toBeUndefined();
    expect(r.errors).toEqual([{ where: { file: missing, line: 0 }, message: `Could not open configuration file ${missing} : No such file or directory` }]);
    expect(formatMessage('ALERT', r.errors[0]!)).toBe(`[ALERT] ${missing} : Could not open configuration file ${missing} : No such file or directory`);
  });

  it('returns parse errors with file:line and no config', () => {
    const path = file('bad.cfg', `${BASE}    timeout server forever\n`);
    const r = loadConfig([path]);
    expect(r.config).toBeUndefined();
    expect(r.errors.map((e) => formatMessage('ALERT', e))).toEqual([
      `[ALERT] ${path}:13 : 'timeout server' : invalid duration 'forever' (a number followed by us, ms, s, m, h or d; no unit means ms)`,
    ]);
  });

  it('refuses features the runtime does not run yet (checkSupport), with their line', () => {
    const path = file('stick.cfg', `${BASE}    stick-table type ip size 1k\n    stick on src\n`);
    const r = loadConfig([path]);
    expect(r.config).toBeUndefined();
    expect(r.errors.map((e) => formatMessage('ALERT', e))).toEqual([
      `[ALERT] ${path}:13 : not supported yet: stick-table (persistence)`,
      `[ALERT] ${path}:14 : not supported yet: stick on (persistence)`,
    ]);
  });

  it('passes warnings through, formatted like HAProxy', () => {
    const path = file('warn.cfg', BASE.replace('global\n', 'global\n    log /dev/log local0\n'));
    const r = loadConfig([path]);
    expect(r.errors).toEqual([]);
    expect(r.config).toBeDefined();
    expect(r.warnings.map((w) => formatMessage('WARNING', w))).toEqual([
      `[WARNING] ${path}:2 : log shipping is not implemented yet: log targets are accepted and ignored`,
    ]);
  });

  it('marks the local peer given with -L and warns when a peers section lacks it', () => {
    const path = file(
      'peers.cfg',
      `${BASE}peers lb_peers\n    peer amp1 10.0.0.11:1025\n    peer amp2 10.0.0.12:1025\n`,
    );
    const r = loadConfig([path], { localPeer: 'amp2' });
    expect(r.errors).toEqual([]);
    expect(r.config!.localPeer).toBe('amp2');
    expect(r.config!.peers[0]!.peers.map((p) => [p.name, p.local])).toEqual([
      ['amp1', false],
      ['amp2', true],
    ]);
    const other = loadConfig([path], { localPeer: 'amp9' });
    expect(other.warnings.map((w) => w.message)).toEqual([
      "peers section 'lb_peers' has no peer named 'amp9' (the local peer, see -L): its stick tables will not be replicated",
    ]);
  });

  it('uses the environment it is given for "$VAR"', () => {
    const path = file('env.cfg', BASE.replace('127.0.0.1:8080', '"${ADDR}:${PORT}"'));
    const r = loadConfig([path], { env: { ADDR: '127.0.0.2', PORT: '9999' } });
    expect(r.config!.frontends[0]!.binds[0]).toMatchObject({ address: '127.0.0.2', port: 9999 });
  });
});
