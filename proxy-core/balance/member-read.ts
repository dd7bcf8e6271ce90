// Reading member connections without a new Buffer per read.
//
// A socket read the usual way allocates a 64 KiB buffer per read, wraps it in a Buffer,
// pushes it through the Readable machinery and emits 'data'; at hundreds of MiB/s that
// garbage is most of the CPU and memory a large response costs. Member connections are
// RawSockets (runtime/raw-socket.ts; net.Socket with Node's `onread` option where that is not
// available) instead: the kernel reads into a buffer of the connection, and its reader is
// called with a view of the bytes, nothing else allocated.
//
// The bytes stay valid until the next read of the same connection. A reader that still
// references them when it returns (a write queued on the client socket, a partial head kept
// for later) returns true: the next read then goes to a fresh buffer, and the old one is
// left to whoever holds it. Otherwise one buffer serves every read of the connection, and
// goes to a new connection when this one closes.
//
// Two sizes: a connection starts on a small buffer and moves to a large one when a read
// fills it (a large response is flowing: four times fewer reads, writes and callbacks per
// MiB), and back when reads are small again. Measured with `npm run bench` (1 MiB
// responses): CPU per response went from 1.3x HAProxy's (64 KiB reads) to 0.9-1.05x at
// 256 KiB, with throughput above HAProxy's; 128 KiB gave 1.05x, 512 KiB no further gain.
// Small exchanges and idle pooled connections keep the small buffer.
//
// 'end', 'close', 'error' and 'drain' are the socket's usual events; pause() and resume()
// stop and start reading as for any socket.

import { Buffer } from 'node:buffer';
import net from 'node:net';
import { RawSocket, rawSocketsAvailable, type RawSocketReader } from '../runtime/raw-socket.ts';
import { ReusedView } from '../runtime/views.ts';

/** Receives the bytes of a member connection. */
export interface MemberReader {
  /** `chunk` is valid only during the call unless this returns true (the bytes are kept). */
  memberBytes(socket: net.Socket, chunk: Buffer): boolean;
}

/**
 * Bytes per read while exchanges are small: Node's own read size. An idle pooled connection
 * holds one such buffer.
 */
const SMALL_READ = 64 * 1024;
/** Bytes per read once a read filled the small buffer (a large body is flowing). */
const LARGE_READ = 256 * 1024;
/** Buffers of closed (or resized) connections kept for new ones, per thread and size. */
const FREE_SMALL_MAX = 64;
const FREE_LARGE_MAX = 16;
const freeSmall: Buffer[] = [];
const freeLarge: Buffer[] = [];

function takeBuffer(large: boolean): Buffer {
  return (large ? freeLarge.pop() : freeSmall.pop()) ?? Buffer.allocUnsafeSlow(large ? LARGE_READ : SMALL_READ);
}

/** A buffer nothing references any more goes back to its free list (or to the GC). */
function giveBuffer(b: Buffer): void {
  if (b.length === LARGE_READ) {
    if (freeLarge.length < FREE_LARGE_MAX) freeLarge.push(b);
  } else if (freeSmall.length < FREE_SMALL_MAX) freeSmall.push(b);
}

const kRead = Symbol('amphora.read');
type ReadSocket = net.Socket & { [kRead]?: ReadState };

/** A member connection's read side: its buffers, and where its bytes go (RawSocket's reader too). */
class ReadState implements RawSocketReader {
  reader: MemberReader | undefined = undefined;
  buf: Buffer | undefined = undefined;
  /** The bytes of the last read are referenced elsewhere: read into another buffer next. */
  kept = false;
  /** Size of the last read. */
  last = 0;
  /** Bytes read while no reader was attached yet (copies), handed over by setReader(). */
  early: Buffer[] | undefined = undefined;
  /**
   * The view handed out for the last read, of `buf`: a read of the same size into the same
   * buffer gets the same view again (a keep-alive member answers in reads of one size) rather
   * than a new Buffer. A reader that keeps a view says so, and the next read goes elsewhere.
   */
  readonly view = new ReusedView();
  /** onread's buffer source: asked once at connect and again after every read. */
  readonly next = (): Buffer => {
    const b = this.buf;
    if (b === undefined) return (this.buf = takeBuffer(false));
    // Large while reads fill the buffer; small again once a read is small.
    const large = b.length === LARGE_READ ? this.last > SMALL_READ / 2 : this.last === b.length;
    if (!this.kept && large === (b.length === LARGE_READ)) return b;
    if (!this.kept) giveBuffer(b);
    this.kept = false;
    return (this.buf = takeBuffer(large));
  };

  /** The connection closed: its buffer serves another one unless something still holds it. */
  closed(): void {
    const b = this.buf;
    this.buf = undefined;
    if (b !== undefined && !this.kept) giveBuffer(b);
  }

  // RawSocket's reader: the buffer of the first read, then each read's bytes and the next buffer.
  first(): Buffer {
    return this.next();
  }

  read(socket: RawSocket, n: number): Buffer {
    delivered(this, socket as unknown as net.Socket, n, this.buf!);
    return this.next();
  }
}

/** `n` bytes were read into `buf`: a view of them to the reader (kept as a copy until there is one). */
function delivered(st: ReadState, socket: net.Socket, n: number, buf: Buffer): void {
  const chunk = st.view.get(buf, 0, n);
  st.last = n;
  const r = st.reader;
  if (r === undefined) (st.early ??= []).push(Buffer.from(chunk));
  else if (r.memberBytes(socket, chunk)) st.kept = true;
}

/** net.Socket's `onread` callback (a member that is not a RawSocket). */
function onMemberRead(this: ReadSocket, n: number, buf: Buffer): boolean {
  delivered(this[kRead]!, this, n, buf);
  return true;
}

/**
 * Connect to a member; the socket's bytes go to the reader set with setReader(). An IP
 * address gets a RawSocket (runtime/raw-socket.ts: the TCP handle without net.Socket's
 * streams) where this Node has its bindings; anything else a net.Socket. Both behave alike
 * for the engines, which see a net.Socket.
 */
export function connectMember(host: string, port: number): net.Socket {
  const st = new ReadState();
  if (rawSocketsAvailable && net.isIP(host) !== 0) {
    const m = RawSocket.connect(host, port, st) as unknown as ReadSocket;
    m[kRead] = st;
    return m;
  }
  const s = net.connect({
    host,
    port,
    allowHalfOpen: true,
    noDelay: true,
    onread: { buffer: st.next, callback: onMemberRead },
  }) as ReadSocket;
  s[kRead] = st;
  s.once('close', onMemberClose);
  return s;
}

function onMemberClose(this: ReadSocket): void {
  this[kRead]!.closed();
}

/**
 * Send the bytes of `socket` (made by connectMember()) to `reader` from now on; bytes that
 * came before are handed over at once.
 */
export function setReader(socket: net.Socket, reader: MemberReader): void {
  const st = (socket as ReadSocket)[kRead];
  if (st === undefined) throw new TypeError('setReader: not a member connection');
  st.reader = reader;
  const early = st.early;
  if (early !== undefined) {
    st.early = undefined;
    for (const b of early) reader.memberBytes(socket, b);
  }
}
