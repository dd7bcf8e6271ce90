// A data plane's listening sockets, several per `bind` line, kept across reloads.
//
// Every data plane opens every bind with SO_REUSEPORT: the kernel spreads new connections
// over all the sockets of the group — the planes' (several each: see ACCEPT_SOCKETS) and,
// during a `-sf` upgrade, the old and the new process's.
// On reload, a bind whose address, port and family did not change keeps its socket — closing
// a listening socket resets the connections waiting in its accept queue — and is only
// re-pointed at the frontend that now owns it; new binds open; binds no longer in the config
// close (connections they accepted go on).

import net from 'node:net';
import type { Plan } from '../compile/plan.ts';
import { acceptWithOnread } from './client-read.ts';
import * as log from './log.ts';
import type { BindError } from './messages.ts';

/**
 * Listening sockets per bind, over all threads. libuv accepts one connection per listening
 * socket per loop turn, so under a stream of new connections every connection cost a whole
 * turn (epoll_pwait, libuv's io_uring flushes of epoll changes, Node's per-turn work); HAProxy
 * accepts up to 64 per wake-up. Several sockets in the bind's SO_REUSEPORT group (the kernel
 * spreads connections over them by a hash of the addresses) let one turn accept several.
 *
 * How many also decides the tail: a connection waits one turn per connection ahead of it on
 * its own socket, and the hash fills some sockets more than others. With 8 sockets, up to 10
 * of wrk's 50 connections waited on one socket, so the slowest waited several turns while
 * other sockets were empty; with 64, nearly every waiting connection is accepted on the next
 * turn, as HAProxy's accept loop takes them. Measured with `bench/ab.ts --scenario newconn`:
 * 8 sockets against 1, CPU per connection 0.84-0.89x (4 sockets 0.95x); 64 against 8, p99
 * 0.63x on a loaded host and 0.94x on a quiet one, CPU and req/s unchanged; keep-alive
 * traffic does not accept.
 *
 * The 64 are shared out between the threads (each thread's loop accepts from its own), at
 * least MIN_PER_THREAD each: 64 with one thread, 8 each from 8 threads on. Each socket gets
 * the bind's whole backlog: the hash does not split evenly, and a full queue drops SYNs while
 * the others have room. AMPHORA_TS_ACCEPT_QUEUES=N (1-64) sets the sockets per thread.
 */
const ACCEPT_SOCKETS = 64;
const MIN_PER_THREAD = 8;
const ACCEPT_QUEUES_ENV = Math.max(0, Math.min(64, Math.trunc(Number(process.env.AMPHORA_TS_ACCEPT_QUEUES)) || 0));

/** Listening sockets per bind in one thread, when the config runs `threads` of them. */
export function acceptQueuesPerThread(threads: number): number {
  if (ACCEPT_QUEUES_ENV > 0) return ACCEPT_QUEUES_ENV;
  return Math.max(MIN_PER_THREAD, Math.ceil(ACCEPT_SOCKETS / Math.max(1, threads)));
}

/** Default listen() backlog when neither `backlog` nor a frontend maxconn is set. */
const DEFAULT_BACKLOG = 1024;

export interface BindSpec {
  /** Identity across reloads: host, port, family, and the how-many-th bind of that address. */
  key: string;
  frontend: string;
  /** Address given to listen(): '' and '*' mean 0.0.0.0 (IPv4 any), as in HAProxy. */
  host: string;
  port: number;
  /** `v6only` on the bind; `::` is dual stack otherwise (`v4v6`, Linux's default). */
  ipv6Only: boolean;
  backlog: number;
  /** `addr:port` as HAProxy prints it in messages. */
  label: string;
  /** Listening sockets this thread opens for it (acceptQueuesPerThread). */
  sockets: number;
}

