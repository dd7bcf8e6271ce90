// What the supervisor (main thread) and the workers say to each other. Nothing here is per
// request: a plan per config generation, stop orders, and the workers' answers.

import type { ProxyConfig } from '../config/model.ts';

/** Data a worker is started with (workerData). */
export interface WorkerData {
  /** Worker index = counters region. */
  index: number;
  quiet: boolean;
  verbose: boolean;
  /** Soft stop gives up on remaining connections after this many ms. */
  hardStopAfter: number;
}

export type ToWorker =
  /** Serve this config: compile it against the shared counters, open/keep/close binds. */
  | {
      type: 'plan';
      generation: number;
      config: ProxyConfig;
      buffer: SharedArrayBuffer;
      slots: number;
      /** Counters.atomic: false when this thread is the only one serving the generation. */
      atomic: boolean;
    }
  /** Stop accepting, finish what is in flight, exit (SIGUSR1). */
  | { type: 'soft-stop' }
  /** Close everything and exit now (SIGTERM). */
  | { type: 'stop' }
  /** Test hook (AMPHORA_TS_TEST_HOOKS=1 only): throw from the event loop. */
  | { type: 'crash' };

export interface BindError {
  frontend: string;
  /** `address:port` as HAProxy prints it (`[::]:80`, `0.0.0.0:80`). */
  address: string;
  /** e.g. "Address already in use". */
  reason: string;
}

export type FromWorker =
  /** The plan of `generation` is in use; binds that failed to open are listed. */
  | { type: 'applied'; generation: number; bindErrors: BindError[] }
  /** The plan could not be compiled in the worker (should never differ from the main thread). */
  | { type: 'rejected'; generation: number; message: string };
