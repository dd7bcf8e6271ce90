// Connections on libuv's TCP handle, without net.Socket.
//
// A net.Socket carries a Readable and a Writable: per write, the stream state machine, a
// callback queue and a tick; per connection, a dozen objects and listeners. bench/raw-pipe.ts
// measured what that costs against the same pipe on the bare handle: keep-alive 1.11-1.30x
// HAProxy's CPU per request through net.Socket, 0.98-1.01x on the handle. The engines'
// connections are ours from accept or connect to close, so they use the handle (the binding
// node:net itself is built on, through process.binding; Node is pinned by package.json)
// behind the part of the net.Socket interface the engines use: write() / end() / destroy() /
// resetAndDestroy(), pause() / resume(), setNoDelay(), setTimeout(); 'connect', 'end',
// 'drain', 'timeout', 'error' then 'close'; `destroyed`, `connecting`, `writable`,
// `writableLength`, `readableEnded`, the addresses. Semantics follow net.Socket with
// allowHalfOpen: the peer's FIN is 'end' and leaves our side open; once both sides are shut
// the socket closes by itself.
//
// Reads go into the buffer the connection's reader hands out, and the reader gets the bytes
// read, as with net.Socket's `onread` (member-read.ts for members, client-read.ts for
// clients). Writes go straight to the handle; libuv writes at once when it can, else it
// queues the bytes (still referenced by the write request) and `write()` answers false past
// 16 KiB, with 'drain' when all went out.
//
// `rawSocketsAvailable` is false on a Node without these bindings, or with
// AMPHORA_TS_NET_SOCKETS=1 in the environment: the callers then use net.Socket.

import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { getSystemErrorName } from 'node:util';

interface TcpHandle {
  /** Must be a function (Node asserts it). */
  onread: () => Buffer | undefined;
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  setNoDelay(on: boolean): number;
  useUserBuffer(buf: Buffer): void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, data: Buffer): number;
  writeUtf8String(req: WriteReq, data: string): number;
  shutdown(req: ShutdownReq): number;
  /** Without a callback: Node then adds no property to the handle and calls no JS at the end. */
  close(): void;
  reset(): number;
  getpeername(out: AddressOut): number;
  getsockname(out: AddressOut): number;
  /** The socket on this handle (set with onread, in that order, for every handle: one shape). */
  rawOwner: RawSocket;
}
interface AddressOut {
  address?: string;
  family?: string;
  port?: number;
}
interface ConnectReq {
  oncomplete: (status: number, handle: TcpHandle) => void;
  address: string;
  port: number;
}
interface WriteReq {
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Buffer | string | undefined;
  owner: RawSocket | undefined;
}
interface ShutdownReq {
  handle: TcpHandle;
  oncomplete: (this: ShutdownReq, status: number) => void;
  owner: RawSocket | undefined;
}
interface Bindings {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectReq;
  SOCKET: number;
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  streamBaseState: Int32Array;
  UV_EOF: number;
}

function loadBindings(): Bindings | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const tcp = binding('tcp_wrap') as { TCP: Bindings['TCP']; TCPConnectWrap: Bindings['TCPConnectWrap']; constants: { SOCKET: number } };
    const stream = binding('stream_wrap') as unknown as Omit<Bindings, 'TCP' | 'TCPConnectWrap' | 'SOCKET' | 'UV_EOF'>;
    const uv = binding('uv') as { UV_EOF?: number };
    const b: Bindings = { ...stream, TCP: tcp.TCP, TCPConnectWrap: tcp.TCPConnectWrap, SOCKET: tcp.constants.SOCKET, UV_EOF: uv.UV_EOF ?? -4095 };
    const proto = b.TCP.prototype as Partial<TcpHandle>;
    const ok =
      typeof b.TCPConnectWrap === 'function' &&
      typeof b.WriteWrap === 'function' &&
      typeof b.ShutdownWrap === 'function' &&
      b.streamBaseState instanceof Int32Array &&
      typeof proto.useUserBuffer === 'function' &&
      typeof proto.writeBuffer === 'function' &&
      typeof proto.reset === 'function';
    return ok ? b : undefined;
  } catch {
    return undefined;
  }
}

/** AMPHORA_TS_NET_SOCKETS=1 keeps every connection on net.Socket (the way back, should the
 *  handle path misbehave on some Node). */
const B = process.env.AMPHORA_TS_NET_SOCKETS === '1' ? undefined : loadBindings();

/** True when connections use RawSocket: this Node has its bindings and nothing said no. */
export const rawSocketsAvailable = B !== undefined;

/** net.Socket's default writableHighWaterMark: write() answers false past this many queued bytes. */
const HIGH_WATER = 16 * 1024;

