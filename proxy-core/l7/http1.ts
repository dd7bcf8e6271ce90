// Mode http: one client connection speaking HTTP/1.x, proxied request by request to members.
//
//   idle ─ head ─ rules ─ session (pick/queue/connect or pooled) ─ exchange ─┬─ idle (keep-alive)
//     ▲                                                                       ├─ tunnel (101, CONNECT 2xx)
//     └────────────────────── pipelined requests, in order ◀─────────────────┴─ close
//
// One H1Conn per client connection, plain fields, no closure rebuilt per request. The
// request head is parsed once (http1-parser.ts) from the Buffer it arrived in, the rules
// (rules.ts) decide, the rewritten head is written with the body bytes already here in one
// write, then the body streams as bytes while its framing is tracked (Content-Length count
// or chunked tracker). The response head is parsed the same way; when nothing needs to
// change it is forwarded as the member sent it, in the same write as the body bytes that
// came with it. Member connections come from startSession() and go back to the worker's pool
// (pool.ts) once an exchange ends cleanly.
//
// Statuses, as HAProxy: malformed request 400 (413/422 for HAProxy's special cases), head
// not complete in `timeout http-request` 408, deny 403 (or deny_status), no usable member or
// queue timeout or connect failure after retries 503, no response head within `timeout
// server` 504, member closed/reset/invalid before a complete head 502. A keep-alive
// connection idle past `timeout http-keep-alive` closes silently. 400/408/413/422 end the
// connection; after 403/502/503/504 it stays open when the request was read whole (HAProxy
// 2.6 does both; errors.ts).
//
// Wire details copied from HAProxy 2.6 (checked against it, test/diff): requests reach
// members with header names in lower case, `HTTP/1.1` for any version read as 1.1, the
// client's Connection header replaced by the engine's own (nothing for HTTP/1.1, keep-alive
// for HTTP/1.0, close only in server-close modes: a client closing does not close the member
// connection); responses lose the member's Connection header (Keep-Alive passes) and get
// ours when needed; a chunked response to an HTTP/1.0 client is unwrapped.
//
// Timeouts: no timer per socket. The connection registers with the ticker (pool.ts) and
// compares plain deadline fields, bumped on activity, when it is called.
//
// `Buffer` and `performance` are imported here and in the other hot-path modules: Node's
// globals of those names are getters, called on every use.

import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import type net from 'node:net';
import type { BackendPlan, FrontendPlan, MemberPlan, Plan } from '../compile/plan.ts';
import { endSession, startSession, type SessionError, type SessionOwner } from '../balance/session.ts';
import type { PickContext } from '../balance/balancer.ts';
import { T, type Counters } from '../runtime/counters.ts';
import { setClientReader, type ClientReader } from '../runtime/client-read.ts';
import type { Drainable, WorkerEnv } from '../runtime/env.ts';
import { Link } from '../runtime/links.ts';
import { ReusedView } from '../runtime/views.ts';
import { errorResponse, replyResponse } from './errors.ts';
import {
  ChunkedTracker,
  DEFAULT_MAX_HEADERS,
  findHeadEnd,
  headScanResume,
  HK,
  NEED_MORE,
  NO_BYTES,
  skipLeadingEmptyLines,
} from './http1-parser.ts';
import { copySmall, Txn } from './message.ts';
import {
  MODE_CLOSE,
  MODE_KEEP_ALIVE,
  V_CONTINUE,
  V_DENY,
  V_REDIRECT,
  V_REJECT,
  applyForwardFor,
  backendRulesApply,
  evaluateFrontend,
  redirectResponse,
  runRules,
  type BackendHttp,
  type FrontendHttp,
  type RedirectPlan,
} from './rules.ts';
import {
  memberKey,
  now,
  release,
  takeIdle,
  upstreamOf,
  unwatch,
  watch,
  type Upstream,
  type UpstreamOwner,
} from './pool.ts';

/** Serve one accepted mode-http client connection on frontend `fe`. */
export function serveHttp1(client: net.Socket, fe: FrontendPlan, env: WorkerEnv): void {
  const plan = env.plan;
  // After a reload the worker may hand a frontend of the previous plan: use this plan's.
  const current = plan.frontendsByName.get(fe.name) ?? fe;
  if (current.http === undefined) {
    client.destroy();
    return;
  }
  const c = new H1Conn(client as H1Socket, current, plan, env);
  c.begin();
}

/** The H1Conn of a client socket: the socket's listeners are module functions, not closures. */
const kConn = Symbol('amphora.h1');
type H1Socket = net.Socket & { [kConn]?: H1Conn };

function onClientEnd(this: H1Socket): void {
  this[kConn]!.clientEnd();
}
function onClientDrain(this: H1Socket): void {
  this[kConn]!.clientDrain();
}
function onClientClose(this: H1Socket): void {
  this[kConn]!.clientGone();
}
function ignore(): void {}

/**
 * Transactions of closed connections, for new ones: a Txn's typed arrays cost more to make
 * than to keep. Kept per worker thread, a bounded number.
 */
const freeTxns: Txn[] = [];
const FREE_TXNS_MAX = 256;

function takeTxn(maxHeaders: number): Txn {
  const t = freeTxns.pop();
  return t !== undefined && t.req.head.maxHeaders === maxHeaders ? t : new Txn(maxHeaders);
}

function giveTxn(t: Txn): void {
  if (freeTxns.length >= FREE_TXNS_MAX) return;
  t.forget();
  freeTxns.push(t);
}

// Connection phases.
const P_IDLE = 0; // waiting for a request's first byte
const P_HEAD = 1; // part of a head received
const P_SESSION = 2; // head accepted, waiting for startSession's answer
const P_EXCHANGE = 3; // member connected: request body and/or response flowing
const P_TUNNEL = 4; // after 101 / CONNECT 2xx: raw bytes both ways
const P_CLOSING = 5; // last response written, waiting for the client to go (lingering close)
const P_CLOSED = 6;

// Body framings.
const B_NONE = 0;
const B_LENGTH = 1;
const B_CHUNKED = 2;
const B_UNTIL_CLOSE = 3;

// Response states.
const R_HEAD = 0;
const R_BODY = 1;
const R_DONE = 2;

// Why the client socket is paused (bits).
const PAUSE_UPSTREAM = 1; // member not draining request bytes
const PAUSE_BUFFER = 2; // too much pipelined / pending input while busy

/** The Connection header is never forwarded as is (HAProxy writes its own; Keep-Alive passes). */
const CONN_KIND = 1 << HK.connection;
const CL_KIND = 1 << HK.contentLength;
const TE_KIND = 1 << HK.transferEncoding;

/** Buffered-but-unprocessed client bytes beyond which reading pauses. */
const INPUT_HIGH_WATER = 64 * 1024;
/** Body bytes held while connecting beyond which reading pauses. */
const PENDING_HIGH_WATER = 64 * 1024;
/** Body bytes copied into the same write as the head at most. */
const COALESCE_MAX = 16 * 1024;
/**
 * How long a closing connection may linger for the client to read our last response and
 * close its side, unless `timeout client-fin` says how long to wait for a half-closed client.
 */
const LINGER_MS = 2000;

/** How a head we write ends: our Connection header if any, then the empty line. */
const END_PLAIN = '\r\n';
const END_CLOSE = 'connection: close\r\n\r\n';
const END_KEEP_ALIVE = 'connection: keep-alive\r\n\r\n';

interface Limits {
  /** Largest head accepted: tune.bufsize - tune.maxrewrite (HAProxy: 16384 - 1024). */
  maxHead: number;
  maxHeaders: number;
}

const limitsByPlan = new WeakMap<Plan, Limits>();

function limitsOf(plan: Plan): Limits {
  let l = limitsByPlan.get(plan);
  if (!l) {
    const tune = plan.config.global?.tune ?? {};
    const bufsize = Number(tune['tune.bufsize'] ?? 16384) || 16384;
    let maxrewrite = Number(tune['tune.maxrewrite'] ?? 1024);
    if (!(maxrewrite >= 0) || maxrewrite >= bufsize / 2) maxrewrite = Math.floor(bufsize / 2);
    const maxHeaders = Number(tune['tune.http.maxhdr'] ?? DEFAULT_MAX_HEADERS) || DEFAULT_MAX_HEADERS;
    l = { maxHead: bufsize - maxrewrite, maxHeaders };
    limitsByPlan.set(plan, l);
  }
  return l;
}

