// Reading client connections without the stream machinery.
//
// A socket read the usual way goes: a new ArrayBuffer per read made in C++, a Buffer around
// it, Readable.push(), a 'data' event, and a process.nextTick to read more. On a keep-alive
// request that is most of what Node adds above the two syscalls. Accepted sockets here are
// made with Node's `onread` option instead: every client socket of a thread reads into ONE
// shared buffer, and the reader gets a copy of exactly the bytes read (a slice of Node's
// Buffer pool for small reads). Sharing is safe because libuv reads one socket at a time on
// this thread and calls back at once: the shared bytes are copied before anything else can
// read into them, and the copy belongs to the reader as a 'data' chunk would. Measured with
// `npm run bench` on the 2-core dev machine, CPU per request against HAProxy's: keep-alive
// 1.41x -> 1.23x, TCP listener 1.19x -> 1.07x (same session, same config).
//
// A reader may also take the bytes lent (`takesLent`, the mode-http engine): it gets a view
// of the shared buffer itself, parses the request there and copies only what it keeps past
// the call, so a request forwarded at once is copied once, into what goes to the member.
//
// Node's net.Server does not take `onread`, so the listening handle's accept callback
// (`onconnection`, a long-standing internal of node:net; Node is pinned by package.json) is
// replaced by ours. It wraps the accepted handle in a RawSocket (raw-socket.ts: the handle
// without net.Socket's streams, the same interface for the engines; reads go to the same
// shared buffer), or, on a Node without the bindings that needs, builds a net.Socket the way
// net.Server does plus `onread`. Either way half-open is allowed and Nagle is off.
// acceptWithOnread() says whether that was possible; when it was not (another Node), the
// server's own 'connection' event serves, and setClientReader() falls back to a 'data'
// listener: the engines work the same on sockets of either kind (tests also hand them plain
// sockets).
//
// Bytes that arrive before a reader is set (a connection waiting for a maxconn slot, a tcp
// connection waiting for its member) are kept as copies and handed over by
// setClientReader(); past EARLY_MAX bytes the socket stops reading until then, as a
// Readable would at its high-water mark.

import { Buffer } from 'node:buffer';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { RawSocket, rawSocketsAvailable, type RawSocketReader } from './raw-socket.ts';

/** Receives the bytes of a client connection. */
export interface ClientReader {
  /**
   * `chunk` belongs to the reader (a copy), or with `lent` (only to a reader that takes lent
   * bytes) is the shared read buffer itself, valid until the call returns: the reader copies
   * whatever it keeps beyond that, and writes none of it to a socket (a write libuv queues
   * keeps the bytes).
   */
  clientBytes(socket: net.Socket, chunk: Buffer, lent: boolean): void;
  /** True for a reader that takes lent bytes; any other gets a copy of every read. */
  readonly takesLent?: boolean;
}

/** Bytes per read: Node's own read size. */
const READ_SIZE = 64 * 1024;
/** Bytes kept for a socket that has no reader yet, beyond which it stops reading. */
const EARLY_MAX = 64 * 1024;

/** The read buffer every client socket of this thread shares (see the top of this file). */
const shared = Buffer.allocUnsafeSlow(READ_SIZE);

const kClient = Symbol('amphora.client');

class ClientState {
  reader: ClientReader | undefined = undefined;
  early: Buffer[] | undefined = undefined;
  earlyBytes = 0;
}

type ClientSocket = net.Socket & { [kClient]?: ClientState };

/**
 * Views of the first n bytes of the shared buffer, made once per size up to LENT_VIEWS_MAX
 * (requests of one client program are mostly of a few sizes): a lent read makes no Buffer.
 */
const LENT_VIEWS_MAX = 4096;
const lentViews: (Buffer | undefined)[] = [];

function lentView(n: number): Buffer {
  if (n > LENT_VIEWS_MAX) return shared.subarray(0, n);
  return (lentViews[n] ??= shared.subarray(0, n));
}