/** Where a connection's read bytes go, and which buffer the next read fills. */
export interface RawSocketReader {
  /** The buffer of the first read. */
  first(): Buffer;
  /** `n` bytes were read into the current buffer; answers the buffer of the next read. */
  read(socket: RawSocket, n: number): Buffer;
  /** The connection closed. */
  closed(): void;
}

function uvError(status: number, syscall: string, address?: string, port?: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  const where = address === undefined ? '' : ` ${address}:${port}`;
  return Object.assign(new Error(`${syscall} ${code}${where}`), { code, errno: status, syscall, address, port });
}

/** One TCP connection on its libuv handle (see the top of this file). */
export class RawSocket extends EventEmitter {
  destroyed = false;
  connecting: boolean;
  /** Bytes read so far. */
  bytesRead = 0;
  /** Always half-open, as the engines ask (kept for their `allowHalfOpen = true`). */
  allowHalfOpen = true;
  /** Bytes written but not yet handed to the kernel (queued before connect, or by libuv). */
  writableLength = 0;

  private readonly handle: TcpHandle;
  private readonly reader: RawSocketReader;
  /** Writes made before the connection was up. */
  private queued: Buffer[] | undefined = undefined;
  private needDrain = false;
  /** end() was called: shut our side once every write is out. */
  private ending = false;
  /** shutdown() was asked of libuv. */
  private shutSent = false;
  /** ... and has completed: our FIN is out. */
  private shutDone = false;
  /** The peer's FIN came. */
  private readEnded = false;
  private paused = false;
  private reading = false;
  private noDelay = false;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  private lastActive = 0;
  /** The addresses, once known (getpeername / getsockname at most once each). */
  private peer: AddressOut | undefined = undefined;
  private local: AddressOut | undefined = undefined;
  /** The error close() was given, for 'error' once the handle has closed. */
  private closeError: Error | undefined = undefined;

  /** Connect to `host` (an IP address: IPv6 iff it has a colon) and `port`. */
  static connect(host: string, port: number, reader: RawSocketReader): RawSocket {
    const b = B!;
    const s = new RawSocket(new b.TCP(b.SOCKET), reader, true);
    const v6 = host.includes(':');
    s.peer = { address: host, family: v6 ? 'IPv6' : 'IPv4', port };
    const req = new b.TCPConnectWrap();
    req.oncomplete = afterConnect;
    req.address = host;
    req.port = port;
    const err = v6 ? s.handle.connect6(req, host, port) : s.handle.connect(req, host, port);
    if (err !== 0) {
      const e = uvError(err, 'connect', host, port);
      process.nextTick(() => s.destroy(e));
    }
    return s;
  }

  /**
   * An accepted connection, `handle` as the listening handle's accept callback gives it;
   * reading starts at once. `local`: the listener's own address when it is not a wildcard
   * (no getsockname() then). `noDelay`: Nagle is off already (inherited from the listener).
   */
  static accepted(handle: unknown, reader: RawSocketReader, local: AddressOut | undefined, noDelay: boolean): RawSocket {
    const s = new RawSocket(handle as TcpHandle, reader, false);
    s.local = local;
    s.noDelay = noDelay;
    s.handle.useUserBuffer(reader.first());
    s.startReading();
    return s;
  }

  private constructor(handle: TcpHandle, reader: RawSocketReader, connecting: boolean) {
    super();
    this.handle = handle;
    this.reader = reader;
    this.connecting = connecting;
    // Every handle gets the same two properties in the same order, so the reads' and connects'
    // callbacks find the owner through one hidden class (a symbol key added at different points
    // made those loads megamorphic). Nothing reads before readStart().
    handle.onread = onHandleRead;
    handle.rawOwner = this;
  }

  // ----------------------------------------------------------------------------- addresses

  private peerName(): AddressOut {
    if (this.peer === undefined) {
      const out: AddressOut = {};
      this.peer = this.destroyed || this.handle.getpeername(out) !== 0 ? {} : out;
    }
    return this.peer;
  }

  private localName(): AddressOut {
    if (this.local === undefined) {
      const out: AddressOut = {};
      this.local = this.destroyed || this.handle.getsockname(out) !== 0 ? {} : out;
    }
    return this.local;
  }

  get remoteAddress(): string | undefined {
    return this.peerName().address;
  }
  get remotePort(): number | undefined {
    return this.peerName().port;
  }
  get remoteFamily(): string | undefined {
    return this.peerName().family;
  }
  get localAddress(): string | undefined {
    return this.localName().address;
  }
  get localPort(): number | undefined {
    return this.localName().port;
  }