function statusCell(status: number): number {
  if (status < 100) return T.hrspOther;
  if (status < 200) return T.hrsp1xx;
  if (status < 300) return T.hrsp2xx;
  if (status < 400) return T.hrsp3xx;
  if (status < 500) return T.hrsp4xx;
  if (status < 600) return T.hrsp5xx;
  return T.hrspOther;
}

function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE' || method === 'PUT' || method === 'DELETE';
}

function v4(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.indexOf('.') > 0 ? addr.slice(7) : addr;
}

/** The request head buffer a keep-alive connection keeps (a larger head gets one of its own). */
const REQ_OUT_KEEP = 512;

/** A copy of buf[from, to) of its own. */
function ownCopy(buf: Buffer, from: number, to = buf.length): Buffer {
  const own = Buffer.allocUnsafe(to - from);
  copySmall(buf, from, to, own, 0);
  return own;
}

/** The unread tail of `buf` (from `off`) followed by `chunk`, in one new buffer: the rare
 *  case of a head split over reads, for the request and the response side alike. */
function joinRest(buf: Buffer, off: number, chunk: Buffer): Buffer {
  const rest = buf.length - off;
  const joined = Buffer.allocUnsafe(rest + chunk.length);
  buf.copy(joined, 0, off);
  chunk.copy(joined, rest);
  return joined;
}

/** One client connection. */
class H1Conn extends Link implements UpstreamOwner, SessionOwner, Drainable, ClientReader {
  readonly client: H1Socket;
  readonly env: WorkerEnv;
  plan: Plan;
  fe: FrontendPlan;
  feHttp: FrontendHttp;
  /** Counters of the current plan (requests), and those the connection entered (scur). */
  counters: Counters;
  private readonly entered: Counters;
  private readonly enteredFe: number;
  private readonly enteredGlobal: number;
  private limits: Limits;

  readonly txn: Txn;
  private readonly route: { backend: BackendPlan | undefined } = { backend: undefined };
  private readonly pick: PickContext;

  phase = P_IDLE;
  /** Requests started on this connection. */
  requests = 0;
  /** Client bytes not processed yet, from inOff. */
  private inBuf: Buffer | undefined = undefined;
  /** inBuf (and the head parsed from it) are lent bytes, during clientBytes() only. */
  private lent = false;
  private inOff = 0;
  /** The head at inOff came in pieces: findHeadEnd resumes at scanFrom. */
  private scanning = false;
  private scanFrom = 0;
  private paused = 0;
  private parsing = false;
  private clientEnded = false;
  /** Close the client connection once the current response is written. */
  private closeAfter = false;
  /** The current request asked to close (`Connection: close`, or HTTP/1.0 without keep-alive). */
  private clientSaidClose = false;

  // deadlines (ms since epoch, 0 = none)
  private idleDeadline = 0;
  private headDeadline = 0;
  private clientDeadline = 0;
  private serverDeadline = 0;
  private lingerDeadline = 0;
  /** Client not draining what we write. */
  private clientBlocked = false;
  /** Member reading paused because the client does not drain. */
  private upPaused = false;

  // ---- current exchange
  be: BackendPlan | undefined = undefined;
  beHttp: BackendHttp | undefined = undefined;
  member: MemberPlan | undefined = undefined;
  up: Upstream | undefined = undefined;
  /** Counters startSession used (endSession must get the same). */
  private sessCounters: Counters | undefined = undefined;
  private sessionOpen = false;
  private reused = false;
  /** Only fresh connections on the next startSession (a reused one failed). */
  private forceFresh = false;
  /**
   * performance.now() marks of the exchange, for the qtime / ctime / rtime / ttime
   * statistics: ready for this request (accept or end of the previous response, as HAProxy's
   * Tt counts), session asked, member connection ready, response head in; `queuedMs` from
   * the session.
   */
  private tStart = 0;
  private tSession = 0;
  /** Inside startSession(): a pooled connection handed over at once took no time to get. */
  private starting = false;
  private tReady = 0;
  private tHead = 0;
  /** Inside startResponse(): the exchange may end there, at tHead. */
  private inHead = false;
  private queuedMs = 0;
  /** Member connection kept for this client only (http-reuse never). */
  private privateUp: Upstream | undefined = undefined;

  private reqBody = B_NONE;
  private reqRemaining = 0;
  private readonly reqChunks = new ChunkedTracker();
  private reqDone = true;
  /** Body bytes received before the member connection was there. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** What was written to the member when it can be written again (request complete in it). */
  private replay: Buffer | undefined = undefined;
  /**
   * The buffer request heads are written into, kept for the next request while the kernel
   * took each write at once (a queued write keeps its bytes: a new one is made then), and the
   * view of it last sent: a keep-alive client's requests are mostly the same size, so the same
   * view serves again and no Buffer is made per request.
   */
  private reqOut: Buffer | undefined = undefined;
  private readonly reqView = new ReusedView();
  /**
   * What the head in reqOut was made of, when nothing was deleted from it nor any body byte
   * added: the parse of the request head (Head.parses), the tail, the kinds skipped, and its
   * length (0: nothing reusable). The same again (a keep-alive client's repeated request,
   * through the same rules) is the same bytes: they are sent again as they are.
   */
  private reqOutParse = 0;
  private reqOutTail: Buffer | undefined = undefined;
  private reqOutSkip = 0;
  private reqOutLen = 0;
  private retried = false;
  /** The request was counted on its backend and server. */
  private reqCounted = false;
  private isHead = false;
  private isConnect = false;
  private wantsUpgrade = false;
  /** Client speaks HTTP/1.0 and asked for keep-alive: say so in responses. */
  private client10KeepAlive = false;
  /** The member connection closes after this request (http-server-close / httpclose). */
  private serverClose = false;

  private resState = R_HEAD;
  private resBody = B_NONE;
  private resRemaining = 0;
  private readonly resChunks = new ChunkedTracker();
  private resBuf: Buffer | undefined = undefined;
  private resOff = 0;
  private resScan = 0;
  private resScanning = false;
  /** Any byte from the member for this request; any byte of a response sent to the client. */
  private gotResponseBytes = false;
  private responseStarted = false;
  /** The member connection may serve another request after this response. */
  private upKeep = true;
  /** Bytes of this exchange, added to backend and server totals at its end. */
  private exBin = 0;
  private exBout = 0;
  /** Response chunks are being unwrapped for an HTTP/1.0 client. */
  private dechunking = false;
  private tunnelClientEnded = false;
  private tunnelServerEnded = false;

  constructor(client: H1Socket, fe: FrontendPlan, plan: Plan, env: WorkerEnv) {
    super();
    this.client = client;
    this.env = env;
    this.plan = plan;
    this.fe = fe;
    this.feHttp = fe.http as FrontendHttp;
    this.counters = plan.counters;
    this.entered = plan.counters;
    this.enteredFe = fe.slot;
    this.enteredGlobal = plan.globalSlot;
    this.limits = limitsOf(plan);
    this.txn = takeTxn(this.limits.maxHeaders);
    this.txn.setAddresses(v4(client.remoteAddress), client.remotePort ?? 0, v4(client.localAddress), client.localPort ?? 0);
    this.txn.frontendName = fe.name;
    this.pick = { src: this.txn.src, dstPort: this.txn.dstPort };
  }

  begin(): void {
    const c = this.client;
    this.entered.enter(this.enteredGlobal);
    this.entered.enter(this.enteredFe);
    this.env.track(c, this);
    c[kConn] = this;
    c.allowHalfOpen = true;
    c.setNoDelay(true);
    c.on('end', onClientEnd);
    c.on('drain', onClientDrain);
    c.on('error', ignore);
    c.on('close', onClientClose);
    watch(this);
    const t = this.fe.timeouts.httpRequest;
    this.idleDeadline = t > 0 ? now() + t : 0;
    this.tStart = performance.now();
    if (this.env.stopping) this.closeAfter = true;
    // Last: bytes that arrived while the connection waited for admission are handled now.
    setClientReader(c, this);
  }

