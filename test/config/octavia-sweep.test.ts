// Every combination Octavia's templates can render, parsed: `generate.py --sweep` renders,
// with Octavia's own JinjaTemplater (python3-octavia), one load balancer per listener
// protocol and allowed pool protocol (15 pairs), each with 96 listeners: every algorithm x
// session persistence x health monitor type. Each must parse without an error, and `-c`'s
// checks may refuse only what the engine does not serve yet ("not supported yet: …"), never
// anything else. The hand-picked scenarios in test/fixtures/octavia cover the rest (L7
// policies and rules, TLS options, topologies, logging).
//
// Needs /usr/bin/python3 with python3-octavia, as the fixtures' generator does; .ci/run
// installs it and fails without it, so in CI this suite always runs.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAndResolve } from '../../proxy-core/config/load.ts';
import { parseConfig } from '../../proxy-core/config/parse.ts';

const GENERATOR = join(import.meta.dirname, '../fixtures/octavia/generate.py');
const PYTHON = '/usr/bin/python3';
const haveOctavia = spawnSync(PYTHON, ['-c', 'import octavia'], { stdio: 'ignore' }).status === 0;

interface Rendered {
  name: string;
  localPeer: string | null;
  listeners: number;
  text: string;
}

function sweep(): Rendered[] {
  const r = spawnSync(PYTHON, [GENERATOR, '--sweep'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`generate.py --sweep failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Rendered[];
}

describe.skipIf(!haveOctavia)('every listener/pool protocol x algorithm x persistence x monitor Octavia renders', () => {
  const rendered = haveOctavia ? sweep() : [];

  it('covers every listener protocol that reaches haproxy and every pool protocol allowed under it', () => {
    expect(rendered.map((r) => r.name)).toHaveLength(15);
    for (const proto of ['HTTP', 'HTTPS', 'TCP', 'TERMINATED_HTTPS']) {
      expect(rendered.some((r) => r.name.startsWith(`${proto} listeners`))).toBe(true);
    }
    for (const r of rendered) expect(r.listeners).toBe(96);
  });

  it.each(rendered.map((r) => [r.name, r] as const))('%s: parses, and -c refuses only what is not supported yet', async (_, r) => {
    const parsed = parseConfig([{ path: 'sweep.cfg', text: r.text }]);
    expect(parsed.errors).toEqual([]);
    expect(parsed.config.frontends).toHaveLength(r.listeners);
    expect(parsed.config.backends).toHaveLength(r.listeners);
    // SOURCE_IP_PORT is rendered as roundrobin.
    expect(new Set(parsed.config.backends.map((b) => b.balance.algorithm))).toEqual(new Set(['roundrobin', 'leastconn', 'source']));
    // The notes the hand-picked fixtures allow, and HAProxy's own for a cookie persistence
    // that Octavia renders into a mode tcp backend (HAProxy ignores it there, as proxy-core).
    for (const w of parsed.config.warnings) {
      expect(w.message).toMatch(/log shipping|will still be processed before|insecure-fork-wanted|^cookie will be ignored for backend .* \(needs 'mode http'\)\.$/);
    }

    const dir = mkdtempSync(join(tmpdir(), 'octavia-sweep-'));
    try {
      const path = join(dir, 'haproxy.cfg');
      writeFileSync(path, r.text);
      const checked = await loadAndResolve([path], { localPeer: r.localPeer ?? undefined });
      for (const e of checked.errors) expect(e.message).toMatch(/^not supported yet: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
