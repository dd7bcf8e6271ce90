// raw-pipe: node-pipe.ts without net.Socket, the floor of a proxy built on Node's raw TCP
// handles (`npm run bench -- --pipe raw` puts it in node-pipe's column).
//
// The same work as node-pipe: each client connection piped 1:1 to its own member connection
// (round robin), nothing parsed; plus the client's getpeername that any proxy writing
// X-Forwarded-For pays. But the sockets are libuv TCP handles driven directly through
// Node's internal bindings (process.binding('tcp_wrap'/'stream_wrap'), what node:net is built
// on): reads into one buffer per side with the handle's user-buffer mode, writes through
// WriteWrap (one request reused while writes complete at once, as proxy-core does), no
// stream state, no events, no timers. The bench runs it with proxy-core's Node options
// (bin/engine-options.js). On the 2-core dev machine (December 2026, Node 24.21), against
// HAProxy 2.6 in the same runs: keep-alive 0.90-1.02x HAProxy's CPU per request, where
// node-pipe measures 1.11-1.30x; a new connection per request 1.33-1.55x, node-pipe 1.73x.
// What separates node-pipe from HAProxy is mostly net.Socket, not Node's event loop.
//
// Not a proxy to run: no timeouts, no backpressure beyond swapping the read buffer while
// libuv holds a write, and it relies on bindings Node does not document.

import { parseArgs } from 'node:util';

interface Handle {
  onread: (() => Buffer | undefined) | undefined;
  onconnection: ((status: number, client: Handle | undefined) => void) | undefined;
  bind(address: string, port: number): number;
  listen(backlog: number): number;
  connect(req: object, address: string, port: number): number;
  setNoDelay(on: boolean): number;
  getpeername(out: object): number;
  useUserBuffer(buf: Buffer): void;
  readStart(): number;
  writeBuffer(req: object, data: Buffer): number;
  shutdown(req: object): number;
  close(): void;
  [kEnd]?: End;
}
interface TcpWrap {
  TCP: new (type: number) => Handle;
  TCPConnectWrap: new () => { oncomplete: (status: number, handle: Handle) => void; address: string; port: number };
  constants: { SOCKET: number; SERVER: number };
}
interface StreamWrap {
  WriteWrap: new () => { handle: Handle; oncomplete: (status: number) => void; async: boolean; buffer?: Buffer };
  ShutdownWrap: new () => { handle: Handle; oncomplete: () => void };
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  streamBaseState: Int32Array;
}

const binding = (process as unknown as { binding(name: string): unknown }).binding;
const { TCP, TCPConnectWrap, constants } = binding('tcp_wrap') as TcpWrap;
const { WriteWrap, ShutdownWrap, kReadBytesOrError, kLastWriteWasAsync, streamBaseState } = binding('stream_wrap') as StreamWrap;

const { values } = parseArgs({ options: { 'http-port': { type: 'string' }, 'tcp-port': { type: 'string' }, members: { type: 'string' } } });
const members = (values.members ?? '').split(',').map(Number);
if (members.length === 0 || members.some((p) => !(p > 0))) throw new Error('raw-pipe: --members PORT,PORT required');

const READ_SIZE = 64 * 1024;
const UV_EOF = -4095;
const kEnd = Symbol('end');
let next = 0;

/** One side of a piped connection. */
class End {
  peer: End = this;
  buf: Buffer = Buffer.allocUnsafeSlow(READ_SIZE);
  connected = false;
  ended = false;
  closed = false;
  /** Bytes for this side that came before it was connected. */
  early: Buffer[] | undefined = undefined;
  readonly handle: Handle;
  constructor(handle: Handle) {
    this.handle = handle;
    handle[kEnd] = this;
  }
}

function onRead(this: Handle): undefined {
  const e = this[kEnd]!;
  const n = streamBaseState[kReadBytesOrError]!;
  if (n > 0) {
    const p = e.peer;
    if (p.connected) send(p, e, n);
    else (p.early ??= []).push(Buffer.from(e.buf.subarray(0, n)));
  } else if (n < 0) {
    e.ended = true;
    if (n === UV_EOF && !e.peer.ended) shutdown(e.peer);
    else {
      close(e);
      close(e.peer);
    }
  }
  return undefined;
}

type WriteReq = InstanceType<StreamWrap['WriteWrap']>;

function afterWrite(this: WriteReq, status: number): void {
  this.buffer = undefined;
  if (status < 0) close(this.handle[kEnd]!);
}

/**
 * One write request serves every write the kernel takes whole, as in proxy-core
 * (runtime/raw-socket.ts): Node attaches the request to libuv only when the write is queued.
 */
let spare: WriteReq | undefined;

/** Write `n` bytes of `from`'s read buffer (or `data`) to `to`. */
function send(to: End, from: End, n: number, data: Buffer = n === from.buf.length ? from.buf : from.buf.subarray(0, n)): void {
  if (to.closed) return;
  const req = spare ?? new WriteWrap();
  spare = undefined;
  req.handle = to.handle;
  req.oncomplete = afterWrite;
  req.async = false;
  if (to.handle.writeBuffer(req, data) !== 0) return close(to);
  if (!streamBaseState[kLastWriteWasAsync]) {
    spare = req;
    return;
  }
  // libuv holds the request and the bytes until the write completes.
  req.buffer = data;
  if (data.buffer === from.buf.buffer) {
    // Read into a new buffer meanwhile.
    from.buf = Buffer.allocUnsafeSlow(READ_SIZE);
    from.handle.useUserBuffer(from.buf);
  }
}

function shutdown(e: End): void {
  if (e.closed) return;
  const req = new ShutdownWrap();
  req.handle = e.handle;
  req.oncomplete = () => {};
  if (e.handle.shutdown(req) !== 0) close(e);
}

function close(e: End): void {
  if (e.closed) return;
  e.closed = true;
  e.handle.close();
}

function startReading(e: End): void {
  e.handle.onread = onRead;
  e.handle.useUserBuffer(e.buf);
  e.handle.readStart();
}

function afterConnect(status: number, handle: Handle): void {
  const m = handle[kEnd]!;
  if (status < 0) {
    close(m);
    close(m.peer);
    return;
  }
  m.connected = true;
  handle.setNoDelay(true);
  startReading(m);
  const early = m.early;
  m.early = undefined;
  if (early) for (const b of early) send(m, m.peer, b.length, b);
}

function pipe(clientHandle: Handle): void {
  const c = new End(clientHandle);
  c.connected = true;
  clientHandle.setNoDelay(true);
  clientHandle.getpeername({});
  const m = new End(new TCP(constants.SOCKET));
  c.peer = m;
  m.peer = c;
  const req = new TCPConnectWrap();
  req.oncomplete = afterConnect;
  req.address = '127.0.0.1';
  req.port = members[next++ % members.length]!;
  if (m.handle.connect(req, req.address, req.port) !== 0) {
    close(c);
    close(m);
    return;
  }
  startReading(c);
}

for (const port of [values['http-port'], values['tcp-port']]) {
  if (!port) throw new Error('raw-pipe: --http-port and --tcp-port required');
  const server = new TCP(constants.SERVER);
  const err = server.bind('127.0.0.1', Number(port)) || server.listen(511);
  if (err) throw new Error(`raw-pipe: cannot listen on ${port} (${err})`);
  server.onconnection = (status, client) => {
    if (status >= 0 && client) pipe(client);
  };
}
process.on('SIGTERM', () => process.exit(0));
