// Whether the engine's stats socket is up. Commands on it (`show servers state`…) go through
// queryStatsSocket in ../heartbeat/stats-query.ts.

import net from 'node:net';

/** True when something accepts connections on the unix socket `path`. */
export function canConnect(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
