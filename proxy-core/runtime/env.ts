// What a worker thread hands to the protocol engines (l4/tcp.ts, l7/http1.ts) for every
// client connection. Owned by worker.ts; the engines only read it and call track().

import type net from 'node:net';
import type { Plan } from '../compile/plan.ts';

export interface WorkerEnv {
  /**
   * The current plan. Replaced on reload: a request uses the plan current when its head
   * arrived (an engine looks its frontend up again by name when env.plan is not the plan it
   * holds), so a keep-alive connection never has to be closed for a reload.
   */
  plan: Plan;
  /** Soft stop / drain: finish the current request, answer with Connection: close, then close. */
  stopping: boolean;
  /** Register a client connection so drain/stop can find it; returns its unregister function. */
  track(socket: net.Socket): () => void;
  /** Worker index (0-based) = this thread's counters region. */
  index: number;
}