/** The binds a plan asks for, in config order (disabled frontends have none). */
export function bindSpecs(plan: Plan): BindSpec[] {
  const disabled = new Set(plan.config.frontends.filter((f) => f.disabled).map((f) => f.name));
  const seen = new Map<string, number>();
  const sockets = acceptQueuesPerThread(plan.config.global.nbthread ?? 1);
  const out: BindSpec[] = [];
  for (const fe of plan.frontends) {
    if (disabled.has(fe.name)) continue;
    for (const bind of fe.binds) {
      const host = bind.address === '' || bind.address === '*' ? '0.0.0.0' : bind.address;
      const ipv6Only = bind.options['v6only'] !== undefined;
      const base = `${host}|${bind.port}|${ipv6Only ? 'v6only' : ''}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      const backlogOpt = Number(bind.options['backlog']);
      const backlog = Number.isInteger(backlogOpt) && backlogOpt > 0 ? backlogOpt : fe.maxconn || DEFAULT_BACKLOG;
      out.push({
        key: `${base}#${n}`,
        frontend: fe.name,
        host,
        port: bind.port,
        ipv6Only,
        backlog,
        label: host.includes(':') ? `[${host}]:${bind.port}` : `${host}:${bind.port}`,
        sockets,
      });
    }
  }
  return out;
}

export interface Listener {
  readonly spec: BindSpec;
  /** Frontend that gets this socket's connections; changes on reload. */
  frontend: string;
  /** The bind's listening sockets in this thread (see ACCEPT_SOCKETS). */
  readonly servers: net.Server[];
}

export type ConnectionHandler = (listener: Listener, socket: net.Socket) => void;

export class ListenerSet {
  readonly #byKey = new Map<string, Listener>();
  readonly #onConnection: ConnectionHandler;

  constructor(onConnection: ConnectionHandler) {
    this.#onConnection = onConnection;
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** Keep, open and close listeners so that exactly `specs` are served. */
  async apply(specs: BindSpec[]): Promise<BindError[]> {
    const wanted = new Set(specs.map((s) => s.key));
    for (const [key, l] of this.#byKey) {
      if (!wanted.has(key)) {
        this.#byKey.delete(key);
        closeServers(l.servers);
      }
    }
    const errors: BindError[] = [];
    await Promise.all(
      specs.map(async (spec) => {
        const kept = this.#byKey.get(spec.key);
        if (kept) {
          kept.frontend = spec.frontend;
          return;
        }
        try {
          this.#byKey.set(spec.key, await this.#open(spec));
        } catch (err) {
          errors.push({ frontend: spec.frontend, address: spec.label, reason: bindReason(err) });
        }
      }),
    );
    return errors;
  }

  /** Stop accepting on every socket (connections already accepted are not touched). */
  closeAll(): void {
    for (const l of this.#byKey.values()) closeServers(l.servers);
    this.#byKey.clear();
  }

  async #open(spec: BindSpec): Promise<Listener> {
    const listener: Listener = { spec, frontend: spec.frontend, servers: [] };
    // Port 0 would give each socket a port of its own.
    const count = spec.port === 0 ? 1 : spec.sockets;
    try {
      for (let i = 0; i < count; i++) listener.servers.push(await this.#listen(spec, listener));
    } catch (err) {
      closeServers(listener.servers);
      throw err;
    }
    return listener;
  }

  #listen(spec: BindSpec, listener: Listener): Promise<net.Server> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    server.on('connection', (socket: net.Socket) => this.#onConnection(listener, socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(
        { host: spec.host, port: spec.port, reusePort: true, ipv6Only: spec.ipv6Only, backlog: spec.backlog },
        () => {
          server.off('error', reject);
          // After listen, errors are accept() failures (EMFILE...): report, keep serving.
          const acceptError = (err: Error) => log.alert(`frontend ${listener.frontend}: accept on ${spec.label}: ${log.errorText(err)}`);
          server.on('error', acceptError);
          // Accepted sockets read with `onread` where this Node allows it (client-read.ts).
          if (acceptWithOnread(server, (socket) => this.#onConnection(listener, socket), acceptError)) server.removeAllListeners('connection');
          resolve(server);
        },
      );
    });
  }
}

function closeServers(servers: net.Server[]): void {
  for (const server of servers) server.close();
}

/** "Address already in use" from an EADDRINUSE error, as HAProxy words it. */
function bindReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return 'Address already in use';
    case 'EADDRNOTAVAIL':
      return 'Cannot assign requested address';
    case 'EACCES':
      return 'Permission denied';
    default:
      return log.errorText(err);
  }
}
