// The request/response transaction that compiled rules (rules.ts) look at and edit.
//
// One Txn per client connection, reset for every request: it holds the parsed heads
// (http1-parser.ts), the header edits rules made (deletions marked by generation, additions
// appended in order) and the connection's addresses. Strings are made lazily, only for what
// a rule asks for (path, a header's values, a cookie), and cached for the request.

import { Buffer } from 'node:buffer';
import { H_LINE, H_LINE_END, H_NAME, H_NAME_END, H_VALUE, H_VALUE_END, HDR_STRIDE, Head } from './http1-parser.ts';

/** Tests one sample value. */
export type Matcher = (v: string) => boolean;

/** A message head plus the header edits rules made to it. */
export class Message {
  readonly head: Head;
  /** Parsed header i is deleted iff del[i] === gen (no clearing per message). */
  private del: Uint32Array;
  private gen = 1;
  /** Parsed headers deleted in this message (0: the head's header lines forward as they are). */
  deletions = 0;
  /** Added headers, in order. A name set to '' marks an added header deleted later. */
  addCount = 0;
  readonly addNames: string[] = [];
  readonly addValues: string[] = [];
  /** Complete `name: value\r\n` line when the rule's value is literal, else undefined. */
  readonly addLines: (string | undefined)[] = [];
  /** Scratch for value lookups. */
  private readonly scratch: string[] = [];

  constructor(maxHeaders?: number) {
    this.head = new Head(maxHeaders);
    this.del = new Uint32Array(this.head.maxHeaders);
  }

  /** Forget the edits of the previous message. */
  reset(): void {
    if (++this.gen === 0xffffffff) {
      this.del.fill(0);
      this.gen = 1;
    }
    this.deletions = 0;
    this.addCount = 0;
  }

  isDeleted(i: number): boolean {
    return this.del[i] === this.gen;
  }

  /** Delete parsed header i (the engine drops hop-by-hop headers this way too). */
  deleteAt(i: number): void {
    if (this.del[i] !== this.gen) {
      this.del[i] = this.gen;
      this.deletions++;
    }
  }

  /** Whether a header `lower` exists (parsed and not deleted, or added). */
  has(lower: Buffer, lowerStr: string): boolean {
    const h = this.head;
    for (let i = 0; i < h.count; i++) if (this.del[i] !== this.gen && h.nameIs(i, lower)) return true;
    for (let i = 0; i < this.addCount; i++) if (this.addNames[i] === lowerStr) return true;
    return false;
  }

  /**
   * Values of header `lower` in message order into the scratch array; with `split`, each
   * comma-separated element is a value (HAProxy's hdr()/req.hdr()). Returns the count.
   */
  private collect(lower: Buffer, lowerStr: string, split: boolean): number {
    const out = this.scratch;
    let n = 0;
    const h = this.head;
    for (let i = 0; i < h.count; i++) {
      if (this.del[i] === this.gen || !h.nameIs(i, lower)) continue;
      const o = i * HDR_STRIDE;
      n = push(out, n, h.buf.toString('latin1', h.offs[o + H_VALUE], h.offs[o + H_VALUE_END]), split);
    }
    for (let i = 0; i < this.addCount; i++) {
      if (this.addNames[i] === lowerStr) n = push(out, n, this.addValues[i]!, split);
    }
    return n;
  }

  /**
   * Whether some value of header `lower` satisfies `m`. occ 0: every occurrence (ACL use);
   * occ > 0: the occ-th from the first; occ < 0: counted from the last.
   */
  matchHeader(lower: Buffer, lowerStr: string, split: boolean, occ: number, m: Matcher): boolean {
    const n = this.collect(lower, lowerStr, split);
    if (occ === 0) {
      for (let i = 0; i < n; i++) if (m(this.scratch[i]!)) return true;
      return false;
    }
    const k = occ > 0 ? occ - 1 : n + occ;
    return k >= 0 && k < n && m(this.scratch[k]!);
  }