  get writable(): boolean {
    return !this.destroyed && !this.ending;
  }

  /** The peer's FIN came ('end' was emitted). */
  get readableEnded(): boolean {
    return this.readEnded;
  }

  /** The connect completed (status 0) or failed. */
  connected(status: number): void {
    if (this.destroyed) return;
    if (status < 0) {
      this.destroy(uvError(status, 'connect', this.peer?.address, this.peer?.port));
      return;
    }
    this.connecting = false;
    const h = this.handle;
    h.useUserBuffer(this.reader.first());
    this.touch();
    this.emit('connect');
    if (this.destroyed) return;
    const q = this.queued;
    this.queued = undefined;
    if (q !== undefined) {
      for (const d of q) {
        this.writableLength -= d.length;
        if (!this.send(d)) break;
      }
    }
    // Nothing left with libuv: a pending end() shuts our side, a waiting writer gets 'drain'.
    if (this.writableLength === 0) this.flushed();
    if (!this.paused && !this.destroyed) this.startReading();
  }

  // ----------------------------------------------------------------------------- reading

  /** `n` bytes were read (n > 0), or the read ended (UV_EOF) or failed (n < 0). */
  onRead(n: number): Buffer | undefined {
    if (n > 0) {
      this.bytesRead += n;
      this.touch();
      return this.reader.read(this, n);
    }
    if (n === 0) return undefined;
    if (n === B!.UV_EOF) {
      this.stopReading();
      this.readEnded = true;
      this.emit('end');
      if (this.shutDone && !this.destroyed) this.destroy();
      return undefined;
    }
    this.destroy(uvError(n, 'read'));
    return undefined;
  }

  pause(): this {
    this.paused = true;
    this.stopReading();
    return this;
  }

  isPaused(): boolean {
    return this.paused;
  }

  resume(): this {
    this.paused = false;
    if (!this.connecting && !this.destroyed) this.startReading();
    return this;
  }

  private startReading(): void {
    if (this.reading || this.readEnded) return;
    this.reading = true;
    const err = this.handle.readStart();
    if (err !== 0) this.destroy(uvError(err, 'read'));
  }

  private stopReading(): void {
    if (!this.reading) return;
    this.reading = false;
    if (!this.destroyed) this.handle.readStop();
  }

  // ----------------------------------------------------------------------------- writing