  // ------------------------------------------------------------------- client input

  /** Lent bytes are read where they are (client-read.ts): see clientBytes(). */
  readonly takesLent = true;

  /**
   * Bytes from the client. A lent chunk (the thread's shared read buffer, valid during this call
   * only) is parsed in place when it starts a new head and nothing is pending: a request that is
   * parsed and forwarded within the call is never copied but into what goes to the member.
   * Anything kept past the call is copied first (settleLent()); in any other state the chunk is
   * copied at once, as it may be queued, held or written.
   */
  clientBytes(_socket: net.Socket, chunk: Buffer, lent: boolean): void {
    this.counters.add(this.fe.slot, T.bin, chunk.length);
    const phase = this.phase;
    if (lent) {
      if ((phase === P_IDLE || phase === P_HEAD) && (this.inBuf === undefined || this.inOff >= this.inBuf.length)) {
        this.inBuf = chunk;
        this.inOff = 0;
        this.lent = true;
        this.parseLoop();
        this.settleLent(chunk);
        return;
      }
      chunk = ownCopy(chunk, 0);
    }
    switch (phase) {
      case P_IDLE:
      case P_HEAD:
        this.append(chunk);
        this.parseLoop();
        return;
      case P_SESSION:
      case P_EXCHANGE:
        if (!this.reqDone) {
          this.clientDeadline = this.fe.timeouts.client > 0 ? now() + this.fe.timeouts.client : 0;
          this.feedBody(chunk, 0);
        } else {
          this.append(chunk);
          if (this.inBuf!.length - this.inOff > INPUT_HIGH_WATER) this.pauseClient(PAUSE_BUFFER);
        }
        return;
      case P_TUNNEL:
        this.bumpTunnel();
        this.exBin += chunk.length;
        if (this.up && !this.up.socket.write(chunk)) this.pauseClient(PAUSE_UPSTREAM);
        return;
      default:
        // closing: what the client still sends is read and dropped
        return;
    }
  }

  /**
   * End of a call with lent bytes: what is kept of them is copied. Unparsed input (a partial
   * head, pipelined requests) stays as a copy. The request head stays, as a copy, while
   * something may still read it: the request is not sent yet (its member connection is
   * pending), or http-response rules may look at the request. Otherwise it points at no
   * bytes, so that nothing can read another connection's bytes through it.
   */
  private settleLent(chunk: Buffer): void {
    this.lent = false;
    if (this.inBuf === chunk) {
      const off = this.inOff;
      this.inBuf = off < chunk.length ? ownCopy(chunk, off) : undefined;
      this.scanFrom = Math.max(0, this.scanFrom - off);
      this.inOff = 0;
    }
    const head = this.txn.req.head;
    if (head.buf !== chunk) return;
    const phase = this.phase;
    if (phase === P_SESSION || (phase === P_EXCHANGE && this.responseRulesRun())) head.detach();
    else head.buf = NO_BYTES;
  }

  /** Whether http-response rules run on the current exchange (they may fetch request data). */
  private responseRulesRun(): boolean {
    const beHttp = this.beHttp;
    return this.feHttp.responseRules.length > 0 || (beHttp !== undefined && beHttp.responseRules.length > 0);
  }

  /** Keep `chunk` as unprocessed input. */
  private append(chunk: Buffer): void {
    const buf = this.inBuf;
    if (buf === undefined || this.inOff >= buf.length) {
      this.inBuf = chunk;
      this.inOff = 0;
      return;
    }
    // Rare: a head in several reads, or pipelined bytes behind a busy request.
    this.scanFrom = Math.max(0, this.scanFrom - this.inOff);
    this.inBuf = joinRest(buf, this.inOff, chunk);
    this.inOff = 0;
  }

  /** Parse and start every complete request head in the input while the connection is free. */
  private parseLoop(): void {
    if (this.parsing) return; // an answer given inside the loop: the loop goes on by itself
    this.parsing = true;
    try {
      this.parseHeads();
    } finally {
      this.parsing = false;
    }
  }

  private parseHeads(): void {
    while (this.phase === P_IDLE || this.phase === P_HEAD) {
      const buf = this.inBuf;
      if (buf === undefined || this.inOff >= buf.length) {
        this.inBuf = undefined;
        return;
      }
      if (this.phase === P_IDLE) {
        const p = skipLeadingEmptyLines(buf, this.inOff, buf.length);
        this.inOff = p;
        this.scanning = false;
        if (p >= buf.length) {
          this.inBuf = undefined;
          return;
        }
        this.phase = P_HEAD;
        const t = this.fe.timeouts.httpRequest;
        this.headDeadline = t > 0 ? now() + t : 0;
        this.idleDeadline = 0;
      }
      if (this.scanning) {
        // The head came in pieces: look for its end without parsing it again each time.
        const end = findHeadEnd(buf, this.scanFrom, buf.length);
        if (end < 0) {
          if (buf.length - this.inOff > this.limits.maxHead) {
            this.requestError(400, false);
            return;
          }
          this.scanFrom = headScanResume(this.inOff, buf.length);
          return;
        }
        this.scanning = false;
      }
      if (!this.startRequest(buf)) return;
    }
  }

  /**
   * Parse the head at buf[inOff], run the rules, go to a member. False when the head is not
   * complete yet (scanning for its end from now on).
   */
  private startRequest(buf: Buffer): boolean {
    // A request uses the plan current when its head arrived.
    if (this.env.plan !== this.plan) this.switchPlan(this.env.plan);
    const t = this.txn;
    const head = t.req.head;
    const r = head.parseRequest(buf, this.inOff);
    if (r === NEED_MORE) {
      if (buf.length - this.inOff > this.limits.maxHead) {
        this.requestError(400, false);
      } else {
        this.scanning = true;
        this.scanFrom = headScanResume(this.inOff, buf.length);
      }
      return false;
    }
    const c = this.counters;
    const fe = this.fe;
    this.requests++;
    c.add(fe.slot, T.reqTot);
    this.resetExchange();
    t.beginRequest();
    this.headDeadline = 0;
    if (r < 0 || r - this.inOff > this.limits.maxHead) {
      this.inOff = buf.length;
      this.requestError(r < 0 ? -r : 400, true);
      return true;
    }
    this.inOff = r;
    this.isHead = head.method === 'HEAD';
    this.isConnect = head.method === 'CONNECT';
    this.wantsUpgrade = head.upgrade && head.connUpgrade;
    const keepAlive = head.version === 11 ? !head.connClose : head.connKeepAlive && !head.connClose;
    this.client10KeepAlive = head.version === 10 && keepAlive;
    this.clientSaidClose = !keepAlive;
    if (!keepAlive || this.env.stopping || this.feHttp.closeMode === MODE_CLOSE) this.closeAfter = true;
    // HAProxy closes after a Transfer-Encoding request in HTTP/1.0.
    if (head.te && head.version === 10) this.closeAfter = true;
    if (head.chunked) {
      this.reqBody = B_CHUNKED;
      this.reqChunks.reset();
      this.reqChunks.maxTrailer = this.limits.maxHead;
      this.reqDone = false;
    } else if (head.contentLength > 0) {
      this.reqBody = B_LENGTH;
      this.reqRemaining = head.contentLength;
      this.reqDone = false;
    } else {
      this.reqBody = B_NONE;
      this.reqDone = true;
    }

    // HAProxy order: frontend http-request, redirect, use_backend, default_backend.
    const feHttp = this.feHttp;
    const route = this.route;
    route.backend = undefined;
    let v = evaluateFrontend(feHttp, t, route);
    if (v === V_CONTINUE) {
      const be = route.backend as BackendPlan | undefined;
      if (be === undefined) {
        this.reply(503);
        return true;
      }
      this.be = be;
      c.add(be.slot, T.reqTot);
      const beHttp = be.http as BackendHttp | undefined;
      this.beHttp = beHttp;
      t.backendName = be.name;
      if (beHttp !== undefined && backendRulesApply(feHttp, beHttp)) v = runRules(beHttp.requestRules, t, t.req);
      if (v === V_CONTINUE) applyForwardFor(feHttp, beHttp, t);
      if (v === V_CONTINUE && beHttp && beHttp.closeMode === MODE_CLOSE) this.closeAfter = true;
      // http-server-close / httpclose on either side: the member connection ends with this request.
      // A client closing does not close the member connection (HAProxy keeps it).
      this.serverClose = feHttp.closeMode !== MODE_KEEP_ALIVE || (beHttp !== undefined && beHttp.closeMode !== MODE_KEEP_ALIVE);
    }
    if (v !== V_CONTINUE) {
      this.intercepted(v);
      return true;
    }

    this.phase = P_SESSION;
    // Body bytes that came with the head (validated now, sent with the head).
    if (!this.reqDone) {
      const rest = this.inBuf!;
      const off = this.inOff;
      this.inBuf = undefined;
      this.inOff = 0;
      // Body bytes are held or written: never lent ones.
      if (off < rest.length) {
        if (this.lent) this.feedBody(ownCopy(rest, off), 0);
        else this.feedBody(rest, off);
      }
      if (this.phase !== P_SESSION) return true; // invalid body
    }
    this.sessCounters = c;
    this.tSession = performance.now();
    // Never cancelled: like HAProxy without `option abortonclose`, a queued or connecting
    // request goes on when its client leaves; sessionReady() then hands the connection back.
    this.starting = true;
    startSession(this.be!, this.pick, c, this);
    this.starting = false;
    return true;
  }

