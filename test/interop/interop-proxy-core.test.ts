// Interop with the real controller code (test/interop/driver.py, Octavia 11 from Debian's
// python3-octavia): proxy-core as the engine: the product as shipped.

import { afterEach, describe, expect, it } from 'vitest';

import { KEY_CHECKS, runInterop } from './scenario.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // keep cleaning up
    }
  }
});

describe('an unmodified Octavia controller drives the agent (engine proxy-core)', () => {
  it('uploads, reloads, routes traffic and is heard by the health manager', async () => {
    const checks = await runInterop('proxy-core', cleanups);
    expect(checks).toEqual(expect.arrayContaining(KEY_CHECKS));
  }, 300_000);
});
