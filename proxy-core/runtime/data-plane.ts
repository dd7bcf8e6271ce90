// One data plane of proxy-core: the listening sockets and client connections of one thread.
// It runs in a worker thread (worker.ts) or, when the config asks for one thread only, on
// the main thread beside the supervisor (inline.ts); either way it hears the supervisor's
// orders through receive() and answers through the `post` it was given.
//
// The supervisor sends a plan message per config generation (the model, the counters'
// SharedArrayBuffer); the plane compiles it here (closures cannot cross threads; compiling
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
import type { FrontendPlan, Plan } from '../compile/plan.ts';
import { compilePlan } from '../compile/compile.ts';
import { serveTcp } from '../l4/tcp.ts';
import { serveHttp1 } from '../l7/http1.ts';
import { Admission } from './admission.ts';
import { compactHeap } from './compact.ts';
import { Counters } from './counters.ts';
import type { Drainable, WorkerEnv } from './env.ts';
import { Link, LinkList } from './links.ts';
import { bindSpecs, ListenerSet, type Listener } from './listeners.ts';
import * as log from './log.ts';
import type { FromWorker, ToWorker, WorkerData } from './messages.ts';

/** An accepted client connection, in its plane's list until the socket closes. */
class Accepted extends Link {
  readonly socket: net.Socket;
  /** What the engine wants called when a soft stop begins (env.track). */
  drain: Drainable | undefined = undefined;

  constructor(socket: net.Socket) {
    super();
    this.socket = socket;
  }
}

const kAccepted = Symbol('amphora.accepted');
type PlaneSocket = net.Socket & { [kAccepted]?: Accepted };

export class DataPlane {
  readonly #data: WorkerData;
  readonly #post: (msg: FromWorker) => void;
  /** Ends the plane: the thread exits (worker.ts), or the supervisor hears 'exit' (inline.ts). */
  readonly #exit: (code: number) => void;
  /** Every accepted client connection, until its socket closes (not a Set: links.ts). */
  readonly #connections = new LinkList<Accepted>();
  readonly #env: WorkerEnv;
  readonly #admission: Admission;
  readonly #listeners: ListenerSet;
  /** The 'close' listener of every accepted socket (`this` is the socket). */
  readonly #onSocketClose: (this: PlaneSocket) => void;
  #hardStopTimer: NodeJS.Timeout | undefined;
  #applying: Promise<void> = Promise.resolve();
  #exited = false;

  constructor(data: WorkerData, post: (msg: FromWorker) => void, exit: (code: number) => void) {
    this.#data = data;
    this.#post = post;
    this.#exit = exit;
    const env: WorkerEnv = {
      plan: undefined as unknown as Plan, // set by the first plan message, before any bind opens
      stopping: false,
      index: data.index,
      track(socket: net.Socket, drain?: Drainable): void {
        const a = (socket as PlaneSocket)[kAccepted];
        if (a !== undefined) a.drain = drain;
        if (env.stopping && drain) queueMicrotask(() => drain.onDrainSignal());
      },
      untrack(socket: net.Socket): void {
        const a = (socket as PlaneSocket)[kAccepted];
        if (a !== undefined) a.drain = undefined;
      },
    };
    this.#env = env;
    this.#admission = new Admission(() => env.plan, dispatch);
    this.#listeners = new ListenerSet(this.#onConnection);
    const plane = this;
    this.#onSocketClose = function (this: PlaneSocket): void {
      const a = this[kAccepted];
      if (a !== undefined) plane.#connections.remove(a);
      if (env.stopping) plane.#exitWhenDrained();
    };

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
  }

  /** One order from the supervisor. */
  receive(msg: ToWorker): void {
    switch (msg.type) {
      case 'plan':
        // One at a time: two reconciliations of the listeners must not interleave.
        this.#applying = this.#applying.then(() => this.#applyPlan(msg));
        break;
      case 'soft-stop':
        this.#softStop();
        break;
      case 'stop':
        this.#stop();
        break;
      case 'crash':
        setImmediate(() => {
          throw new Error(`worker ${this.#data.index}: crash requested by the test hook`);
        });
        break;
    }
  }

  async #applyPlan(msg: Extract<ToWorker, { type: 'plan' }>): Promise<void> {
    if (this.#exited) return;
    const env = this.#env;
    let plan: Plan;
    try {
      plan = compilePlan(msg.config, new Counters(msg.buffer, msg.slots, this.#data.index, msg.atomic), msg.generation, false);
    } catch (err) {
      this.#post({ type: 'rejected', generation: msg.generation, message: log.errorText(err) });
      return;
    }
    const first = env.plan === undefined;
    // Swap first: a bind that opens below must find its frontend in the plan.
    env.plan = plan;
    this.#admission.pump();
    const bindErrors = env.stopping ? [] : await this.#listeners.apply(bindSpecs(plan));
    // The first plan: start-up garbage out (compact.ts), the listening sockets' included (64 per
    // bind: about 1 MB of it), before the supervisor hears that this plane serves. A connection
    // that comes meanwhile waits in its accept queue for the ~30 ms this takes.
    if (first) compactHeap();
    this.#post({ type: 'applied', generation: msg.generation, bindErrors });
  }

  readonly #onConnection = (listener: Listener, socket: net.Socket): void => {
    if (this.#env.stopping) {
      socket.destroy();
      return;
    }
    const a = new Accepted(socket);
    (socket as PlaneSocket)[kAccepted] = a;
    this.#connections.push(a);
    socket.once('close', this.#onSocketClose);
    // Errors belong to the engine once dispatched; until then (waiting for a slot) ignore them.
    socket.on('error', noop);
    this.#admission.admit(socket, listener.frontend, listener.spec.backlog);
  };

  #softStop(): void {
    const env = this.#env;
    if (env.stopping) return;
    env.stopping = true;
    this.#listeners.closeAll();
    this.#connections.forEach(({ drain }) => {
      if (!drain) return;
      try {
        drain.onDrainSignal();
      } catch (err) {
        log.alert(`worker ${this.#data.index}: drain callback failed: ${log.errorText(err)}`);
      }
    });
    // `hard-stop-after` from the config, else the command's bound (HAProxy: none by default).
    const bound = env.plan?.config.global.hardStopAfter ?? this.#data.hardStopAfter;
    this.#hardStopTimer = setTimeout(() => {
      log.warning(`worker ${this.#data.index}: soft stop: ${this.#connections.size} connection(s) still open after ${bound} ms, closing them`);
      this.#stop();
    }, bound);
    this.#hardStopTimer.unref();
    this.#exitWhenDrained();
  }

  #exitWhenDrained(): void {
    if (this.#connections.size === 0) this.#end(0);
  }

  #stop(): void {
    this.#env.stopping = true;
    this.#listeners.closeAll();
    this.#admission.destroyQueued();
    this.#connections.forEach((a) => a.socket.destroy());
    this.#end(0);
  }

  #end(code: number): void {
    if (this.#exited) return;
    this.#exited = true;
    clearTimeout(this.#hardStopTimer);
    this.#exit(code);
  }
}

function noop(): void {}
