// Versions /info reports: the engine's (`haproxy_version`, which selects the config dialect
// the controller renders) and the installed keepalived/ipvsadm packages.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * `haproxy_version` reported when proxy-core is the engine.
 *
 * The controller renders haproxy.cfg for the version the amphora reports: it takes
 * `haproxy_version.split('.')[:2]` and turns features on by version — `http-reuse` and the
 * server-state file from 1.6, pool/health-check ALPN from 1.9, the Prometheus proxies from 2.0,
 * `insecure-fork-wanted` from 2.2 (Octavia 11 and master). proxy-core implements HAProxy 2.6's
 * dialect, so it reports a 2.6 version: the controller then renders exactly the dialect
 * proxy-core parses (every gate above on, nothing newer than 2.6). The suffix tells an
 * operator reading /info which engine answers; the controller never looks past the minor.
 */
export const PROXY_CORE_HAPROXY_VERSION = '2.6.12-proxy-core';

// Package versions do not change under a running agent often; the controller asks /info
// several times per flow. Cache for a minute.
const VERSION_TTL_MS = 60_000;
const versionCache = new Map<string, { value: string; at: number }>();

async function cached(key: string, compute: () => Promise<string>): Promise<string> {
  const hit = versionCache.get(key);
  if (hit && Date.now() - hit.at < VERSION_TTL_MS) return hit.value;
  const value = await compute();
  versionCache.set(key, { value, at: Date.now() });
  return value;
}

/** Installed package version as Octavia reports it (`dpkg-query`, else `rpm`); '' when the
 *  package is not installed (Octavia's agent would answer 500; nothing reads these). */
export function packageVersion(name: string): Promise<string> {
  return cached(`pkg:${name}`, async () => {
    const queries: [string, string[]][] = [
      ['dpkg-query', ['-W', '-f=${Version}', name]],
      ['rpm', ['-q', '--queryformat', '%{VERSION}', name]],
    ];
    for (const [cmd, args] of queries) {
      try {
        const { stdout } = await run(cmd, args, { timeout: 5000 });
        const v = stdout.trim();
        if (v !== '' && !v.includes('not installed')) return v;
      } catch {
        // next query
      }
    }
    return '';
  });
}

/** The `haproxy_version` to report for `engine`. With engine = haproxy it is the binary's own
 *  version (`haproxy -v`: "HAProxy version 2.6.12-1+deb12u4 …"), so the controller renders
 *  for the HAProxy that really runs. */
export function haproxyVersion(engine: 'proxy-core' | 'haproxy', haproxyCmd: string): Promise<string> {
  if (engine !== 'haproxy') return Promise.resolve(PROXY_CORE_HAPROXY_VERSION);
  return cached(`haproxy:${haproxyCmd}`, async () => {
    const { stdout } = await run(haproxyCmd, ['-v'], { timeout: 5000 });
    const m = /version\s+(\d+\.\d+\S*)/i.exec(stdout);
    if (!m) throw new Error(`cannot read a version from '${haproxyCmd} -v': ${stdout.split('\n')[0]}`);
    return m[1];
  });
}
