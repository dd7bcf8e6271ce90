// What a worker thread hands to the protocol engines (l4/tcp.ts, l7/http1.ts) for every
// client connection. Owned by data-plane.ts; the engines only read it and call track().

import type net from 'node:net';
import type { Plan } from '../compile/plan.ts';

/** An engine's connection that wants to hear when a soft stop begins. */
export interface Drainable {
  onDrainSignal(): void;
}

export interface WorkerEnv {
  /**
   * The current plan. Replaced on reload: a request uses the plan current when its head
   * arrived (an engine looks its frontend up again by name when env.plan is not the plan it
   * holds), so a keep-alive connection never has to be closed for a reload.
   */
  plan: Plan;
  /** Soft stop / drain: finish the current request, answer with Connection: close, then close. */
  stopping: boolean;
  /**
   * Tell the plane what to call for this accepted client connection when a soft stop begins
   * (untrack() when it closes; a socket the plane did not accept is ignored).
   * `drain.onDrainSignal()`, when given, is called once when a soft stop (SIGUSR1) begins — in a
   * microtask if it has already begun: the engine closes the connection now if it is idle (a keep-alive connection
   * waiting for its next request), else lets the current request finish and then closes
   * (env.stopping is already true). Without it, an idle connection stays until its own timeout
   * or the soft-stop bound. (The worker itself counts every accepted connection; hard stop
   * destroys them whether or not they were tracked.)
   */
  track(socket: net.Socket, drain?: Drainable): void;
  untrack(socket: net.Socket): void;
  /** Worker index (0-based) = this thread's counters region. */
  index: number;
}
