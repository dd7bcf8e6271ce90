// What the data plane keeps of a connection once it is gone: nothing that V8 has to promote.
//
// A structure that outlives connections and holds them in a way V8's scavenger takes for
// live (runtime/links.ts: a long-lived Set or Map, whose replaced hash tables stay in the
// old generation with their entries) promotes every connection to the old generation, with
// all it references: about 1.4 KB per connection, and a full GC every second or two under
// new-connection load. Nothing else shows it (every request still succeeds), so this
// counts it with V8's own GC trace: of what the proxy process allocates while it serves a
// stream of new connections, how much survives into the old generation. The measure is in
// bytes, not time: a slow machine allocates the same bytes per connection.

import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from '../helpers/clients.ts';
import { startHttpMember, type Member } from '../helpers/members.ts';
import { freePort, startProxy, stopAllProxies } from '../helpers/proxy.ts';
import { proxyConfig } from './configs.ts';

const members: Member[] = [];
afterEach(async () => {
  await stopAllProxies();
  await Promise.all(members.splice(0).map((m) => m.close()));
});

/** promoted / allocated bytes of each scavenge in `--trace-gc-nvp` output. */
function scavenges(trace: string): { promoted: number; allocated: number }[] {
  const out: { promoted: number; allocated: number }[] = [];
  for (const line of trace.split('\n')) {
    if (!/\bgc=s\b/.test(line)) continue;
    const promoted = /\bpromoted=(\d+)/.exec(line);
    const allocated = /\ballocated=(\d+)/.exec(line);
    if (promoted && allocated) out.push({ promoted: Number(promoted[1]), allocated: Number(allocated[1]) });
  }
  return out;
}

const REQUESTS = 3000;
const CONCURRENCY = 16;

describe('garbage of closed connections', () => {
  it('a stream of new connections leaves next to nothing in the old generation', async () => {
    const m = await startHttpMember('m1');
    members.push(m);
    const port = await freePort();
    // Octavia's shape: global and frontend maxconn, so the admission path runs too.
    const config = proxyConfig({ port, mode: 'http', maxconn: 5000, feMaxconn: 5000, members: [{ name: 'm1', port: m.port }] });
    const p = await startProxy(config, { nodeArgs: ['--trace-gc-nvp'] });
    const before = scavenges(p.stdout).length;

    let next = 0;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          const i = next++;
          const r = await httpRequest(port, { path: `/${i}` });
          if (r.status !== 200 || r.body !== `m1 GET /${i}\n`) failures.push(`${i}: ${r.status} ${r.body}`);
        }
      }),
    );
    expect(failures).toEqual([]);
    await p.stop();

    const during = scavenges(p.stdout).slice(before);
    // Enough young-generation collections for the ratio to mean something (about 6 KB is
    // allocated per connection, the young generation is 2 MB).
    expect(during.length).toBeGreaterThanOrEqual(4);
    const promoted = during.reduce((n, s) => n + s.promoted, 0);
    const allocated = during.reduce((n, s) => n + s.allocated, 0);
    // About 1.1 % here; 15 % with the Sets of before (20-30 % under the bench's load).
    expect(promoted / allocated).toBeLessThan(0.08);
  });
});