  /** One value of header `lower`: occ as in matchHeader, 0 meaning the last (sample use). */
  headerValue(lower: Buffer, lowerStr: string, split: boolean, occ: number): string | undefined {
    const n = this.collect(lower, lowerStr, split);
    const k = occ > 0 ? occ - 1 : n + (occ === 0 ? -1 : occ);
    return k >= 0 && k < n ? this.scratch[k] : undefined;
  }

  /** Delete every occurrence of header `lower`, parsed or added. */
  remove(lower: Buffer, lowerStr: string): void {
    const h = this.head;
    for (let i = 0; i < h.count; i++) if (h.nameIs(i, lower)) this.deleteAt(i);
    for (let i = 0; i < this.addCount; i++) if (this.addNames[i] === lowerStr) this.addNames[i] = '';
  }

  /** Append a header; `line` is its complete wire form (`name: value\r\n`) when precomputed. */
  add(lowerStr: string, value: string, line: string | undefined): void {
    const i = this.addCount++;
    this.addNames[i] = lowerStr;
    this.addValues[i] = value;
    this.addLines[i] = line;
  }

  // The lines rules add are usually the same for every request of a connection (X-Forwarded-*
  // from the connection's addresses, literal values): their wire form is kept and reused
  // while the names and values are the same strings.
  private cacheCount = -1;
  private readonly cacheNames: string[] = [];
  private readonly cacheValues: string[] = [];
  private cacheEnd = '';
  private cacheBuf: Buffer = Buffer.alloc(0);

