import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compilePlan, countSlots } from '../../proxy-core/compile/compile.ts';
import { parseConfig } from '../../proxy-core/config/parse.ts';
import { allocateCounters, Counters, G, ServerState } from '../../proxy-core/runtime/counters.ts';
import { backend, config, frontend, listen, options, server } from './fixtures.ts';

function counters(slots: number, buffer = allocateCounters(slots, 2)): Counters {
  return new Counters(buffer, slots, 0);
}

const twoPools = () =>
  config(
    [
      frontend('fe-a', { defaultBackend: 'pool-1', maxconn: 1000 }),
      frontend('fe-b', { defaultBackend: 'pool-2', useBackends: [{ backend: 'pool-1', where: { file: 't', line: 1 } }] }),
    ],
    [
      backend('pool-1', [server('m1', '10.0.0.1', 80), server('m2', '10.0.0.2', 80, { backup: true })]),
      backend('pool-2', [server('m3', '10.0.0.3', undefined, { disabled: true }), server('m4', '10.0.0.4', 81, { check: { enabled: true, ssl: false } })]),
    ],
    { maxconn: 5000 },
  );

describe('slot numbering', () => {
  it('numbers global, frontends, backends, then servers backend by backend', () => {
    const cfg = twoPools();
    expect(countSlots(cfg)).toBe(1 + 2 + 2 + 4);
    const plan = compilePlan(cfg, counters(countSlots(cfg)), 7, true);
    expect(plan.generation).toBe(7);
    expect(plan.globalSlot).toBe(0);
    expect(plan.slots).toBe(9);
    expect(plan.frontends.map((f) => [f.name, f.slot])).toEqual([['fe-a', 1], ['fe-b', 2]]);
    expect(plan.backends.map((b) => [b.name, b.slot])).toEqual([['pool-1', 3], ['pool-2', 4]]);
    expect(plan.backends.flatMap((b) => b.members.map((m) => [m.name, m.slot, m.index]))).toEqual([
      ['m1', 5, 0],
      ['m2', 6, 1],
      ['m3', 7, 0],
      ['m4', 8, 1],
    ]);
  });

  it('gives the same slots to two threads compiling the same model', () => {
    const cfg = twoPools();
    const n = countSlots(cfg);
    const buffer = allocateCounters(n, 2);
    const a = compilePlan(structuredClone(cfg), new Counters(buffer, n, 0), 1, true);
    const b = compilePlan(structuredClone(cfg), new Counters(buffer, n, 1), 1, false);
    const slotsOf = (p: typeof a) => [
      ...p.frontends.map((f) => `${f.name}=${f.slot}`),
      ...p.backends.flatMap((x) => [`${x.name}=${x.slot}`, ...x.members.map((m) => `${m.name}=${m.slot}`)]),
    ];
    expect(slotsOf(b)).toEqual(slotsOf(a));
  });

  it('refuses counters smaller than the plan', () => {
    const cfg = twoPools();
    expect(() => compilePlan(cfg, counters(3), 1, true)).toThrow(RangeError);
  });
});

