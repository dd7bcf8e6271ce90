// The command line: -c, usage errors, version. No process keeps running here.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runProxyCli, stopAllProxies, tempDir } from '../helpers/proxy.ts';

afterAll(stopAllProxies);

const VALID = `global
    maxconn 1000

defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 1s

frontend fe
    bind 127.0.0.1:1
    default_backend be

backend be
    server m1 127.0.0.1:2
`;

function write(name: string, text: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

describe('proxy-core -c', () => {
  it('prints "Configuration file is valid" and exits 0 on a valid config', async () => {
    const r = await runProxyCli(['-c', '-f', write('ok.cfg', VALID)]);
    expect(r.stdout).toBe('Configuration file is valid\n');
    expect(r.stderr).not.toMatch(/ALERT/);
    expect(r.code).toBe(0);
  });

  it('prints one [ALERT] file:line line per problem and exits 1 on an invalid config', async () => {
    const path = write('bad.cfg', VALID.replace('    maxconn 1000\n', '    maxconn 1000\n    no-such-keyword 1\n') + '    also-wrong x\n');
    const r = await runProxyCli(['-c', '-f', path]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/valid/);
    const alerts = r.stderr.split('\n').filter((l) => l.startsWith('[ALERT]'));
    expect(alerts).toEqual([
      `[ALERT] ${path}:3 : unknown keyword 'no-such-keyword' in 'global' section`,
      `[ALERT] ${path}:17 : unknown keyword 'also-wrong' in 'backend' section`,
    ]);
  });

  it('-q prints nothing for a valid config', async () => {
    const r = await runProxyCli(['-c', '-q', '-f', write('ok.cfg', VALID)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('reads every -f in order', async () => {
    const a = write('a.cfg', VALID);
    const b = write('b.cfg', 'global\n    nbthread 2\n');
    const r = await runProxyCli(['-c', '-f', a, '-f', b]);
    expect(r.stdout).toBe('Configuration file is valid\n');
    expect(r.code).toBe(0);
  });
});

describe('proxy-core usage', () => {
  it('an unknown flag prints the usage and exits 1', async () => {
    const r = await runProxyCli(['-f', write('ok.cfg', VALID), '-Z']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown option '-Z'/);
    expect(r.stderr).toMatch(/^Usage : proxy-core -f <cfgfile>/m);
  });

  it('no configuration file is a usage error, exit 1', async () => {
    const r = await runProxyCli(['-c']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no configuration file/);
  });

  it('-v prints the version and exits 0', async () => {
    const r = await runProxyCli(['-v']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^proxy-core version \d+\.\d+\.\d+/);
  });
});
