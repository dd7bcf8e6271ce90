// Last absolute counters per listener, persisted so that the deltas of heartbeat version 3
// survive an agent restart (the data plane keeps counting while the agent is away).
// Same file and shape as Octavia's agent: BASE/stats_counters.json =
// {"<listener_id>": {"bin": n, "bout": n, "ereq": n, "stot": n}}, so an image upgraded from the
// Python agent keeps its deltas too; we add "process" (which engine process counted them), a
// key Octavia's agent carries along untouched.

import { readFileSync } from 'node:fs';

import { writeFileAtomic } from '../lb/atomic.ts';

/** The metrics sent as deltas (`conns`/`scur` is absolute). */
export const DELTA_METRICS = ['bin', 'bout', 'ereq', 'stot'] as const;
export type DeltaMetric = (typeof DELTA_METRICS)[number];
export type CounterValues = Record<DeltaMetric, number>;
interface Entry {
  values: CounterValues;
  /** processIdentity() of the engine that counted `values`, when known. */
  process?: string;
}

export const COUNTERS_FILE_NAME = 'stats_counters.json';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class StatsCounters {
  readonly path: string;
  private last = new Map<string, Entry>();
  private dirty = false;

  constructor(path: string) {
    this.path = path;
  }

  /** Read the persisted counters; a missing or corrupt file starts from zero (first deltas
   *  are then the absolute values, as after a data-plane restart). */
  load(): void {
    this.last.clear();
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      return;
    }
    if (!isObject(parsed)) return;
    for (const [id, values] of Object.entries(parsed)) {
      if (!isObject(values)) continue;
      const entry: Entry = { values: {} as CounterValues };
      for (const m of DELTA_METRICS) {
        const n = Number(values[m] ?? 0);
        entry.values[m] = Number.isFinite(n) && n >= 0 ? n : 0;
      }
      if (typeof values.process === 'string') entry.process = values.process;
      this.last.set(id, entry);
    }
  }

  /** Record `current` for `id` and return the deltas since the previous record.
   *  Counters restart from zero with a new engine process (HAProxy reloads into a new worker;
   *  a restart): when `process` differs from the one that counted the previous values, the
   *  delta is the new absolute value. Without a process identity, a counter that went
   *  backwards is taken as such a reset (Octavia's rule). */
  delta(id: string, current: CounterValues, process?: string): CounterValues {
    const previous = this.last.get(id);
    const restarted = previous?.process !== undefined && process !== undefined && previous.process !== process;
    const deltas = {} as CounterValues;
    for (const m of DELTA_METRICS) {
      const before = previous && !restarted ? previous.values[m] : 0;
      const d = current[m] - before;
      deltas[m] = d < 0 ? current[m] : d;
    }
    if (!previous || previous.process !== process || DELTA_METRICS.some((m) => previous.values[m] !== current[m])) this.dirty = true;
    this.last.set(id, { values: { ...current }, process });
    return deltas;
  }

  /** Forget listeners that are no longer reported (deleted or stopped LBs): when they come
   *  back their counters start from zero, and a stale high-water mark would eat the deltas. */
  retain(ids: Set<string>): void {
    for (const id of [...this.last.keys()]) {
      if (!ids.has(id)) {
        this.last.delete(id);
        this.dirty = true;
      }
    }
  }

  /** Write the file atomically (temp file, fsync, rename) when something changed. */
  async persist(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      const file: Record<string, CounterValues & { process?: string }> = {};
      for (const [id, e] of this.last) file[id] = e.process === undefined ? { ...e.values } : { ...e.values, process: e.process };
      await writeFileAtomic(this.path, JSON.stringify(file), 0o640);
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }
}