describe('HAProxy defaults', () => {
  it('leaves unset timeouts at 0 and applies the fallbacks', () => {
    const plan = compilePlan(twoPools(), counters(9), 1, false);
    expect(plan.frontends[0]!.timeouts).toEqual({ client: 0, httpRequest: 0, httpKeepAlive: 0, tunnel: 0, clientFin: 0 });
    expect(plan.backends[0]!.timeouts).toEqual({ connect: 0, server: 0, queue: 0, tunnel: 0, serverFin: 0, check: 0 });
  });

  it('falls back http-request → client, http-keep-alive → http-request, queue → connect', () => {
    const cfg = listen('l', [server('s', '127.0.0.1', 1)], { timeouts: { connect: 5000, server: 50000 } }, { timeouts: { client: 40000 } });
    const plan = compilePlan(cfg, counters(countSlots(cfg)), 1, false);
    expect(plan.frontends[0]!.timeouts).toMatchObject({ client: 40000, httpRequest: 40000, httpKeepAlive: 40000 });
    expect(plan.backends[0]!.timeouts).toMatchObject({ connect: 5000, server: 50000, queue: 5000 });

    const cfg2 = listen(
      'l',
      [server('s', '127.0.0.1', 1)],
      { timeouts: { connect: 5000, queue: 100, tunnel: 3600000, serverFin: 10 } },
      { timeouts: { client: 40000, httpRequest: 5000, clientFin: 20 } },
    );
    const plan2 = compilePlan(cfg2, counters(countSlots(cfg2)), 1, false);
    expect(plan2.frontends[0]!.timeouts).toEqual({ client: 40000, httpRequest: 5000, httpKeepAlive: 5000, tunnel: 0, clientFin: 20 });
    expect(plan2.backends[0]!.timeouts).toMatchObject({ queue: 100, tunnel: 3600000, serverFin: 10 });
  });

  it('applies retries 3, http-reuse safe, no redispatch/allbackups unless set', () => {
    const plan = compilePlan(twoPools(), counters(9), 1, false);
    const be = plan.backends[0]!;
    expect(be).toMatchObject({ retries: 3, httpReuse: 'safe', redispatch: false, allbackups: false, mode: 'tcp' });
    const cfg = listen('l', [server('s', '127.0.0.1', 1)], {
      retries: 0,
      httpReuse: 'never',
      options: options({ redispatch: true, allbackups: true }),
    });
    expect(compilePlan(cfg, counters(4), 1, false).backends[0]).toMatchObject({ retries: 0, httpReuse: 'never', redispatch: true, allbackups: true });
  });

  it('gives a frontend without maxconn the global one, and 0 without either', () => {
    const plan = compilePlan(twoPools(), counters(9), 1, false);
    expect(plan.maxconn).toBe(5000);
    expect(plan.frontends.map((f) => f.maxconn)).toEqual([1000, 5000]);
    const cfg = listen('l', [server('s', '127.0.0.1', 1)]);
    const p2 = compilePlan(cfg, counters(4), 1, false);
    expect(p2.maxconn).toBe(0);
    expect(p2.frontends[0]!.maxconn).toBe(0);
  });

  it('sets fullconn to 10% of the maxconn of the frontends routing to the backend', () => {
    const plan = compilePlan(twoPools(), counters(9), 1, false);
    // pool-1: fe-a (1000) by default_backend + fe-b (global 5000) by use_backend.
    expect(plan.backends[0]!.fullconn).toBe(600);
    expect(plan.backends[1]!.fullconn).toBe(500);
    const cfg = listen('l', [server('s', '127.0.0.1', 1)], { fullconn: 50000 });
    expect(compilePlan(cfg, counters(4), 1, false).backends[0]!.fullconn).toBe(50000);
    const unlimited = listen('l', [server('s', '127.0.0.1', 1)]);
    expect(compilePlan(unlimited, counters(4), 1, false).backends[0]!.fullconn).toBe(0);
  });

  it('copies member settings and keeps a missing port undefined', () => {
    const cfg = listen('l', [
      server('a', '192.0.2.1', 8080, { weight: 7, maxconn: 10, maxqueue: 3, cookie: 'c-a', id: 12 }),
      server('b', 'fd00::5', undefined, { backup: true }),
    ]);
    const be = compilePlan(cfg, counters(countSlots(cfg)), 1, false).backends[0]!;
    expect(be.members[0]).toMatchObject({ name: 'a', host: '192.0.2.1', port: 8080, weight: 7, maxconn: 10, maxqueue: 3, cookie: 'c-a', id: 12, backup: false, checked: false });
    expect(be.members[1]).toMatchObject({ name: 'b', host: 'fd00::5', port: undefined, weight: 1, maxconn: 0, maxqueue: 0, id: 2, backup: true });
    expect(be.members[0]!.backend).toBe(be);
  });
});