  private switchPlan(plan: Plan): void {
    const fe = plan.frontendsByName.get(this.fe.name);
    this.plan = plan;
    this.counters = plan.counters;
    this.limits = limitsOf(plan);
    if (fe !== undefined && fe.http !== undefined) {
      this.fe = fe;
      this.feHttp = fe.http as FrontendHttp;
    }
  }

  private resetExchange(): void {
    this.be = undefined;
    this.beHttp = undefined;
    this.member = undefined;
    this.reused = false;
    this.forceFresh = false;
    this.replay = undefined;
    this.retried = false;
    this.reqCounted = false;
    if (this.pending.length > 0) this.pending.length = 0;
    this.pendingBytes = 0;
    this.resState = R_HEAD;
    this.resBody = B_NONE;
    this.resBuf = undefined;
    this.resOff = 0;
    this.resScanning = false;
    if (this.dechunking) {
      this.dechunking = false;
      this.resChunks.sink = undefined;
    }
    this.gotResponseBytes = false;
    this.responseStarted = false;
    this.upKeep = true;
    this.exBin = 0;
    this.exBout = 0;
    this.clientDeadline = 0;
    this.serverDeadline = 0;
  }

  /** A rule answered: deny, reject or redirect. */
  private intercepted(v: number): void {
    const c = this.counters;
    const fe = this.fe.slot;
    if (v === V_DENY) {
      c.add(fe, T.dreq);
      c.add(fe, T.intercepted);
      if (this.be) c.add(this.be.slot, T.dreq);
      this.reply(this.txn.denyStatus);
    } else if (v === V_REJECT) {
      c.add(fe, T.dreq);
      if (this.be) c.add(this.be.slot, T.dreq);
      this.destroy();
    } else if (v === V_REDIRECT) {
      c.add(fe, T.intercepted);
      c.add(fe, T.hrsp3xx);
      // Keep-alive when the request has no body left to read (HAProxy closes otherwise).
      if (!this.reqDone) this.closeAfter = true;
      const r = this.txn.redirect as RedirectPlan;
      this.writeClient(redirectResponse(r, this.txn, this.closeAfter));
      this.endOfResponse();
    }
  }

  // --------------------------------------------------------------- request body

  /**
   * Route the request-body bytes of buf[off..] to the member (or hold them while
   * connecting); bytes after the body are the next request: kept as input.
   */
  private feedBody(buf: Buffer, off: number): void {
    const end = buf.length;
    let stop: number;
    if (this.reqBody === B_LENGTH) {
      const n = Math.min(this.reqRemaining, end - off);
      this.reqRemaining -= n;
      stop = off + n;
      if (this.reqRemaining === 0) this.reqDone = true;
    } else {
      const r = this.reqChunks.feed(buf, off, end);
      if (r === ChunkedTracker.INVALID) {
        this.bodyError();
        return;
      }
      if (r >= 0) {
        stop = r;
        this.reqDone = true;
      } else stop = end;
    }
    if (stop > off) this.sendBody(off === 0 && stop === end ? buf : buf.subarray(off, stop));
    if (this.reqDone) {
      this.clientDeadline = 0;
      if (stop < end) {
        this.append(stop === 0 ? buf : buf.subarray(stop));
        if (this.inBuf!.length - this.inOff > INPUT_HIGH_WATER) this.pauseClient(PAUSE_BUFFER);
      }
    }
  }

  private sendBody(b: Buffer): void {
    if (this.phase === P_EXCHANGE && this.up) {
      this.exBin += b.length;
      this.bumpServer();
      if (!this.up.socket.write(b)) this.pauseClient(PAUSE_UPSTREAM);
      return;
    }
    this.pending.push(b);
    this.pendingBytes += b.length;
    if (this.pendingBytes > PENDING_HIGH_WATER) this.pauseClient(PAUSE_UPSTREAM);
  }

  /** Invalid chunked framing from the client. */
  private bodyError(): void {
    this.counters.add(this.fe.slot, T.ereq);
    if (!this.responseStarted) {
      this.dropUpstream(false);
      this.httpError(400);
    } else {
      this.destroy();
    }
  }

  // ----------------------------------------------------------------- member session

  /** startSession's question: a pooled connection to `m` when http-reuse allows it. */
  idleFor(m: MemberPlan): net.Socket | undefined {
    if (this.forceFresh) return undefined;
    const reuse = m.backend.httpReuse;
    const mine = this.privateUp;
    if (mine !== undefined) {
      this.privateUp = undefined;
      if (mine.key === memberKey(m) && mine.alive) return mine.socket;
      mine.destroy();
    }
    if (reuse === 'never') return undefined;
    const first = this.requests <= 1;
    if (first && reuse === 'safe') return undefined;
    return takeIdle(m, first && reuse === 'aggressive')?.socket;
  }

  sessionFailed(error: SessionError): void {
    // No member for a client that went away (or a request that failed) meanwhile: nothing to do.
    if (this.phase !== P_SESSION || error === 'aborted') return;
    this.reply(503);
  }

  sessionReady(m: MemberPlan, socket: net.Socket, reused: boolean, queuedMs: number): void {
    const up = upstreamOf(socket, memberKey(m));
    if (this.phase !== P_SESSION) {
      // The client went away (or the request failed) meanwhile: the connection goes back.
      endSession(m, this.sessCounters!);
      if (up.owner === undefined && up.alive && m.backend.httpReuse !== 'never') release(up, now());
      else up.destroy();
      return;
    }
    this.member = m;
    this.sessionOpen = true;
    this.reused = reused;
    this.tReady = this.starting ? this.tSession : performance.now();
    this.queuedMs = queuedMs;
    if (reused && !up.alive) {
      // Closed by the member between the pool and now.
      this.retryFresh(up);
      return;
    }
    const c = this.sessCounters!;
    const be = this.be!;
    up.owner = this;
    up.uses++;
    this.up = up;
    this.phase = P_EXCHANGE;
    // The backend counted the request when it was routed there.
    if (!this.reqCounted) {
      this.reqCounted = true;
      c.add(m.slot, T.reqTot);
    }
    if (reused) {
      c.add(be.slot, T.connReuse);
      c.add(m.slot, T.connReuse);
    }
    const out = this.replay ?? this.buildRequest();
    // A reused connection may have been closed by the member just now: keep what was sent
    // to send it again on a new connection when the whole request is in it.
    if (this.replay === undefined && reused && this.reqDone && this.pending.length === 0 && isIdempotent(this.txn.method)) {
      this.replay = out;
    }
    this.exBin += out.length;
    this.bumpServer();
    if (!this.reqDone) this.clientDeadline = this.fe.timeouts.client > 0 ? now() + this.fe.timeouts.client : 0;
    let ok = up.socket.write(out);
    // Queued by libuv: its bytes must stay as they are, the next head goes elsewhere.
    if (this.reqView.is(out) && up.socket.writableLength > 0) this.dropReqOut();
    // Body bytes held while connecting that were too many for the first write.
    const pend = this.pending;
    if (pend.length > 0) {
      for (let i = 0; i < pend.length; i++) {
        this.exBin += pend[i]!.length;
        ok = up.socket.write(pend[i]!) && ok;
      }
      pend.length = 0;
      this.pendingBytes = 0;
    }
    if (ok) this.resumeClient(PAUSE_UPSTREAM);
    else this.pauseClient(PAUSE_UPSTREAM);
  }

