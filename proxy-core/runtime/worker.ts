// Worker thread entry: a data plane (data-plane.ts) that hears the supervisor through the
// thread's message port and ends by ending the thread.

import { parentPort, workerData } from 'node:worker_threads';
import { DataPlane } from './data-plane.ts';
import * as log from './log.ts';
import type { FromWorker, ToWorker, WorkerData } from './messages.ts';

const port = parentPort!;
const data = workerData as WorkerData;
log.configureLog({ quiet: data.quiet, verbose: data.verbose });

const plane = new DataPlane(
  data,
  (msg: FromWorker) => port.postMessage(msg),
  (code) => process.exit(code),
);
port.on('message', (msg: ToWorker) => plane.receive(msg));