  /** Wire form of the added header lines followed by `end` (the engine's own lines and the final CRLF). */
  tail(end: string): Buffer {
    const n = this.addCount;
    if (n === this.cacheCount && end === this.cacheEnd) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (this.addNames[i] !== this.cacheNames[i] || this.addValues[i] !== this.cacheValues[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.cacheBuf;
    }
    for (let i = 0; i < n; i++) {
      this.cacheNames[i] = this.addNames[i]!;
      this.cacheValues[i] = this.addValues[i]!;
    }
    this.cacheCount = n;
    this.cacheEnd = end;
    this.cacheBuf = Buffer.from(n > 0 ? this.addedText() + end : end, 'latin1');
    return this.cacheBuf;
  }

  /** The added header lines as they go on the wire (one string: written with one call). */
  addedText(): string {
    let text = '';
    for (let i = 0; i < this.addCount; i++) {
      const name = this.addNames[i]!;
      if (name === '') continue;
      const line = this.addLines[i];
      text += line !== undefined ? line : name + ': ' + this.addValues[i]! + '\r\n';
    }
    return text;
  }

  /** Bytes written by the last serialize(). */
  written = 0;

  /**
   * The head as it goes on the wire: start line, the header lines not deleted nor of a
   * skipped kind (bit 1 << HK kind in `skipKinds`), then `tail` (added lines, the engine's
   * own lines, the final CRLF), with `extra` bytes of room after it. `written` tells where
   * the head ends. `forward`: a request towards a member, written as HAProxy 2.6 does it:
   * header names in lower case and `HTTP/1.1` for any version read as 1.1. Common case, one
   * copy: nothing removed, CRLF lines. `into`: a buffer to write into when it is large
   * enough (the caller's reused one), else a new one is made.
   */
  serialize(skipKinds: number, tail: Buffer, extra: number, forward: boolean, into?: Buffer): Buffer {
    const h = this.head;
    const buf = h.buf;
    const lower = forward && h.upperNames;
    let out: Buffer;
    let off: number;
    if (skipKinds === 0 && this.deletions === 0 && h.crlf) {
      const headLen = h.end - 2 - h.start;
      const size = headLen + tail.length + extra;
      out = into !== undefined && into.length >= size ? into : Buffer.allocUnsafe(size);
      copySmall(buf, h.start, h.end - 2, out, 0);
      if (lower) lowerNames(h, out, 0, h.count, -h.start);
      off = headLen;
    } else {
      const size = h.lineEnd - h.start + 1 + this.keptLength() + tail.length + extra;
      out = into !== undefined && into.length >= size ? into : Buffer.allocUnsafe(size);
      if (h.crlf) {
        // The start line goes with the first run of kept header lines.
        off = this.writeKept(out, 0, skipKinds, lower, h.start);
      } else {
        // The start line without its line end, then CRLF.
        const lf = h.lineEnd - 1;
        off = copySmall(buf, h.start, buf[lf - 1] === 0x0d ? lf - 1 : lf, out, 0);
        out[off++] = 0x0d;
        out[off++] = 0x0a;
        off = this.writeKept(out, off, skipKinds, lower);
      }
    }
    if (forward && h.versionOdd && h.version === 11) out.write('HTTP/1.1', h.uriEnd + 1 - h.start, 'latin1');
    this.written = copySmall(tail, 0, tail.length, out, off);
    return out;
  }

  /**
   * Drop the header lines that are deleted or of a skipped kind (as serialize() does) in the
   * head's own bytes, for a CRLF head: the kept lines after the first dropped one, the final
   * CRLF and the bytes after it up to `stop` (body bytes that came along) move back over what
   * was dropped. Returns where those bytes end now (`stop` less the bytes dropped). Nothing is
   * allocated; the head's offsets past the first dropped line are not valid any more.
   */
  compactInPlace(skipKinds: number, stop: number): number {
    const h = this.head;
    const offs = h.offs;
    const buf = h.buf;
    /** Where the next kept byte goes, once a line was dropped. */
    let w = -1;
    /** Start of the kept lines not moved yet. */
    let run = -1;
    for (let i = 0; i < h.count; i++) {
      const line = offs[i * HDR_STRIDE + H_LINE]!;
      if (this.del[i] !== this.gen && !((skipKinds >> h.kinds[i]!) & 1)) {
        if (w >= 0 && run < 0) run = line;
      } else if (w < 0) {
        w = line;
      } else if (run >= 0) {
        buf.copyWithin(w, run, line);
        w += line - run;
        run = -1;
      }
    }
    if (w < 0) return stop;
    // Header lines are contiguous and the last one ends where the final CRLF starts.
    const from = run >= 0 ? run : h.end - 2;
    buf.copyWithin(w, from, stop);
    return w + stop - from;
  }

  /**
   * Copy the head's header lines that are not deleted (header lines only, not the start
   * line nor the final empty line) to `out` at `off`, normalising line ends to CRLF and,
   * with `lower`, names to lower case.
   */
  writeKept(out: Buffer, off: number, skipKinds: number, lower = false, from = -1): number {
    const h = this.head;
    const offs = h.offs;
    const buf = h.buf;
    if (h.crlf) {
      // Runs of kept lines are contiguous in the source: copy each run at once. With `from`
      // (the start of the head), the first run starts there: the start line comes along.
      let runStart = from;
      let runEnd = from < 0 ? -1 : h.lineEnd;
      let runFirst = 0;
      for (let i = 0; i <= h.count; i++) {
        const o = i * HDR_STRIDE;
        const keep = i < h.count && this.del[i] !== this.gen && !((skipKinds >> h.kinds[i]!) & 1);
        if (keep) {
          if (runStart < 0) {
            runStart = offs[o + H_LINE]!;
            runFirst = i;
          }
          runEnd = offs[o + H_LINE_END]!;
        } else if (runStart >= 0) {
          const delta = off - runStart;
          off = copySmall(buf, runStart, runEnd, out, off);
          if (lower) lowerNames(h, out, runFirst, i, delta);
          runStart = -1;
        }
      }
      return off;
    }
    for (let i = 0; i < h.count; i++) {
      if (this.del[i] === this.gen || (skipKinds >> h.kinds[i]!) & 1) continue;
      const o = i * HDR_STRIDE;
      const ns = offs[o + H_NAME]!;
      const ne = offs[o + H_NAME_END]!;
      if (lower) {
        for (let k = ns; k < ne; k++) {
          const c = buf[k]!;
          out[off++] = c >= 65 && c <= 90 ? c | 0x20 : c;
        }
      } else off = copySmall(buf, ns, ne, out, off);
      out[off++] = 0x3a;
      out[off++] = 0x20;
      off = copySmall(buf, offs[o + H_VALUE], offs[o + H_VALUE_END], out, off);
      out[off++] = 0x0d;
      out[off++] = 0x0a;
    }
    return off;
  }

  /** Upper bound of the bytes writeKept() writes. */
  keptLength(): number {
    const h = this.head;
    if (h.count === 0) return 0;
    const offs = h.offs;
    // Normalising LF to CRLF adds at most one byte per line, ": " at most two.
    return offs[(h.count - 1) * HDR_STRIDE + H_LINE_END]! - offs[H_LINE]! + (h.crlf ? 0 : 3 * h.count);
  }
}

/**
 * Lower-case the names of headers [from, to) of `h` where they were copied to `out`: header
 * bytes sit at their source offset + delta. Header names are tokens: only A-Z change.
 */
function lowerNames(h: Head, out: Buffer, from: number, to: number, delta: number): void {
  const offs = h.offs;
  for (let i = from; i < to; i++) {
    const o = i * HDR_STRIDE;
    const e = offs[o + H_NAME_END]! + delta;
    for (let k = offs[o + H_NAME]! + delta; k < e; k++) {
      const c = out[k]!;
      if (c >= 65 && c <= 90) out[k] = c | 0x20;
    }
  }
}

/**
 * Copy src[s, e) to out at `off`; the end offset. A loop for a few bytes; above that V8's own
 * TypedArray set() on a plain view of the bytes, which stays inside V8, where Buffer's copy()
 * goes through Node's argument checks to a C++ call (alone: 25 ns against 30-33 for copies of
 * 16-200 bytes; on the request path, where those checks and calls miss the caches, copy() and
 * its C++ part were 13 % of bench/hotpath.ts's profile).
 */
export function copySmall(src: Buffer, s: number, e: number, out: Buffer, off: number): number {
  const n = e - s;
  if (n > 32) {
    out.set(s === 0 && e === src.length ? src : new Uint8Array(src.buffer, src.byteOffset + s, n), off);
    return off + n;
  }
  while (s < e) out[off++] = src[s++]!;
  return off;
}

function push(out: string[], n: number, v: string, split: boolean): number {
  if (!split || v.indexOf(',') < 0) {
    out[n] = v;
    return n + 1;
  }
  let s = 0;
  for (;;) {
    const c = v.indexOf(',', s);
    const part = (c < 0 ? v.slice(s) : v.slice(s, c)).trim();
    out[n++] = part;
    if (c < 0) return n;
    s = c + 1;
  }
}

/**
 * The HTTP transaction of one client connection: the current request and response, the
 * connection's addresses, and what the rules decided.
 */
export class Txn {
  readonly req: Message;
  readonly res: Message;
  /** Client and local addresses (IPv4-mapped IPv6 shown as IPv4) and ports. */
  src = '';
  srcPort = 0;
  dst = '';
  dstPort = 0;
  /** The ports as text, made once per connection (header formats use them per request). */
  srcPortText = '0';
  dstPortText = '0';
  /** Always false until TLS termination exists. */
  sslFc = false;
  frontendName = '';
  backendName = '';
  /** Set by rules: status of a deny, the redirect to answer with, the backend chosen. */
  denyStatus = 403;
  redirect: unknown = undefined;
  private urlCache: string | undefined = undefined;
  private pathCache: string | undefined = undefined;
  private pathStart = -1;
  private readonly cookies: string[] = [];