  /**
   * The request head as it goes to the member: start line, kept headers, headers the rules
   * added, our Connection header, then the body bytes held so far when they are small.
   */
  private buildRequest(): Buffer {
    const msg = this.txn.req;
    const head = msg.head;
    // HAProxy drops the client's Connection header and writes its own for the member side:
    // keep-alive (said explicitly to an HTTP/1.0 request), close in server-close modes.
    let skip = head.kindMask & CONN_KIND;
    let extra = '';
    if (this.wantsUpgrade) {
      // The upgrade keeps its Connection header, less close/keep-alive tokens.
      if (head.connClose || head.connKeepAlive) extra = 'connection: upgrade\r\n';
      else skip = 0;
    }
    if (head.clRewrite) {
      skip |= CL_KIND;
      extra = `content-length: ${head.contentLength}\r\n` + extra;
    }
    const pend = this.pending;
    const bodyLen = this.pendingBytes <= COALESCE_MAX ? this.pendingBytes : 0;
    const end = this.wantsUpgrade ? END_PLAIN : this.serverClose ? END_CLOSE : head.version === 10 ? END_KEEP_ALIVE : END_PLAIN;

    // Nothing removed, added or normalised: the head goes as received.
    if (
      end === END_PLAIN && extra === '' && msg.addCount === 0 && skip === 0 && msg.deletions === 0 &&
      head.crlf && !head.upperNames && !head.versionOdd && bodyLen === 0
    ) {
      // A lent head is copied: the write may be queued, and the request kept for a replay.
      return this.lent ? ownCopy(head.buf, head.start, head.end) : head.buf.subarray(head.start, head.end);
    }
    let tail = msg.tail(end);
    if (extra !== '') tail = Buffer.concat([Buffer.from(extra, 'latin1'), tail]);
    // From the second request of a connection on, heads go into a buffer it keeps (the first
    // is often the only one: a connection per request keeps nothing).
    const into = this.reqOut ?? (this.requests > 1 ? Buffer.allocUnsafe(REQ_OUT_KEEP) : undefined);
    const reusable = msg.deletions === 0 && bodyLen === 0;
    if (
      reusable && this.reqOutLen > 0 && into !== undefined && into === this.reqOut && head.parses === this.reqOutParse &&
      tail === this.reqOutTail && skip === this.reqOutSkip
    ) {
      return this.reqView.get(into, 0, this.reqOutLen);
    }
    const out = msg.serialize(skip, tail, bodyLen, true, into);
    let off = msg.written;
    if (bodyLen > 0) {
      for (let i = 0; i < pend.length; i++) off += pend[i]!.copy(out, off);
      pend.length = 0;
      this.pendingBytes = 0;
    }
    if (out !== into) {
      // A head of its own (first request, or too large for the kept buffer).
      this.dropReqOut();
      return off === out.length ? out : out.subarray(0, off);
    }
    this.reqOut = out;
    this.reqOutLen = reusable ? off : 0;
    this.reqOutParse = head.parses;
    this.reqOutTail = tail;
    this.reqOutSkip = skip;
    return this.reqView.get(out, 0, off);
  }

  /** The kept request buffer is not reused: its bytes are libuv's now, or it was too small. */
  private dropReqOut(): void {
    this.reqOut = undefined;
    this.reqOutLen = 0;
    this.reqView.clear();
  }

  /** A reused connection failed before any response byte: try again on a new connection. */
  private retryFresh(up: Upstream): void {
    if (up.owner === this) up.owner = undefined;
    up.destroy();
    if (this.up === up) this.up = undefined;
    this.closeSession();
    this.forceFresh = true;
    this.retried = true;
    this.phase = P_SESSION;
    this.serverDeadline = 0;
    const c = this.counters;
    this.sessCounters = c;
    startSession(this.be!, this.pick, c, this);
  }

  private canRetry(): boolean {
    return (
      this.reused &&
      !this.retried &&
      !this.gotResponseBytes &&
      this.replay !== undefined &&
      this.phase === P_EXCHANGE
    );
  }

  // ------------------------------------------------------------------ member events

  onUpData(up: Upstream, chunk: Buffer): boolean {
    if (up !== this.up) return false;
    this.upBytes(chunk);
    // The chunk is still referenced by a write the client socket has queued, or kept as the
    // start of a response head.
    return this.resBuf !== undefined || this.client.writableLength > 0;
  }

  private upBytes(chunk: Buffer): void {
    this.gotResponseBytes = true;
    this.bumpServer();
    if (this.phase === P_TUNNEL) {
      this.exBout += chunk.length;
      this.bumpTunnel();
      this.writeClient(chunk);
      return;
    }
    switch (this.resState) {
      case R_HEAD:
        this.appendResponse(chunk);
        this.parseResponse();
        return;
      case R_BODY:
        this.responseBody(chunk, 0);
        return;
      default:
        // Bytes after a complete response: the connection cannot be trusted any more.
        this.upKeep = false;
        return;
    }
  }

  private appendResponse(chunk: Buffer): void {
    const buf = this.resBuf;
    if (buf === undefined || this.resOff >= buf.length) {
      this.resBuf = chunk;
      this.resOff = 0;
      return;
    }
    this.resScan = Math.max(0, this.resScan - this.resOff);
    this.resBuf = joinRest(buf, this.resOff, chunk);
    this.resOff = 0;
  }

  /** Parse response heads in resBuf: interim 1xx are relayed, the final one starts the body. */
  private parseResponse(): void {
    for (;;) {
      const buf = this.resBuf!;
      if (this.resScanning) {
        const found = findHeadEnd(buf, this.resScan, buf.length);
        if (found < 0) {
          if (buf.length - this.resOff > this.limits.maxHead) this.serverError(502);
          else this.resScan = headScanResume(this.resOff, buf.length);
          return;
        }
        this.resScanning = false;
      }
      const head = this.txn.res.head;
      const end = head.parseResponse(buf, this.resOff);
      if (end === NEED_MORE) {
        if (buf.length - this.resOff > this.limits.maxHead) this.serverError(502);
        else {
          this.resScanning = true;
          this.resScan = headScanResume(this.resOff, buf.length);
        }
        return;
      }
      if (end < 0 || end - this.resOff > this.limits.maxHead) {
        this.serverError(502);
        return;
      }
      const status = head.status;
      if (status === 101) {
        if (!this.wantsUpgrade) {
          this.serverError(502);
          return;
        }
        this.startTunnel(buf, end);
        return;
      }
      if (status < 200) {
        // Interim response (100 Continue, 103 ...): relayed as is, then the next head.
        this.responseStarted = true;
        this.exBout += end - this.resOff;
        this.writeClient(buf.subarray(this.resOff, end));
        this.resOff = end;
        if (end >= buf.length) {
          this.resBuf = undefined;
          return;
        }
        continue;
      }
      if (this.isConnect && status < 300) {
        this.startTunnel(buf, end);
        return;
      }
      // A response that is complete in these bytes ends at the time its head came.
      this.inHead = true;
      this.startResponse(buf, end);
      this.inHead = false;
      return;
    }
  }