  write(data: Buffer | Uint8Array | string): boolean {
    if (this.destroyed || this.ending) return false;
    const d = typeof data === 'string' || Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.connecting) {
      const b = typeof d === 'string' ? Buffer.from(d) : d;
      (this.queued ??= []).push(b);
      this.writableLength += b.length;
      return this.belowHighWater();
    }
    return this.send(d) && this.belowHighWater();
  }

  /** Hand `d` to libuv; false when that failed (the socket is being destroyed). */
  private send(d: Buffer | string): boolean {
    const b = B!;
    const req = spareWrite ?? newWriteReq(b);
    const err = typeof d === 'string' ? this.handle.writeUtf8String(req, d) : this.handle.writeBuffer(req, d);
    if (err !== 0) {
      // libuv may have taken the request before it failed: not used again.
      spareWrite = undefined;
      this.destroy(uvError(err, 'write'));
      return false;
    }
    this.touch();
    if (b.streamBaseState[b.kLastWriteWasAsync]) {
      // libuv holds the bytes until the write completes: they stay referenced by the request,
      // which is now libuv's (the next write takes a new one).
      spareWrite = undefined;
      const bytes = typeof d === 'string' ? Buffer.byteLength(d) : d.length;
      req.buffer = d;
      req.bytes = bytes;
      req.owner = this;
      req.async = true;
      this.writableLength += bytes;
    } else {
      spareWrite = req;
    }
    return true;
  }

  private belowHighWater(): boolean {
    if (this.writableLength < HIGH_WATER) return true;
    this.needDrain = true;
    return false;
  }

  /** A queued write completed. */
  writeDone(req: WriteReq, status: number): void {
    this.writableLength -= req.bytes;
    req.buffer = undefined;
    if (this.destroyed) return;
    if (status < 0) {
      this.destroy(uvError(status, 'write'));
      return;
    }
    if (this.writableLength === 0) this.flushed();
  }

  /** Every write is with the kernel. */
  private flushed(): void {
    if (this.ending) this.shutdown();
    if (this.needDrain && !this.destroyed) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  /** Shut our side once every write is out (as net.Socket's end()). */
  end(data?: Buffer | string): this {
    if (data !== undefined) this.write(data);
    if (this.ending || this.destroyed) return this;
    this.ending = true;
    if (!this.connecting && this.writableLength === 0) this.shutdown();
    return this;
  }

  private shutdown(): void {
    if (this.destroyed || this.shutSent) return;
    this.shutSent = true;
    const req = new B!.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = afterShutdown;
    req.owner = this;
    const err = this.handle.shutdown(req);
    if (err !== 0) this.destroy(uvError(err, 'shutdown'));
  }

  shutdownDone(status: number): void {
    if (this.destroyed) return;
    if (status < 0) {
      this.destroy(uvError(status, 'shutdown'));
      return;
    }
    this.shutDone = true;
    if (this.readEnded) this.destroy();
  }

  /** Nagle off (true) or on; a system call only when that changes it. */
  setNoDelay(on = true): this {
    if (on !== this.noDelay && !this.destroyed) {
      this.noDelay = on;
      this.handle.setNoDelay(on);
    }
    return this;
  }

  // ----------------------------------------------------------------------------- timeout

  /** 'timeout' after `ms` without reads or writes (0: none), as net.Socket's setTimeout. */
  setTimeout(ms: number): this {
    this.timeoutMs = ms;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (ms > 0 && !this.destroyed) {
      this.lastActive = Date.now();
      this.arm(ms);
    }
    return this;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(onTimer, ms, this);
    this.timer.unref();
  }

  private touch(): void {
    if (this.timeoutMs === 0) return;
    this.lastActive = Date.now();
    if (this.timer === undefined) this.arm(this.timeoutMs);
  }

  timerFired(): void {
    this.timer = undefined;
    if (this.destroyed || this.timeoutMs === 0) return;
    const left = this.lastActive + this.timeoutMs - Date.now();
    if (left > 0) this.arm(left);
    else this.emit('timeout');
  }

  // ----------------------------------------------------------------------------- closing

  /** Close now ('error' with `err` first when given, then 'close'). */
  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.close(err, false);
    return this;
  }

  /** Close with a reset (SO_LINGER 0): no FIN, no TIME_WAIT on our side. */
  resetAndDestroy(): this {
    if (this.destroyed) return this;
    this.close(undefined, !this.connecting);
    return this;
  }

  private close(err: Error | undefined, reset: boolean): void {
    this.destroyed = true;
    this.reading = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.queued = undefined;
    this.closeError = err;
    const h = this.handle;
    h.onread = ignoreRead;
    // libuv closes the descriptor now and stops reading and writing (the descriptor is gone when
    // close() returns); only the native wrapper's release waits for the loop's close phase. So
    // 'close' need not wait for libuv's close callback, which would cost a call into JS per
    // connection and a property added to the handle: it is emitted from the batch below.
    if (!reset || h.reset() !== 0) h.close();
    closedBatch.push(this);
    if (closedBatch.length === 1) setImmediate(emitClosed);
  }

  /** The handle is closed: the last event. */
  handleClosed(): void {
    const err = this.closeError;
    this.closeError = undefined;
    this.reader.closed();
    if (err !== undefined) this.emit('error', err);
    this.emit('close', err !== undefined);
  }
}

/**
 * The write request of the next write. A write the kernel took whole never touches its
 * request (Node only wraps one for a write libuv has to queue), so one request serves every
 * such write of the thread: two native object creations per proxied request fewer.
 */
let spareWrite: WriteReq | undefined = undefined;

function newWriteReq(b: Bindings): WriteReq {
  const req = new b.WriteWrap();
  req.oncomplete = afterWrite;
  req.async = false;
  req.owner = undefined;
  return req;
}

function afterConnect(status: number, handle: TcpHandle): void {
  handle.rawOwner.connected(status);
}

function onHandleRead(this: TcpHandle): Buffer | undefined {
  return this.rawOwner.onRead(B!.streamBaseState[B!.kReadBytesOrError]!);
}

function afterWrite(this: WriteReq, status: number): void {
  const owner = this.owner;
  // The request may be old (the spare of many writes before this one): left pointing at the
  // socket, it would keep the socket and all it references until the next full GC.
  this.owner = undefined;
  owner?.writeDone(this, status);
}

function afterShutdown(this: ShutdownReq, status: number): void {
  this.owner?.shutdownDone(status);
}

/**
 * Sockets closed since the last batch, whose 'close' is still to come: emitted from one
 * setImmediate (the loop turn's check phase, just before the close phase in which libuv
 * would have called back), in the order they closed. A new array per batch, young like the
 * sockets it holds.
 */
let closedBatch: RawSocket[] = [];

function emitClosed(): void {
  const batch = closedBatch;
  closedBatch = [];
  for (const s of batch) s.handleClosed();
}

function ignoreRead(): undefined {
  return undefined;
}

function onTimer(s: RawSocket): void {
  s.timerFired();
}
