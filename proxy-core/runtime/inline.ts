// The data plane on the main thread, behind the face of a worker thread.
//
// With `nbthread 1` a worker thread buys nothing but its cost: a second V8 isolate and Node
// environment (about 20 MB resident, idle) and a thread hop per order. HAProxy's one thread
// serves traffic and runs its own housekeeping; so does proxy-core's main thread then: the
// supervisor spawns this instead of a Worker for worker 0. It takes the same orders
// (postMessage, terminate) and answers with the same events ('message', 'exit') — both
// delivered asynchronously, as between threads — so the supervisor's bookkeeping does not
// care which one it holds.
//
// What differs: an uncaught error in the data plane ends the process (as it ends HAProxy),
// so the service manager restarts it (the unit says Restart=always) instead of the
// supervisor replacing one thread. Test hooks that crash a worker do not apply.

import { EventEmitter } from 'node:events';
import { DataPlane } from './data-plane.ts';
import type { FromWorker, ToWorker, WorkerData } from './messages.ts';

export class InlinePlane extends EventEmitter {
  readonly #plane: DataPlane;
  #exitCode: number | undefined;

  constructor(data: WorkerData) {
    super();
    this.#plane = new DataPlane(
      data,
      (msg: FromWorker) => queueMicrotask(() => this.emit('message', msg)),
      (code) => {
        this.#exitCode = code;
        setImmediate(() => this.emit('exit', code));
      },
    );
  }

  /** Deliver an order on a later turn, with its own copy of the model (as a thread gets). */
  postMessage(msg: ToWorker): void {
    const copy: ToWorker = msg.type === 'plan' ? { ...msg, config: structuredClone(msg.config) } : msg;
    setImmediate(() => this.#plane.receive(copy));
  }

  /** Close everything now; resolves with the exit code once 'exit' was emitted. */
  terminate(): Promise<number> {
    if (this.#exitCode !== undefined) return Promise.resolve(this.#exitCode);
    return new Promise((resolve) => {
      this.once('exit', resolve);
      this.#plane.receive({ type: 'stop' });
    });
  }
}