  /** The final response head is in buf[resOff, end). */
  private startResponse(buf: Buffer, end: number): void {
    const t = this.txn;
    const msg = t.res;
    const head = msg.head;
    const status = head.status;
    if (this.isHead || status === 204 || status === 304) this.resBody = B_NONE;
    else if (head.chunked) {
      this.resBody = B_CHUNKED;
      this.resChunks.reset();
      this.resChunks.maxTrailer = this.limits.maxHead;
    } else if (head.te) this.resBody = B_UNTIL_CLOSE;
    else if (head.contentLength >= 0) {
      this.resBody = head.contentLength > 0 ? B_LENGTH : B_NONE;
      this.resRemaining = head.contentLength;
    } else this.resBody = B_UNTIL_CLOSE;

    if (
      this.resBody === B_UNTIL_CLOSE ||
      head.connClose ||
      (head.version === 10 && !head.connKeepAlive) ||
      (head.te && head.contentLength >= 0) ||
      this.serverClose
    ) {
      this.upKeep = false;
    }
    // The client must see the end of a body without length, and cannot keep the connection
    // while its request is still arriving.
    if (this.resBody === B_UNTIL_CLOSE || !this.reqDone || this.env.stopping) this.closeAfter = true;

    // http-response rules: the backend's, then the frontend's.
    const beHttp = this.beHttp;
    if (beHttp !== undefined && beHttp.responseRules.length > 0 && backendRulesApply(this.feHttp, beHttp)) {
      runRules(beHttp.responseRules, t, msg);
    }
    if (this.feHttp.responseRules.length > 0) runRules(this.feHttp.responseRules, t, msg);

    const c = this.sessCounters!;
    const cell = statusCell(status);
    this.counters.add(this.fe.slot, cell);
    c.add(this.be!.slot, cell);
    c.add(this.member!.slot, cell);

    // An HTTP/1.0 client cannot read chunks: HAProxy removes the framing and closes after.
    const dechunk = this.resBody === B_CHUNKED && this.txn.req.head.version === 10;
    if (dechunk) this.closeAfter = true;
    // The member's Connection header is replaced by ours (Keep-Alive passes, as in HAProxy):
    // close, or keep-alive said explicitly to an HTTP/1.0 client or below an HTTP/1.0 status line.
    const sayKeepAlive = !this.closeAfter && (this.client10KeepAlive || head.version === 10);
    let skip = head.kindMask & CONN_KIND;
    let extra = '';
    if (dechunk) skip |= TE_KIND | CL_KIND;
    else if (head.te && head.contentLength >= 0) skip |= CL_KIND;
    else if (head.clRewrite) {
      skip |= CL_KIND;
      extra = `content-length: ${head.contentLength}\r\n`;
    }
    this.resState = R_BODY;
    this.responseStarted = true;
    this.tHead = performance.now();
    const bodyStart = end;
    if (skip === 0 && !this.closeAfter && !sayKeepAlive && msg.deletions === 0 && msg.addCount === 0 && head.crlf) {
      // As the member sent it, with the body bytes that came along (one write).
      const stop = this.bodyEnd(buf, bodyStart);
      if (stop === -2) return;
      const from = this.resOff;
      this.resBuf = undefined;
      this.exBout += stop - from;
      this.writeClient(from === 0 && stop === buf.length ? buf : buf.subarray(from, stop));
      this.afterBodyBytes(buf, stop);
      return;
    }
    if (!dechunk && extra === '' && !this.closeAfter && !sayKeepAlive && msg.addCount === 0 && head.crlf) {
      // Only lines dropped (the member's Connection header, most often): removed where the
      // bytes are, and sent with the body bytes that came along.
      const stop = this.bodyEnd(buf, bodyStart);
      if (stop === -2) return;
      const from = this.resOff;
      const sent = msg.compactInPlace(skip, stop);
      this.resBuf = undefined;
      this.exBout += sent - from;
      const view = this.up!.sentView;
      this.writeClient(view.get(buf, from, sent));
      // Queued: the view must not keep the member's buffer once the write is done.
      if (this.client.writableLength > 0) view.clear();
      this.afterBodyBytes(buf, stop);
      return;
    }
    let tail = msg.tail(this.closeAfter ? END_CLOSE : sayKeepAlive ? END_KEEP_ALIVE : END_PLAIN);
    if (extra !== '') tail = Buffer.concat([Buffer.from(extra, 'latin1'), tail]);
    if (dechunk) {
      // Head first, then the chunk data bytes as the tracker finds them (chunkData()).
      const out = msg.serialize(skip, tail, 0, false);
      this.resBuf = undefined;
      const w = msg.written === out.length ? out : out.subarray(0, msg.written);
      this.exBout += w.length;
      this.writeClient(w);
      this.dechunking = true;
      this.resChunks.sink = this;
      const stop = this.bodyEnd(buf, bodyStart);
      if (stop === -2) return;
      this.afterBodyBytes(buf, stop);
      return;
    }
    const stop = this.bodyEnd(buf, bodyStart);
    if (stop === -2) return;
    const bodyLen = stop - bodyStart <= COALESCE_MAX ? stop - bodyStart : 0;
    const out = msg.serialize(skip, tail, bodyLen, false);
    let off = msg.written;
    if (bodyLen > 0) off = copySmall(buf, bodyStart, stop, out, off);
    this.resBuf = undefined;
    const w = off === out.length ? out : out.subarray(0, off);
    this.exBout += w.length;
    this.writeClient(w);
    if (bodyLen === 0 && stop > bodyStart) {
      this.exBout += stop - bodyStart;
      this.writeClient(buf.subarray(bodyStart, stop));
    }
    this.afterBodyBytes(buf, stop);
  }

  /**
   * Account response-body bytes buf[off..] against the framing: the offset where the body
   * (or the available part of it) stops, or -2 after an error was handled.
   */
  private bodyEnd(buf: Buffer, off: number): number {
    const end = buf.length;
    switch (this.resBody) {
      case B_NONE:
        this.resState = R_DONE;
        return off;
      case B_LENGTH: {
        const n = Math.min(this.resRemaining, end - off);
        this.resRemaining -= n;
        if (this.resRemaining === 0) this.resState = R_DONE;
        return off + n;
      }
      case B_CHUNKED: {
        const r = this.resChunks.feed(buf, off, end);
        if (r === ChunkedTracker.INVALID) {
          this.serverAbort(true);
          return -2;
        }
        if (r >= 0) {
          this.resState = R_DONE;
          return r;
        }
        return end;
      }
      default:
        return end;
    }
  }

  /** After forwarding body bytes up to `stop`: finish the exchange when the response is complete. */
  private afterBodyBytes(buf: Buffer, stop: number): void {
    if (this.resState !== R_DONE) return;
    // Bytes after the end of the response: the member broke framing, do not reuse it.
    if (stop < buf.length) this.upKeep = false;
    this.endOfExchange();
  }

  private responseBody(chunk: Buffer, off: number): void {
    const stop = this.bodyEnd(chunk, off);
    if (stop === -2) return;
    if (stop > off && !this.dechunking) {
      this.exBout += stop - off;
      this.writeClient(off === 0 && stop === chunk.length ? chunk : chunk.subarray(off, stop));
    }
    this.afterBodyBytes(chunk, stop);
  }

  /** De-chunking: the data bytes of a chunk, forwarded alone (ChunkSink). */
  chunkData(buf: Buffer, start: number, end: number): void {
    this.exBout += end - start;
    this.writeClient(buf.subarray(start, end));
  }

  onUpEnd(up: Upstream): void {
    if (up !== this.up) return;
    if (this.phase === P_TUNNEL) {
      this.tunnelServerEnded = true;
      if (!this.client.destroyed) this.client.end();
      if (this.tunnelClientEnded) this.closeTunnel();
      else this.bumpTunnel();
      return;
    }
    this.upKeep = false;
    if (this.resState === R_BODY && this.resBody === B_UNTIL_CLOSE) {
      this.resState = R_DONE;
      this.endOfExchange();
      return;
    }
    this.upFailed();
  }

  onUpClose(up: Upstream): void {
    if (up !== this.up) return;
    if (this.phase === P_TUNNEL) {
      this.closeTunnel();
      return;
    }
    this.upKeep = false;
    if (this.resState === R_BODY && this.resBody === B_UNTIL_CLOSE) {
      this.resState = R_DONE;
      this.endOfExchange();
      return;
    }
    this.upFailed();
  }