  constructor(maxHeaders?: number) {
    this.req = new Message(maxHeaders);
    this.res = new Message(maxHeaders);
  }

  /** The connection's addresses (once per connection). */
  setAddresses(src: string, srcPort: number, dst: string, dstPort: number): void {
    this.src = src;
    this.srcPort = srcPort;
    this.dst = dst;
    this.dstPort = dstPort;
    this.srcPortText = String(srcPort);
    this.dstPortText = String(dstPort);
  }

  /** Let go of the connection's bytes and the heads it remembers (the Txn is kept for another connection). */
  forget(): void {
    this.req.head.forget();
    this.res.head.forget();
    this.redirect = undefined;
  }

  /** Start a new request (its head was just parsed into req.head). */
  beginRequest(): void {
    this.req.reset();
    this.res.reset();
    this.urlCache = undefined;
    this.pathCache = undefined;
    this.pathStart = -1;
    this.denyStatus = 403;
    this.redirect = undefined;
    this.backendName = '';
  }

  get method(): string {
    return this.req.head.method;
  }

  /** The request target as received. */
  url(): string {
    return (this.urlCache ??= this.req.head.uri());
  }

  /** Offset in url() where the path starts, -1 when the target has none (`*`, authority-form). */
  private findPath(): number {
    if (this.pathStart !== -1) return this.pathStart;
    const u = this.url();
    let p = -2;
    if (u.charCodeAt(0) === 0x2f) p = 0;
    else {
      const scheme = u.indexOf('://');
      if (scheme > 0) {
        const slash = u.indexOf('/', scheme + 3);
        p = slash < 0 ? -2 : slash;
      }
    }
    this.pathStart = p;
    return p;
  }

