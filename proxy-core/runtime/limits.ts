// Process limits proxy-core cannot change from Node, only report.
//
// HAProxy raises RLIMIT_NOFILE itself to what `maxconn` needs (about two descriptors per
// connection: client side and server side) and refuses to start when it cannot. Node has no
// setrlimit, and Octavia renders a global maxconn far above a default limit (sums of 50000
// per listener), so proxy-core starts anyway and says once what will happen.

import { readFileSync } from 'node:fs';

/** Soft RLIMIT_NOFILE of this process, from /proc/self/limits; undefined if unknown or unlimited. */
export function openFileLimit(procLimits = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(procLimits, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : undefined;
}

/** Descriptors a global maxconn needs: client + server side per connection, plus headroom. */
export function descriptorsFor(maxconn: number): number {
  return 2 * maxconn + 64;
}

/** The warning to print when the global maxconn cannot be met by the open-file limit. */
export function maxconnWarning(maxconn: number | undefined, limit = openFileLimit()): string | undefined {
  if (!maxconn || limit === undefined) return undefined;
  const needed = descriptorsFor(maxconn);
  if (needed <= limit) return undefined;
  return (
    `global maxconn ${maxconn} needs about ${needed} file descriptors but the open-file limit ` +
    `(RLIMIT_NOFILE) is ${limit}: connections past about ${Math.max(0, Math.floor((limit - 64) / 2))} ` +
    `will fail to open (raise LimitNOFILE= or ulimit -n)`
  );
}