  /** The member connection ended or broke before the response was complete. */
  private upFailed(): void {
    if (this.phase !== P_EXCHANGE) return;
    const up = this.up!;
    if (this.canRetry()) {
      this.retryFresh(up);
      return;
    }
    if (this.resState === R_HEAD && !this.responseStarted) {
      this.serverError(502);
      return;
    }
    this.serverAbort(false);
  }

  onUpDrain(up: Upstream): void {
    if (up !== this.up) return;
    this.bumpServer();
    this.resumeClient(PAUSE_UPSTREAM);
  }

  // ------------------------------------------------------------------ end of exchange

  /** The response is complete: hand the member connection back and go on with the next request. */
  private endOfExchange(): void {
    const up = this.up;
    this.up = undefined;
    this.flushExchangeCounters();
    const end = this.countTimes();
    this.closeSession();
    if (up !== undefined) {
      up.owner = undefined;
      // Reading was paused while the client did not drain: an idle connection must read
      // (to notice the member closing it).
      if (this.upPaused) {
        this.upPaused = false;
        up.socket.resume();
      }
      if (this.upKeep && this.reqDone && up.alive) {
        if (this.be!.httpReuse === 'never') {
          if (this.privateUp !== undefined && this.privateUp !== up) this.privateUp.destroy();
          this.privateUp = up;
        } else release(up, now());
      } else {
        up.destroy();
      }
    }
    this.upPaused = false;
    this.endOfResponse(end);
  }

  /**
   * After a response (forwarded or ours) was written: next request, or close. `end`: when
   * the exchange ended (performance.now()), if countTimes() read the clock already.
   */
  private endOfResponse(end?: number): void {
    this.serverDeadline = 0;
    this.clientDeadline = 0;
    if (this.closeAfter || this.clientEnded) {
      this.closeNow();
      return;
    }
    this.phase = P_IDLE;
    this.be = undefined;
    this.member = undefined;
    const t = this.fe.timeouts.httpKeepAlive;
    this.idleDeadline = t > 0 ? now() + t : 0;
    this.tStart = end ?? performance.now();
    this.resumeClient(PAUSE_BUFFER | PAUSE_UPSTREAM);
    if (this.inBuf !== undefined) this.parseLoop();
  }

  /** The times of a complete exchange, on its backend and member; answers when it ended. */
  private countTimes(): number | undefined {
    const c = this.sessCounters;
    const m = this.member;
    if (c === undefined || m === undefined || !this.sessionOpen) return undefined;
    const end = this.inHead ? this.tHead : performance.now();
    const q = this.queuedMs;
    const conn = Math.max(0, this.tReady - this.tSession - q);
    const r = this.tHead - this.tReady;
    const t = end - this.tStart;
    c.addTimes(m.backend.slot, q, conn, r, t);
    c.addTimes(m.slot, q, conn, r, t);
    // lastsess from the clock already read for the exchange (a request lasts far less than 1 s).
    c.sessionStarted(m.backend.slot, this.tSession);
    c.sessionStarted(m.slot, this.tSession);
    return end;
  }

  private closeSession(): void {
    if (!this.sessionOpen) return;
    this.sessionOpen = false;
    endSession(this.member!, this.sessCounters!);
  }

  private flushExchangeCounters(): void {
    const c = this.sessCounters;
    if (c === undefined || this.be === undefined) return;
    if (this.exBin > 0 || this.exBout > 0) {
      c.add(this.be.slot, T.bin, this.exBin);
      c.add(this.be.slot, T.bout, this.exBout);
      if (this.member) {
        c.add(this.member.slot, T.bin, this.exBin);
        c.add(this.member.slot, T.bout, this.exBout);
      }
    }
    this.exBin = 0;
    this.exBout = 0;
  }

  /** Drop the member connection of an exchange that cannot finish. */
  private dropUpstream(serverFault: boolean): void {
    const up = this.up;
    this.up = undefined;
    if (up !== undefined) {
      up.owner = undefined;
      up.destroy();
    }
    if (serverFault && this.be) {
      const c = this.sessCounters!;
      c.add(this.be.slot, T.eresp);
      if (this.member) c.add(this.member.slot, T.eresp);
    }
    this.flushExchangeCounters();
    this.closeSession();
  }

  /** 502/504 before the response started: the member connection goes, the client gets our reply. */
  private serverError(status: number): void {
    const m = this.member;
    this.dropUpstream(true);
    if (m !== undefined) this.sessCounters!.add(m.slot, statusCell(status));
    this.reply(status);
  }

  /** The member broke mid-response (or sent a broken body): the client connection cannot continue. */
  private serverAbort(invalid: boolean): void {
    const c = this.sessCounters!;
    if (this.be) {
      c.add(this.be.slot, T.srvAbrt);
      if (this.member) c.add(this.member.slot, T.srvAbrt);
    }
    this.dropUpstream(invalid);
    this.destroy();
  }

  // ---------------------------------------------------------------------- tunnel

  private startTunnel(buf: Buffer, headEnd: number): void {
    const c = this.sessCounters!;
    const cell = statusCell(this.txn.res.head.status);
    this.counters.add(this.fe.slot, cell);
    c.add(this.be!.slot, cell);
    c.add(this.member!.slot, cell);
    this.phase = P_TUNNEL;
    this.responseStarted = true;
    this.resState = R_DONE;
    this.upKeep = false;
    this.resBuf = undefined;
    this.exBout += buf.length - this.resOff;
    this.writeClient(this.resOff === 0 ? buf : buf.subarray(this.resOff));
    void headEnd;
    this.bumpTunnel();
    // What the client sent after its request already belongs to the new protocol.
    const rest = this.inBuf;
    if (rest !== undefined && this.inOff < rest.length) {
      const b = rest.subarray(this.inOff);
      this.exBin += b.length;
      this.up!.socket.write(b);
    }
    this.inBuf = undefined;
    this.inOff = 0;
    this.resumeClient(PAUSE_BUFFER);
    if (this.clientEnded) {
      this.tunnelClientEnded = true;
      this.up!.socket.end();
      this.bumpTunnel();
    }
  }

  private closeTunnel(): void {
    this.dropUpstream(false);
    this.destroy();
  }

  /**
   * Inactivity deadlines of a tunnel: `timeout tunnel`, else client/server; once either
   * direction is shut down, `timeout client-fin` / `server-fin` replace them where set
   * (as in mode tcp).
   */
  private bumpTunnel(): void {
    const t0 = now();
    const be = this.be!;
    let ct = be.timeouts.tunnel || this.fe.timeouts.tunnel || this.fe.timeouts.client;
    let st = be.timeouts.tunnel || this.fe.timeouts.tunnel || be.timeouts.server;
    if (this.tunnelClientEnded || this.tunnelServerEnded) {
      ct = this.fe.timeouts.clientFin || ct;
      st = be.timeouts.serverFin || st;
    }
    this.clientDeadline = ct > 0 ? t0 + ct : 0;
    this.serverDeadline = st > 0 ? t0 + st : 0;
  }

  // ---------------------------------------------------------------- client output

  private writeClient(b: Buffer): void {
    const c = this.client;
    if (c.destroyed || !c.writable) return;
    this.counters.add(this.fe.slot, T.bout, b.length);
    if (!c.write(b)) {
      this.clientBlocked = true;
      const ct = this.fe.timeouts.client;
      this.clientDeadline = ct > 0 ? now() + ct : 0;
      if (this.up !== undefined && !this.upPaused) {
        this.upPaused = true;
        this.up.socket.pause();
      }
    }
  }

  clientDrain(): void {
    this.clientBlocked = false;
    if (this.phase === P_EXCHANGE || this.phase === P_TUNNEL) {
      if (this.phase === P_TUNNEL) this.bumpTunnel();
      else if (this.reqDone) this.clientDeadline = 0;
      this.bumpServer();
    }
    if (this.upPaused) {
      this.upPaused = false;
      this.up?.socket.resume();
    }
  }

  /** Count a response of ours on the frontend (and the backend when one was chosen). */
  private countLocal(status: number): void {
    const cell = statusCell(status);
    this.counters.add(this.fe.slot, cell);
    if (this.be !== undefined) this.counters.add(this.be.slot, cell);
  }

  /** An HTTP/1-layer error (400, 408, 413, 422): answered, then the connection ends. */
  private httpError(status: number): void {
    this.countLocal(status);
    this.answerError(status);
  }