  /** Path without the query string; undefined when the target has no path. */
  path(): string | undefined {
    if (this.pathCache !== undefined) return this.pathCache;
    const p = this.findPath();
    if (p < 0) return undefined;
    const u = this.url();
    const q = u.indexOf('?', p);
    this.pathCache = q < 0 ? (p === 0 ? u : u.slice(p)) : u.slice(p, q);
    return this.pathCache;
  }

  /** Path and query as in the request ("/" when the target has no path), for redirects. */
  pathAndQuery(dropQuery: boolean): string {
    const p = this.findPath();
    if (p < 0) return '/';
    const u = this.url();
    if (dropQuery) {
      const q = u.indexOf('?', p);
      if (q >= 0) return u.slice(p, q);
    }
    return p === 0 ? u : u.slice(p);
  }

  /** Values of cookie `name` from the request's Cookie headers, in order, into `cookies`. */
  private collectCookies(name: string): number {
    const out = this.cookies;
    let n = 0;
    const h = this.req.head;
    for (let i = 0; i < h.count; i++) {
      if (this.req.isDeleted(i) || !h.nameIs(i, COOKIE)) continue;
      n = scanCookies(h.value(i), name, out, n);
    }
    const m = this.req;
    for (let i = 0; i < m.addCount; i++) if (m.addNames[i] === 'cookie') n = scanCookies(m.addValues[i]!, name, out, n);
    return n;
  }

  matchCookie(name: string, m: Matcher): boolean {
    const n = this.collectCookies(name);
    for (let i = 0; i < n; i++) if (m(this.cookies[i]!)) return true;
    return false;
  }

  /** First value of cookie `name` (HAProxy's req.cook() outside ACLs). */
  cookie(name: string): string | undefined {
    return this.collectCookies(name) > 0 ? this.cookies[0] : undefined;
  }
}

const COOKIE = Buffer.from('cookie');

function scanCookies(header: string, name: string, out: string[], n: number): number {
  let s = 0;
  const len = header.length;
  while (s < len) {
    let e = header.indexOf(';', s);
    if (e < 0) e = len;
    let a = s;
    while (a < e && (header.charCodeAt(a) === 0x20 || header.charCodeAt(a) === 0x09)) a++;
    const eq = header.indexOf('=', a);
    if (eq > a && eq < e) {
      let ne = eq;
      while (ne > a && (header.charCodeAt(ne - 1) === 0x20 || header.charCodeAt(ne - 1) === 0x09)) ne--;
      if (ne - a === name.length && header.startsWith(name, a)) {
        out[n++] = header.slice(eq + 1, e).trim();
      }
    }
    s = e + 1;
  }
  return n;
}
