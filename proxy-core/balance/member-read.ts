// Reading member connections without a new Buffer per read.
//
// A socket read the usual way allocates a 64 KiB buffer per read, wraps it in a Buffer,
// pushes it through the Readable machinery and emits 'data'; at hundreds of MiB/s that
// garbage is most of the CPU and memory a large response costs. Member connections are
// opened with Node's `onread` option instead: the kernel reads into a buffer of the
// connection, and its reader is called with a view of the bytes, nothing else allocated.
//
// The bytes stay valid until the next read of the same connection. A reader that still
// references them when it returns (a write queued on the client socket, a partial head kept
// for later) returns true: the next read then goes to a fresh buffer, and the old one is
// left to whoever holds it. Otherwise one buffer serves every read of the connection, and
// goes to a new connection when this one closes.
//
// 'end', 'close', 'error' and 'drain' are the socket's usual events; pause() and resume()
// stop and start reading as for any socket.

import net from 'node:net';

/** Receives the bytes of a member connection. */
export interface MemberReader {
  /** `chunk` is valid only during the call unless this returns true (the bytes are kept). */
  memberBytes(socket: net.Socket, chunk: Buffer): boolean;
}

/**
 * Bytes per read: Node's own read size. Smaller reads cost as much per read, and a large
 * response needs four times as many at 16 KiB (twice the CPU, measured). An idle pooled
 * connection holds one such buffer.
 */
const READ_SIZE = 64 * 1024;
/** Buffers of closed connections kept for new ones, per thread. */
const FREE_MAX = 64;
const free: Buffer[] = [];

const kRead = Symbol('amphora.read');
type ReadSocket = net.Socket & { [kRead]?: ReadState };

class ReadState {
  reader: MemberReader | undefined = undefined;
  buf: Buffer | undefined = undefined;
  /** The bytes of the last read are referenced elsewhere: read into another buffer next. */
  kept = false;
  /** Bytes read while no reader was attached yet (copies), handed over by setReader(). */
  early: Buffer[] | undefined = undefined;
  /** onread's buffer source: asked once at connect and again after every read. */
  readonly next = (): Buffer => {
    if (this.buf === undefined || this.kept) {
      this.buf = free.pop() ?? Buffer.allocUnsafeSlow(READ_SIZE);
      this.kept = false;
    }
    return this.buf;
  };

  /** The connection closed: its buffer serves another one unless something still holds it. */
  closed(): void {
    const b = this.buf;
    this.buf = undefined;
    if (b !== undefined && !this.kept && free.length < FREE_MAX) free.push(b);
  }
}

function onMemberRead(this: ReadSocket, n: number, buf: Buffer): boolean {
  const st = this[kRead]!;
  const chunk = buf.subarray(0, n);
  const r = st.reader;
  if (r === undefined) (st.early ??= []).push(Buffer.from(chunk));
  else if (r.memberBytes(this, chunk)) st.kept = true;
  return true;
}

/** Connect to a member; the socket's bytes go to the reader set with setReader(). */
export function connectMember(host: string, port: number): net.Socket {
  const st = new ReadState();
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