  /** Our page for `status`, then the connection ends. */
  private answerError(status: number): void {
    this.closeAfter = true;
    this.writeClient(errorResponse(status, this.isHead));
    this.closeNow();
  }

  /** A request error answered by us: 400/408/413/422 (counted as request errors). */
  private requestError(status: number, counted: boolean): void {
    this.countRequestError(status, counted);
    this.isHead = false;
    this.be = undefined;
    this.answerError(status);
  }

  /** A request error, on the frontend alone: the request (unless counted already), ereq, its status. */
  private countRequestError(status: number, counted: boolean): void {
    const c = this.counters;
    if (!counted) c.add(this.fe.slot, T.reqTot);
    c.add(this.fe.slot, T.ereq);
    c.add(this.fe.slot, statusCell(status));
  }

  /**
   * A reply of ours in place of a member's (deny, 502, 503, 504). As HAProxy: the connection
   * stays open when the request was read whole and nothing asks for close.
   */
  private reply(status: number): void {
    this.countLocal(status);
    const close = this.closeAfter || !this.reqDone || this.clientEnded || this.env.stopping;
    if (close) this.closeAfter = true;
    this.writeClient(replyResponse(status, this.isHead, close));
    this.endOfResponse();
  }

  // --------------------------------------------------------------- flow control

  private pauseClient(why: number): void {
    if (this.paused === 0) this.client.pause();
    this.paused |= why;
  }

  private resumeClient(why: number): void {
    if (this.paused === 0) return;
    this.paused &= ~why;
    if (this.paused === 0 && !this.client.destroyed) this.client.resume();
  }

  private bumpServer(): void {
    const be = this.be;
    if (be === undefined) return;
    const st = be.timeouts.server;
    this.serverDeadline = st > 0 ? now() + st : 0;
  }

  // ------------------------------------------------------------------ client end

  clientEnd(): void {
    this.clientEnded = true;
    switch (this.phase) {
      case P_IDLE:
      case P_HEAD:
        // A request cut short: 400, counted as a request error, as HAProxy does: part of a head,
        // or nothing at all on a connection that has not carried a request yet (unless
        // http-ignore-probes). Written to the half-closed client, which may still read it.
        if (this.phase === P_HEAD || this.awaitsFirstRequest()) {
          this.requestError(400, false);
          return;
        }
        // Between two requests: nothing to answer. end() rather than destroy: a response may
        // still be on its way out.
        this.closeNow();
        return;
      case P_SESSION:
      case P_EXCHANGE:
        if (!this.reqDone) {
          this.clientAbort();
          return;
        }
        this.closeAfter = true;
        return;
      case P_TUNNEL:
        this.tunnelClientEnded = true;
        this.up?.socket.end();
        if (this.tunnelServerEnded) this.closeTunnel();
        else this.bumpTunnel();
        return;
      default:
        this.destroy();
    }
  }

  /** The client went away (or timed out) mid-request. */
  private clientAbort(): void {
    const c = this.counters;
    c.add(this.fe.slot, T.cliAbrt);
    if (this.be && this.sessionOpen) {
      this.sessCounters!.add(this.be.slot, T.cliAbrt);
      if (this.member) this.sessCounters!.add(this.member.slot, T.cliAbrt);
    }
    this.dropUpstream(false);
    this.destroy();
  }

  onDrainSignal(): void {
    if (this.phase === P_IDLE) this.destroy();
    else this.closeAfter = true;
  }

  /**
   * Stop after what was written is flushed; linger a little for the client to read it.
   *
   * Unless the client is done, and the kernel has every byte of the response: it closed its
   * side, or it asked to close (a client that sends `Connection: close` sends nothing more)
   * and its request was read whole. Then the socket is closed at once, as HAProxy does: the
   * kernel sends the response and a FIN, and takes the client's FIN on its own, with no
   * shutdown() round trip through the event loop and no wake-up for the client's end.
   * Lingering stays for the other cases, where the client may still be sending (a request
   * body we answered early, a pipeline we decided to end): closing a socket with unread
   * bytes resets it, and a reset can destroy the response before the client reads it. TLS
   * sockets always take the lingering path, which sends close_notify.
   */
  private closeNow(): void {
    if (this.phase === P_CLOSED || this.phase === P_CLOSING) return;
    const c = this.client;
    this.phase = P_CLOSING;
    if (
      (this.clientEnded || (this.clientSaidClose && this.reqDone)) &&
      c.writableLength === 0 &&
      (c as net.Socket & { encrypted?: boolean }).encrypted !== true
    ) {
      this.destroy();
      return;
    }
    this.inBuf = undefined;
    this.pending.length = 0;
    this.lingerDeadline = now() + (this.fe.timeouts.clientFin || LINGER_MS);
    this.resumeClient(PAUSE_BUFFER | PAUSE_UPSTREAM);
    if (!this.client.destroyed) this.client.end();
  }

  destroy(): void {
    if (this.phase === P_CLOSED) return;
    this.client.destroy();
    this.clientClose();
  }

  /**
   * The client's socket closed. Reset before a whole head (no 'end', so clientEnd() did not
   * see it): the same request error as a half-close there, with nobody left to answer.
   */
  clientGone(): void {
    if (this.phase === P_HEAD || this.awaitsFirstRequest()) this.countRequestError(400, false);
    this.clientClose();
  }

  /** No byte of a request yet on a connection that has carried none, and not a probe to ignore. */
  private awaitsFirstRequest(): boolean {
    return this.phase === P_IDLE && this.requests === 0 && !this.feHttp.ignoreProbes;
  }

  clientClose(): void {
    if (this.phase === P_CLOSED) return;
    const was = this.phase;
    this.phase = P_CLOSED;
    unwatch(this);
    if (this.up !== undefined) {
      if (was === P_EXCHANGE && this.resState !== R_DONE) {
        this.counters.add(this.fe.slot, T.cliAbrt);
        if (this.be) {
          this.sessCounters!.add(this.be.slot, T.cliAbrt);
          if (this.member) this.sessCounters!.add(this.member.slot, T.cliAbrt);
        }
      }
      this.dropUpstream(false);
    }
    this.closeSession();
    if (this.privateUp !== undefined) {
      this.privateUp.destroy();
      this.privateUp = undefined;
    }
    this.inBuf = undefined;
    this.resBuf = undefined;
    this.pending.length = 0;
    this.entered.leave(this.enteredGlobal);
    this.entered.leave(this.enteredFe);
    this.env.untrack(this.client);
    giveTxn(this.txn);
  }

  // ------------------------------------------------------------------------ timers

  onTick(now: number): void {
    switch (this.phase) {
      case P_IDLE:
        if (this.env.stopping) {
          this.destroy();
          return;
        }
        if (this.idleDeadline !== 0 && now >= this.idleDeadline) {
          // First request: 408 as HAProxy does (not with http-ignore-probes); later: silent close.
          if (this.awaitsFirstRequest()) {
            this.requestError(408, false);
          } else this.destroy();
        }
        return;
      case P_HEAD:
        if (this.headDeadline !== 0 && now >= this.headDeadline) this.requestError(408, false);
        return;
      case P_EXCHANGE:
        if (this.serverDeadline !== 0 && now >= this.serverDeadline && !this.upPaused) {
          if (this.resState === R_HEAD && !this.responseStarted) {
            this.serverError(504);
          } else {
            this.serverAbort(false);
          }
          return;
        }
        if (this.clientDeadline !== 0 && now >= this.clientDeadline && (!this.reqDone || this.clientBlocked)) {
          if (!this.reqDone && !this.responseStarted) {
            this.counters.add(this.fe.slot, T.cliAbrt);
            this.dropUpstream(false);
            this.httpError(408);
          } else this.clientAbort();
        }
        return;
      case P_TUNNEL:
        if (
          (this.clientDeadline !== 0 && now >= this.clientDeadline) ||
          (this.serverDeadline !== 0 && now >= this.serverDeadline)
        ) {
          this.closeTunnel();
        }
        return;
      case P_CLOSING:
        if (now >= this.lingerDeadline) this.destroy();
        return;
      default:
        return;
    }
  }
}