function onClientRead(this: ClientSocket, n: number, buf: Buffer): boolean {
  const st = this[kClient]!;
  const r = st.reader;
  if (r !== undefined && r.takesLent === true) {
    // The engine reads the bytes where they are and copies only what it keeps (http1.ts):
    // a request parsed and forwarded within this call is not copied first.
    r.clientBytes(this, lentView(n), true);
    return true;
  }
  const copy = Buffer.allocUnsafe(n);
  buf.copy(copy, 0, 0, n);
  if (r !== undefined) {
    r.clientBytes(this, copy, false);
    return true;
  }
  (st.early ??= []).push(copy);
  st.earlyBytes += n;
  // false pauses the socket; setClientReader() resumes it.
  return st.earlyBytes < EARLY_MAX;
}

/** RawSocket's view of every client connection: each read into the shared buffer, then copied. */
const clientReads: RawSocketReader = {
  first: () => shared,
  read(socket: RawSocket, n: number): Buffer {
    if (!onClientRead.call(socket as unknown as ClientSocket, n, shared)) socket.pause();
    return shared;
  },
  closed() {},
};

/**
 * Make `server`'s accepted sockets read with `onread` (call once it listens); they allow
 * half-open and have Nagle off whatever options the server was made with. `onSocket`
 * then gets every accepted socket instead of the 'connection' event. False when this Node
 * does not have the accept callback this relies on: nothing was changed.
 */
export function acceptWithOnread(server: net.Server, onSocket: (socket: net.Socket) => void, onError: (err: Error) => void): boolean {
  const handle = (server as unknown as { _handle?: { onconnection?: unknown; setNoDelay?: (on: boolean) => number } })._handle;
  if (handle == null || typeof handle.onconnection !== 'function') return false;
  // Two system calls per connection saved where the kernel allows: Nagle is turned off on
  // the listening socket, which accepted sockets inherit on Linux (no setsockopt each); a
  // listener bound to one address (not a wildcard) knows every connection's local address
  // (no getsockname each). Node's Socket caches the latter in `_sockname`.
  const inheritsNoDelay = typeof handle.setNoDelay === 'function' && process.platform === 'linux' && handle.setNoDelay(true) === 0;
  const bound = server.address();
  const local = typeof bound === 'object' && bound !== null && bound.address !== '0.0.0.0' && bound.address !== '::' ? bound : undefined;
  handle.onconnection = (status: number, clientHandle: unknown): void => {
    if (status < 0 || clientHandle == null) {
      const code = status < 0 ? getSystemErrorName(status) : 'EACCEPT';
      onError(Object.assign(new Error(`accept: ${code}`), { code, errno: status }));
      return;
    }
    const st = new ClientState();
    if (rawSocketsAvailable) {
      // The handle itself, without net.Socket (raw-socket.ts); Nagle is off either way.
      const raw = RawSocket.accepted(clientHandle, clientReads, local, inheritsNoDelay) as unknown as ClientSocket;
      raw[kClient] = st;
      raw.setNoDelay(true);
      onSocket(raw);
      return;
    }
    const socket = new net.Socket({
      handle: clientHandle,
      allowHalfOpen: true,
      readable: true,
      writable: true,
      noDelay: inheritsNoDelay,
      onread: { buffer: shared, callback: onClientRead },
    } as unknown as net.SocketConstructorOpts) as ClientSocket;
    socket[kClient] = st;
    if (!inheritsNoDelay) socket.setNoDelay(true);
    if (local !== undefined) (socket as ClientSocket & { _sockname?: object })._sockname = { address: local.address, family: local.family, port: local.port };
    onSocket(socket);
  };
  return true;
}

/** Send the bytes of client `socket` to `reader` from now on; bytes that came before are handed over at once. */
export function setClientReader(socket: net.Socket, reader: ClientReader): void {
  const st = (socket as ClientSocket)[kClient];
  if (st === undefined) {
    // A socket from anywhere else (another Node, a test): its 'data' events.
    socket.on('data', (chunk: Buffer) => reader.clientBytes(socket, chunk, false));
    return;
  }
  st.reader = reader;
  const early = st.early;
  if (early === undefined) return;
  st.early = undefined;
  // Reading starts again on a later turn of the loop, after the handover below; a pause the
  // reader asks for meanwhile stands.
  if (st.earlyBytes >= EARLY_MAX && !socket.destroyed) socket.resume();
  st.earlyBytes = 0;
  for (const b of early) reader.clientBytes(socket, b, false);
}
