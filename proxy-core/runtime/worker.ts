// Worker thread entry: one data-plane thread of proxy-core.
//
// The supervisor sends a plan message per config generation (the model, the counters'
// SharedArrayBuffer); the worker compiles it here (closures cannot cross threads; compiling
// is deterministic, so slot numbers agree with the supervisor's), swaps env.plan at once,
// then keeps/opens/closes its listening sockets (listeners.ts). Every accepted connection
// passes the maxconn gate (admission.ts) and is handed to its frontend's engine: serveHttp1
// for mode http, serveTcp for mode tcp. The frontend is looked up by name in the plan current
// at that moment, so a reload applies to the next connection without touching the sockets.
//
// Soft stop (SIGUSR1 in the supervisor): stop accepting, set env.stopping, tell the engines'
// tracked connections to finish (track's Drainable), exit once no connection is left or after
// `hardStopAfter`. Stop: close everything and exit.

import type net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { FrontendPlan, Plan } from '../compile/plan.ts';
import { compilePlan } from '../compile/compile.ts';
import { serveTcp } from '../l4/tcp.ts';
import { serveHttp1 } from '../l7/http1.ts';
import { Admission } from './admission.ts';
import { compactHeap } from './compact.ts';
import { Counters } from './counters.ts';
import type { Drainable, WorkerEnv } from './env.ts';
import { bindSpecs, ListenerSet, type Listener } from './listeners.ts';
import * as log from './log.ts';
import type { FromWorker, ToWorker, WorkerData } from './messages.ts';

const port = parentPort!;
const data = workerData as WorkerData;
log.configureLog({ quiet: data.quiet, verbose: data.verbose });

/** Every accepted client connection of this worker, until its socket closes. */
const connections = new Set<net.Socket>();
/** Connections an engine registered, with what it wants called when a drain starts. */
const tracked = new Map<net.Socket, Drainable | undefined>();

const env: WorkerEnv = {
  plan: undefined as unknown as Plan, // set by the first plan message, before any bind opens
  stopping: false,
  index: data.index,
  track(socket: net.Socket, drain?: Drainable): void {
    tracked.set(socket, drain);
    if (env.stopping && drain) queueMicrotask(() => drain.onDrainSignal());
  },
  untrack(socket: net.Socket): void {
    tracked.delete(socket);
  },
};

const admission = new Admission(() => env.plan, dispatch);
const listeners = new ListenerSet(onConnection);
let hardStopTimer: NodeJS.Timeout | undefined;
let applying: Promise<void> = Promise.resolve();

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'plan':
      // One at a time: two reconciliations of the listeners must not interleave.
      applying = applying.then(() => applyPlan(msg));
      break;
    case 'soft-stop':
      softStop();
      break;
    case 'stop':
      stop();
      break;
    case 'crash':
      setImmediate(() => {
        throw new Error(`worker ${data.index}: crash requested by the test hook`);
      });
      break;
  }
});

async function applyPlan(msg: Extract<ToWorker, { type: 'plan' }>): Promise<void> {
  let plan: Plan;
  try {
    plan = compilePlan(msg.config, new Counters(msg.buffer, msg.slots, data.index), msg.generation, false);
  } catch (err) {
    post({ type: 'rejected', generation: msg.generation, message: log.errorText(err) });
    return;
  }
  // The first plan: start-up garbage out before any bind opens, while no client waits (compact.ts).
  if (env.plan === undefined) compactHeap();
  // Swap first: a bind that opens below must find its frontend in the plan.
  env.plan = plan;
  admission.pump();
  const bindErrors = env.stopping ? [] : await listeners.apply(bindSpecs(plan));
  post({ type: 'applied', generation: msg.generation, bindErrors });
}

function onConnection(listener: Listener, socket: net.Socket): void {
  if (env.stopping) {
    socket.destroy();
    return;
  }
  connections.add(socket);
  socket.once('close', onSocketClose);
  // Errors belong to the engine once dispatched; until then (waiting for a slot) ignore them.
  socket.on('error', noop);
  admission.admit(socket, listener.frontend, listener.spec.backlog);
}

function onSocketClose(this: net.Socket): void {
  connections.delete(this);
  tracked.delete(this);
  if (env.stopping) exitWhenDrained();
}

function dispatch(socket: net.Socket, fe: FrontendPlan): void {
  socket.off('error', noop);
  try {
    if (fe.mode === 'http') serveHttp1(socket, fe, env);
    else serveTcp(socket, fe, env);
  } catch (err) {
    log.alert(`frontend ${fe.name}: ${fe.mode} engine failed on a new connection: ${log.errorText(err)}`);
    socket.destroy();
  }
}

function softStop(): void {
  if (env.stopping) return;
  env.stopping = true;
  listeners.closeAll();
  for (const drain of tracked.values()) {
    if (!drain) continue;
    try {
      drain.onDrainSignal();
    } catch (err) {
      log.alert(`worker ${data.index}: drain callback failed: ${log.errorText(err)}`);
    }
  }
  // `hard-stop-after` from the config, else the command's bound (HAProxy: none by default).
  const bound = env.plan?.config.global.hardStopAfter ?? data.hardStopAfter;
  hardStopTimer = setTimeout(() => {
    log.warning(`worker ${data.index}: soft stop: ${connections.size} connection(s) still open after ${bound} ms, closing them`);
    stop();
  }, bound);
  hardStopTimer.unref();
  exitWhenDrained();
}

function exitWhenDrained(): void {
  if (connections.size === 0) process.exit(0);
}

function stop(): void {
  env.stopping = true;
  clearTimeout(hardStopTimer);
  listeners.closeAll();
  admission.destroyQueued();
  for (const s of connections) s.destroy();
  process.exit(0);
}

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

function noop(): void {}