describe('names and routing', () => {
  it('indexes frontends and backends by name and links the default backend', () => {
    const plan = compilePlan(twoPools(), counters(9), 1, false);
    expect(plan.backendsByName.get('pool-2')).toBe(plan.backends[1]);
    expect(plan.frontendsByName.get('fe-b')).toBe(plan.frontends[1]);
    expect(plan.frontends[0]!.defaultBackend).toBe(plan.backends[0]);
    expect(plan.frontends[1]!.defaultBackend).toBe(plan.backends[1]);
  });

  it('hands mode http proxies to the l7 compiler and leaves tcp ones alone', () => {
    const cfg = config(
      [frontend('web', { mode: 'http', defaultBackend: 'pool' }), frontend('raw', { defaultBackend: 'tcp-pool' })],
      [backend('pool', [server('s', '127.0.0.1', 1)], { mode: 'http' }), backend('tcp-pool', [server('t', '127.0.0.1', 2)])],
    );
    const plan = compilePlan(cfg, counters(countSlots(cfg)), 1, false);
    expect(plan.frontends[0]!.http).toBeDefined();
    expect(plan.backends[0]!.http).toBeDefined();
    expect(plan.frontends[1]!.http).toBeUndefined();
    expect(plan.backends[1]!.http).toBeUndefined();
  });
});

describe('initial gauges', () => {
  let c: Counters;

  it('starts disabled members in MAINT, checked ones UP, others "no check", with their weight', () => {
    const cfg = listen('l', [
      server('plain', '127.0.0.1', 1, { weight: 5 }),
      server('checked', '127.0.0.1', 2, { check: { enabled: true, ssl: false } }),
      server('off', '127.0.0.1', 3, { disabled: true, weight: 9 }),
    ]);
    c = counters(countSlots(cfg));
    const be = compilePlan(cfg, c, 1, true).backends[0]!;
    const states = be.members.map((m) => [c.gauge(m.slot, G.state), c.gauge(m.slot, G.weight)]);
    expect(states).toEqual([
      [ServerState.noCheck, 5],
      [ServerState.up, 1],
      [ServerState.maint, 9],
    ]);
  });

  it('leaves the gauges alone when a worker compiles (init false)', () => {
    const cfg = listen('l', [server('s', '127.0.0.1', 1, { weight: 5 })]);
    c = counters(countSlots(cfg));
    c.setGauge(2, G.state, ServerState.down);
    c.setGauge(2, G.weight, 3);
    compilePlan(cfg, c, 2, false);
    expect([c.gauge(2, G.state), c.gauge(2, G.weight)]).toEqual([ServerState.down, 3]);
  });
});

describe('parsed configs', () => {
  it('compiles the config Octavia renders (Appendix B) with HAProxy defaults resolved', () => {
    const text = readFileSync(new URL('../fixtures/octavia/11/active-standby-full.cfg', import.meta.url), 'utf8');
    const { config: cfg, errors } = parseConfig([{ path: 'haproxy.cfg', text }]);
    expect(errors).toEqual([]);
    const c = counters(countSlots(cfg));
    const plan = compilePlan(cfg, c, 1, true);
    expect(plan.maxconn).toBe(210000);
    expect(plan.slots).toBe(1 + cfg.frontends.length + cfg.backends.length + cfg.backends.reduce((n, b) => n + b.servers.length, 0));
    const pool = plan.backendsByName.get('00000000-0000-4000-8000-000000000201:00000000-0000-4000-8000-000000000001')!;
    expect(pool).toMatchObject({ retries: 3, redispatch: true, allbackups: true, fullconn: 10000, httpReuse: 'safe' });
    expect(pool.timeouts).toMatchObject({ connect: 5000, server: 50000, queue: 5000, check: 3000 });
    expect(pool.members.map((m) => [m.weight, m.backup, m.disabled, m.checked])).toEqual([
      [1, false, false, true],
      [3, false, false, true],
      [1, true, false, true],
      [0, false, true, true],
    ]);
    expect(pool.members.map((m) => c.gauge(m.slot, G.state))).toEqual([ServerState.up, ServerState.up, ServerState.up, ServerState.maint]);
    const web = plan.frontendsByName.get('00000000-0000-4000-8000-000000000001')!;
    expect(web).toMatchObject({ maxconn: 10000, defaultBackend: pool });
    expect(web.timeouts).toMatchObject({ client: 50000, httpRequest: 50000, httpKeepAlive: 50000 });
    expect(web.http).toBeDefined();
    // The internal Prometheus backend has no fullconn: 10% of the listener frontend's 50000.
    expect(plan.backendsByName.get('prometheus-exporter-internal')!.fullconn).toBe(5000);
  });
});
