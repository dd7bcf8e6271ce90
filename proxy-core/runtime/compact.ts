// Give back the memory that starting up left behind, once, while nothing is served yet.
//
// Loading the config, compiling the plan and importing the modules allocate a lot that is
// garbage a moment later, and V8 sizes the young generation up while that happens (about
// 3 MB of semi-spaces per isolate instead of 0.25 MB). An idle proxy-core never allocates
// enough to trigger the collections that would shrink it back, so without this it keeps
// ~5 MB (supervisor + one worker) of start-up heap for ever. One memory-reducing full
// collection (V8's "last resort" flavour: the one it runs itself under memory pressure;
// ~30 ms on a 10 MB heap) right after start returns it to the system.
//
// Called by the supervisor once it serves, and by a data plane once its first plan is compiled
// and its binds are open (opening 64 listening sockets per bind leaves garbage too; a client
// that connects meanwhile waits in the accept queue). Not on reloads: a plane then serves
// traffic, and the young generation grows back under load anyway.
//
// The collector is reached through V8's `--expose-gc` extension, enabled just long enough to
// create one context that holds `gc` (the flag is process-wide: turned off again at once so that
// no other context gets the global). If anything about that fails, this does nothing.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

let collector: GcFunction | null | undefined;

function getCollector(): GcFunction | null {
  if (collector !== undefined) return collector;
  collector = null;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    if (typeof gc === 'function') collector = gc as GcFunction;
  } catch {
    // unavailable: stay a no-op
  } finally {
    try {
      setFlagsFromString('--no-expose-gc');
    } catch {}
  }
  return collector;
}

/** Run one memory-reducing full collection of this thread's heap; false when unavailable. */
export function compactHeap(): boolean {
  if (process.env.AMPHORA_TS_NO_COMPACT === '1') return false;
  const gc = getCollector();
  if (!gc) return false;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return true;
}
