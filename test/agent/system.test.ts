// GET /info and GET /details bodies: every field of Octavia's agent with its JSON type
// (contract 2.1, 2.2), the haproxy_version that selects the controller's config dialect, and
// the listeners/haproxy_count read from the load-balancer store.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { parseAgentConfig } from '../../agent/config.ts';
import { LoadBalancerStore } from '../../agent/lb/store.ts';
import { getDetails, getInfo } from '../../agent/system/info.ts';
import { readCpu, readMemory } from '../../agent/system/host.ts';
import { PROXY_CORE_HAPROXY_VERSION } from '../../agent/system/versions.ts';

const LB1 = 'a1b2c3d4-0000-4000-8000-000000001b01';
const LB2 = 'a1b2c3d4-0000-4000-8000-000000001b02';
const L1 = '00000000-0000-4000-8000-000000000001';
const L2 = '00000000-0000-4000-8000-000000000002';
const L3 = '00000000-0000-4000-8000-000000000003';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function config(engine: 'proxy-core' | 'haproxy' = 'proxy-core') {
  const base = mkdtempSync(join(tmpdir(), 'amphora-ts-sys-'));
  dirs.push(base);
  const cfg = parseAgentConfig([
    {
      path: 'amphora-agent.conf',
      text: `[haproxy_amphora]\nbase_path = ${base}\nbase_cert_dir = ${join(base, 'certs')}\n[amphora_ts]\nengine = ${engine}\nnetns =\n`,
    },
  ]);
  return { base, cfg, store: new LoadBalancerStore(cfg) };
}

describe('GET /info body', () => {
  it('has the reference fields, all strings, and the 2.6 dialect for proxy-core', async () => {
    const { cfg } = config();
    const info = await getInfo(cfg);
    expect(Object.keys(info).sort()).toEqual(['api_version', 'haproxy_version', 'hostname', 'ipvsadm_version', 'keepalived_version']);
    for (const v of Object.values(info)) expect(typeof v).toBe('string');
    expect(info.api_version).toBe('1.0');
    expect(info.haproxy_version).toBe(PROXY_CORE_HAPROXY_VERSION);
    // What the controller does with it: split('.')[:2] → ints, 2.6 turns every template gate on.
    const [major, minor] = info.haproxy_version.split('.').slice(0, 2).map(Number);
    expect([major, minor]).toEqual([2, 6]);
  });

  it('reports the real haproxy -v version with engine = haproxy', async () => {
    const { cfg } = config('haproxy');
    const out = execFileSync('haproxy', ['-v'], { encoding: 'utf8' });
    const info = await getInfo(cfg);
    expect(out).toContain(`version ${info.haproxy_version} `);
    expect(info.haproxy_version).toMatch(/^\d+\.\d+/);
  });
});

describe('GET /details body', () => {
  it('has every field of the reference with its JSON type', async () => {
    const { cfg, store } = config();
    const d = await getDetails(cfg, store);
    expect(Object.keys(d).sort()).toEqual(
      [
        'active',
        'active_tuned_profiles',
        'api_version',
        'cpu',
        'cpu_count',
        'disk',
        'haproxy_count',
        'haproxy_version',
        'hostname',
        'ipvsadm_version',
        'keepalived_version',
        'listeners',
        'load',
        'lvs_listener_process_count',
        'memory',
        'networks',
        'packages',
        'topology',
        'topology_status',
      ].sort(),
    );
    expect(d.active).toBe(true);
    expect(d.topology).toBe('SINGLE');
    expect(d.topology_status).toBe('OK');
    expect(d.packages).toEqual({});
    expect(typeof d.active_tuned_profiles).toBe('string');
    for (const k of ['haproxy_count', 'cpu_count', 'lvs_listener_process_count'] as const) expect(Number.isInteger(d[k])).toBe(true);
    expect(d.cpu_count).toBeGreaterThan(0);
    expect(Number.isInteger(d.cpu.total)).toBe(true);
    for (const k of ['user', 'system', 'soft_irq'] as const) expect(d.cpu[k]).toMatch(/^\d+$/);
    expect(Object.keys(d.memory).sort()).toEqual(['buffers', 'cached', 'free', 'shared', 'slab', 'swap_used', 'total']);
    for (const v of Object.values(d.memory)) expect(Number.isInteger(v)).toBe(true);
    expect(d.memory.total).toBeGreaterThan(d.memory.free);
    for (const v of Object.values(d.disk)) expect(Number.isInteger(v)).toBe(true);
    expect(d.load).toHaveLength(3);
    for (const v of d.load) expect(v).toMatch(/^\d+\.\d+$/);
    for (const [name, n] of Object.entries(d.networks)) {
      expect(name).toMatch(/^eth/);
      expect(Number.isInteger(n.network_tx) && Number.isInteger(n.network_rx)).toBe(true);
    }
    // The body goes out as JSON: nothing that JSON.stringify would drop or change.
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('lists the frontends of every stored config and counts the running LBs', async () => {
    const { base, cfg, store } = config();
    const frontends: Record<string, string[]> = { [LB1]: [L2, L1], [LB2]: [L3, 'prometheus-exporter-internal-endpoint'] };
    for (const [lb, fes] of Object.entries(frontends)) {
      mkdirSync(join(base, lb));
      writeFileSync(
        join(base, lb, 'haproxy.cfg'),
        `global\n    stats socket ${base}/${lb}.sock mode 0666 level user\n` + fes.map((f) => `frontend ${f}\n    mode http\n`).join(''),
      );
    }
    writeFileSync(join(base, LB1, `${LB1}.pid`), `${process.pid}\n`);
    const d = await getDetails(cfg, store);
    // Octavia's agent lists every frontend name, sorted (the prometheus one included).
    expect(d.listeners).toEqual([L1, L2, L3, 'prometheus-exporter-internal-endpoint'].sort());
    expect(d.haproxy_count).toBe(1);
  });

  it('reads /proc/stat the way Octavia does: total is the int sum, the rest strings', async () => {
    const fields = () => readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const before = fields();
    const cpu = await readCpu();
    const after = fields();
    // The counters move while we read: the answer lies between two reads around it.
    const between = (v: number, i: number) => v >= before[i] && v <= after[i];
    expect(between(Number(cpu.user), 0) && between(Number(cpu.system), 2) && between(Number(cpu.soft_irq), 6)).toBe(true);
    const sum = (f: number[]) => f.reduce((s, v) => s + v, 0);
    expect(cpu.total >= sum(before) && cpu.total <= sum(after)).toBe(true);
    const mem = await readMemory();
    const swapCached = /SwapCached:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))![1];
    expect(mem.swap_used).toBe(Number(swapCached)); // Octavia's mapping, kept
  });
});
