// HTTP/1.x message heads and chunked framing, parsed straight from socket Buffers.
//
// A head is parsed once, when it is complete, into offsets over the Buffer it arrived in
// (no string per header, no split of the whole head): the runtime copies the bytes it
// forwards and makes strings only for what a rule asks for. Strict like HAProxy 2.6 in its
// default mode, stricter where the project chose so (each place says which):
//
// - lines may end in CRLF or a lone LF (HAProxy accepts LF); a CR not followed by LF is an
//   error; leading empty lines before a request line are skipped, as HAProxy does;
// - header names are RFC 7230 tokens followed at once by ':'; values are HTAB, SP, VCHAR
//   or obs-text. HAProxy lets other control bytes through: we refuse them;
// - obs-fold (a line starting with SP/HTAB) is refused. HAProxy unfolds it; we refuse it
//   (smuggling vector) — a deliberate difference;
// - Content-Length: digits, lists of equal values allowed ("5, 5"); two different values
//   are an error. Content-Length together with Transfer-Encoding in a request is refused
//   (HAProxy 2.6 drops the Content-Length and closes after; we refuse: a deliberate
//   difference). Transfer-Encoding in a request must end in one `chunked`; a coding before
//   it ("gzip, chunked") is answered 422 as HAProxy 2.6 does;
// - an HTTP/1.0 GET/HEAD/DELETE with a body is answered 413 as HAProxy 2.6 does;
// - two Host headers with different values are an error.
//
// One pass over the bytes both finds the end of the head and parses it, so the common case
// (a whole head in one read) costs one scan. A Head also remembers the bytes of the last head
// it parsed: on a keep-alive connection the next head is often the same bytes again (a client
// program's requests, a member's answers to them, the same but for its Date once a second),
// and a head equal to the remembered one takes the fields the parse left, for a comparison of
// its bytes: nginx's 250-byte response head in 67-71 ns instead of 265-292 for a parse,
// wrk's request in 34 instead of 62-71. Where heads keep changing, the Head soon looks only
// now and then (memoTurn()). A Head remembers for one connection only (forget()): another
// client's heads are never compared with it. Results are numbers, not exceptions: the
// offset after the head, NEED_MORE, or minus the status to answer with (400/413/422 towards
// a client; the caller maps any failure of a response to 502).

import { Buffer } from 'node:buffer';

/** Offsets stored per header in Head.offs. */
export const HDR_STRIDE = 6;
/** name start, name end, value start, value end, line start, line end (after its LF). */
export const H_NAME = 0;
export const H_NAME_END = 1;
export const H_VALUE = 2;
export const H_VALUE_END = 3;
export const H_LINE = 4;
export const H_LINE_END = 5;

/** Header kinds the engine acts upon, found while parsing (Head.kinds). */
export const HK = {
  other: 0,
  host: 1,
  contentLength: 2,
  transferEncoding: 3,
  connection: 4,
  upgrade: 5,
  expect: 6,
  keepAlive: 7,
  proxyConnection: 8,
} as const;

/** parse*(): the head is not complete yet (no error in the bytes so far). */
export const NEED_MORE = 0;

/** Header slots a Head starts with. */
const INITIAL_HEADERS = 24;

/** Heads longer than this are not remembered (Head.memo); its first buffer's size. */
const MEMO_MAX = 4096;
const MEMO_MIN = 512;
/** Different heads in a row after which a Head looks for the remembered one only now and then (memoTurn()). */
const MEMO_TRIES = 4;
const MEMO_REST = 16;

/** tune.http.maxhdr default. */
export const DEFAULT_MAX_HEADERS = 100;

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const COLON = 58;

/** RFC 7230 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

/** Bytes allowed inside a header value (field-content plus SP/HTAB): no CTL but HTAB. */
const VCHAR = new Uint8Array(256);
VCHAR[HT] = 1;
for (let c = 32; c < 127; c++) VCHAR[c] = 1;
for (let c = 128; c < 256; c++) VCHAR[c] = 1;

/** Header name bytes: NAME_TOKEN for every tchar, NAME_UPPER too for A-Z (one load per byte). */
const NAME_TOKEN = 1;
const NAME_UPPER = 2;
const NAME = new Uint8Array(256);
for (let c = 0; c < 256; c++) if (TCHAR[c]) NAME[c] = c >= 65 && c <= 90 ? NAME_TOKEN | NAME_UPPER : NAME_TOKEN;

/**
 * Whether buf[start, start + n) equals memo[0, n). Short ranges byte by byte in JavaScript;
 * longer ones natively, where the call's fixed cost (about 60 ns) is less than the loop's.
 */
function sameBytes(buf: Buffer, start: number, memo: Buffer, n: number): boolean {
  if (n > SAME_BYTES_LOOP_MAX) return buf.compare(memo, 0, n, start, start + n) === 0;
  for (let i = 0; i < n; i++) if (buf[start + i] !== memo[i]) return false;
  return true;
}
const SAME_BYTES_LOOP_MAX = 128;

/** Hex digit values, -1 elsewhere. */
const HEX = new Int8Array(256).fill(-1);
for (let c = 48; c <= 57; c++) HEX[c] = c - 48;
for (let c = 65; c <= 70; c++) HEX[c] = c - 55;
for (let c = 97; c <= 102; c++) HEX[c] = c - 87;

/** The `buf` of a head that holds none. */
export const NO_BYTES = Buffer.alloc(0);

/** Methods interned so a request does not allocate its method string. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
const METHOD_BYTES = METHODS.map((m) => Buffer.from(m, 'latin1'));

/**
 * One parsed message head. Owned by a connection and reused for each message: parse*()
 * resets every field. Offsets index `buf`; they stay valid as long as `buf` is kept.
 */
export class Head {
  buf: Buffer = NO_BYTES;
  /** First byte of the start line (after skipped empty lines). */
  start = 0;
  /** First byte after the empty line ending the head. */
  end = 0;
  /** End of the start line including its line ending. */
  lineEnd = 0;
  count = 0;
  readonly maxHeaders: number;
  /** Header offsets; start small (cache-friendly per connection), grown up to maxHeaders. */
  offs: Int32Array;
  kinds: Uint8Array;
  /** Headers the arrays can hold now. */
  capacity: number;
  /** Every line ended in CRLF (the head's bytes may be copied as they are). */
  crlf = true;
  /** Bit (1 << kind) set for every header kind present (HK). */
  kindMask = 0;
  /** 11 for HTTP/1.1 and above, 10 below. */
  version = 11;
  /** The version text is not the canonical one for `version` (e.g. HTTP/1.2 read as 1.1). */
  versionOdd = false;
  /** Some header name has an upper-case letter (HAProxy forwards names in lower case). */
  upperNames = false;

  // request line
  method = '';
  uriStart = 0;
  uriEnd = 0;
  // status line
  status = 0;

  /** Content-Length value, -1 when absent. */
  contentLength = -1;
  /** Several Content-Length headers or a list: forward one normalised header instead. */
  clRewrite = false;
  /** Transfer-Encoding present / its last coding is chunked. */
  te = false;
  chunked = false;
  /** Connection header tokens. */
  connClose = false;
  connKeepAlive = false;
  connUpgrade = false;
  /** An Upgrade header is present. */
  upgrade = false;
  /** `Expect: 100-continue`. */
  expectContinue = false;
  /** Index of the (first) Host header, -1 when absent. */
  host = -1;
  /** Transfer-Encoding scratch: chunked seen in any TE header / another coding seen. */
  private teChunkedSeen = false;
  private teOther = false;

  /**
   * The bytes of the last head this parsed, while every field above still holds what that
   * parse found (memoLen 0: none): the same bytes again parse to the same fields (see recall()).
   */
  private memo: Buffer | undefined = undefined;
  private memoLen = 0;
  /** Heads parsed in a row that were not the remembered one (the memo rests while it grows). */
  private memoMisses = 0;
  /**
   * Heads parsed by this Head so far; a head recalled from the memo does not count. While it
   * stays the same, every head since has had the same bytes as the one it counted.
   */
  parses = 0;

  constructor(maxHeaders = DEFAULT_MAX_HEADERS) {
    this.maxHeaders = maxHeaders;
    this.capacity = Math.min(INITIAL_HEADERS, maxHeaders);
    this.offs = new Int32Array(this.capacity * HDR_STRIDE);
    this.kinds = new Uint8Array(this.capacity);
  }

  private reset(buf: Buffer, start: number): void {
    this.memoLen = 0;
    this.parses++;
    this.buf = buf;
    this.start = start;
    this.end = 0;
    this.count = 0;
    this.crlf = true;
    this.kindMask = 0;
    this.version = 11;
    this.versionOdd = false;
    this.upperNames = false;
    this.method = '';
    this.status = 0;
    this.contentLength = -1;
    this.clRewrite = false;
    this.te = false;
    this.chunked = false;
    this.connClose = false;
    this.connKeepAlive = false;
    this.connUpgrade = false;
    this.upgrade = false;
    this.expectContinue = false;
    this.host = -1;
    this.teChunkedSeen = false;
    this.teOther = false;
  }

  /**
   * Let go of the bytes and forget the remembered head: the Head serves another connection
   * next, whose heads must not be compared with this one's (how long a parse takes would
   * tell whether they were the same).
   */
  forget(): void {
    this.buf = NO_BYTES;
    this.memoLen = 0;
    this.memoMisses = 0;
  }

  /** Header name i as a string (original case). */
  name(i: number): string {
    const o = i * HDR_STRIDE;
    return this.buf.toString('latin1', this.offs[o + H_NAME], this.offs[o + H_NAME_END]);
  }

  /** Header value i as a string (OWS trimmed). */
  value(i: number): string {
    const o = i * HDR_STRIDE;
    return this.buf.toString('latin1', this.offs[o + H_VALUE], this.offs[o + H_VALUE_END]);
  }

  /** Whether header i's name equals `lower` (a lowercase ASCII name), ignoring case. */
  nameIs(i: number, lower: Buffer): boolean {
    const o = i * HDR_STRIDE;
    const s = this.offs[o + H_NAME]!;
    const len = this.offs[o + H_NAME_END]! - s;
    if (len !== lower.length) return false;
    const b = this.buf;
    for (let k = 0; k < len; k++) {
      const c = b[s + k]!;
      const l = lower[k]!;
      if (c !== l && (c | 0x20) !== l) return false;
    }
    return true;
  }

  /** Index of the first header named `lower` from `from`, -1 if none. */
  find(lower: Buffer, from = 0): number {
    for (let i = from; i < this.count; i++) if (this.nameIs(i, lower)) return i;
    return -1;
  }

  uri(): string {
    return this.buf.toString('latin1', this.uriStart, this.uriEnd);
  }

  /**
   * Move a complete head into a buffer of its own (it was parsed where it was read, and those
   * bytes are about to be reused): buf[start, end) is copied, every offset follows.
   */
  detach(): void {
    const from = this.start;
    const own = Buffer.allocUnsafe(this.end - from);
    this.buf.copy(own, 0, from, this.end);
    const offs = this.offs;
    for (let i = 0, n = this.count * HDR_STRIDE; i < n; i++) offs[i]! -= from;
    this.buf = own;
    this.start = 0;
    this.end -= from;
    this.lineEnd -= from;
    this.uriStart -= from;
    this.uriEnd -= from;
  }

  /**
   * Parse the request head starting at buf[start] (the whole rest of `buf` is looked at; it
   * may hold a part of the head only, or the head and what follows). Returns the offset just
   * after the head when it is complete and valid, NEED_MORE when every byte so far is valid
   * but the head is not complete, or -status when it is invalid.
   */
  parseRequest(buf: Buffer, start: number): number {
    const memo = this.memoTurn();
    if (!memo) this.memoMisses++;
    else if (this.recall(buf, start)) return this.end;
    this.reset(buf, start);
    const len = buf.length;
    let p = start;
    // method
    while (TCHAR[buf[p]!]) p++;
    if (p >= len) return NEED_MORE;
    if (p === start || buf[p] !== SP) return -400;
    this.method = internMethod(buf, start, p);
    p++;
    // request-target: visible ASCII only (HAProxy strict mode refuses bytes >= 0x80 too)
    const u = p;
    for (let c = buf[p]!; c > 0x20 && c < 0x7f; c = buf[++p]!);
    if (p >= len) return NEED_MORE;
    if (p === u || buf[p] !== SP) return -400;
    this.uriStart = u;
    this.uriEnd = p;
    p++;
    // HTTP/d.d and the line end
    if (len - p < 9) return len - p > 0 && buf[p] !== 0x48 ? -400 : NEED_MORE;
    if (
      buf[p] !== 0x48 || buf[p + 1] !== 0x54 || buf[p + 2] !== 0x54 || buf[p + 3] !== 0x50 ||
      buf[p + 4] !== 0x2f || buf[p + 6] !== 0x2e
    ) {
      return -400;
    }
    const major = buf[p + 5]! - 48;
    const minor = buf[p + 7]! - 48;
    if (major < 0 || major > 9 || minor < 0 || minor > 9) return -400;
    this.version = major > 1 || (major === 1 && minor >= 1) ? 11 : 10;
    this.versionOdd = major !== 1 || minor > 1;
    p += 8;
    const c = buf[p];
    if (c === CR) {
      if (p + 1 >= len) return NEED_MORE;
      if (buf[p + 1] !== LF) return -400;
      p += 2;
    } else if (c === LF) {
      this.crlf = false;
      p++;
    } else return -400;
    this.lineEnd = p;
    const end = this.parseHeaders(buf, p, false);
    if (end <= 0) return end;

    if (this.te) {
      // Content-Length with Transfer-Encoding: refused (HAProxy would drop CL and close).
      if (this.contentLength >= 0) return -400;
      if (!this.chunked) return -400;
    }
    // HAProxy 2.6: HTTP/1.0 GET/HEAD/DELETE with a payload is answered 413.
    if (
      this.version === 10 &&
      (this.contentLength > 0 || this.chunked) &&
      (this.method === 'GET' || this.method === 'HEAD' || this.method === 'DELETE')
    ) {
      return -413;
    }
    if (memo) this.remember(buf, start, end);
    return end;
  }

  /**
   * Parse a response head starting at buf[start], as parseRequest() does: the offset after
   * it, NEED_MORE, or a negative number when it is invalid (the caller answers 502).
   */
  parseResponse(buf: Buffer, start: number): number {
    const memo = this.memoTurn();
    if (!memo) this.memoMisses++;
    else if (this.recall(buf, start)) return this.end;
    this.reset(buf, start);
    const len = buf.length;
    let p = start;
    // HTTP/d.d SP ddd [SP reason] EOL
    if (len - p < 13) return NEED_MORE;
    if (
      buf[p] !== 0x48 || buf[p + 1] !== 0x54 || buf[p + 2] !== 0x54 || buf[p + 3] !== 0x50 ||
      buf[p + 4] !== 0x2f || buf[p + 6] !== 0x2e || buf[p + 8] !== SP
    ) {
      return -502;
    }
    const major = buf[p + 5]! - 48;
    const minor = buf[p + 7]! - 48;
    if (major < 0 || major > 9 || minor < 0 || minor > 9) return -502;
    this.version = major > 1 || (major === 1 && minor >= 1) ? 11 : 10;
    p += 9;
    const d0 = buf[p]! - 48;
    const d1 = buf[p + 1]! - 48;
    const d2 = buf[p + 2]! - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return -502;
    this.status = d0 * 100 + d1 * 10 + d2;
    p += 3;
    if (buf[p] === SP) {
      p++;
      for (let c = buf[p]!; VCHAR[c]; c = buf[++p]!);
    }
    if (p >= len) return NEED_MORE;
    const c = buf[p];
    if (c === CR) {
      if (p + 1 >= len) return NEED_MORE;
      if (buf[p + 1] !== LF) return -502;
      p += 2;
    } else if (c === LF) {
      this.crlf = false;
      p++;
    } else return -502;
    this.lineEnd = p;
    const end = this.parseHeaders(buf, p, true);
    if (end < 0) return -502;
    if (end > 0 && memo) this.remember(buf, start, end);
    return end;
  }

  /**
   * Whether this parse looks for the remembered head (and remembers its own): always while
   * heads repeat; once MEMO_TRIES in a row were different ones, every MEMO_REST-th head and
   * the one after it (a parse outside these turns replaces the fields, so the memo is only
   * good for the head right after the one it remembered).
   */
  private memoTurn(): boolean {
    const m = this.memoMisses;
    return m < MEMO_TRIES || m % MEMO_REST < 2;
  }

  /**
   * When buf[start...] begins with the remembered head, make it this head's (the fields hold
   * its parse already; offsets move with `start`) and answer true. A parse reads no byte past
   * the head's end and depends on nothing but its bytes, so equal bytes give equal results.
   */
  private recall(buf: Buffer, start: number): boolean {
    const n = this.memoLen;
    if (n === 0 || buf.length - start < n || !sameBytes(buf, start, this.memo!, n)) {
      this.memoMisses++;
      return false;
    }
    this.memoMisses = 0;
    const shift = start - this.start;
    if (shift !== 0) {
      const offs = this.offs;
      for (let i = 0, k = this.count * HDR_STRIDE; i < k; i++) offs[i]! += shift;
      this.start = start;
      this.end += shift;
      this.lineEnd += shift;
      this.uriStart += shift;
      this.uriEnd += shift;
    }
    this.buf = buf;
    return true;
  }

  /** Keep a copy of buf[start, end), the head just parsed (up to MEMO_MAX bytes). */
  private remember(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n > MEMO_MAX) return;
    let memo = this.memo;
    if (memo === undefined || memo.length < n) memo = this.memo = Buffer.allocUnsafeSlow(Math.max(n, MEMO_MIN));
    buf.copy(memo, 0, start, end);
    this.memoLen = n;
  }

  /** Header lines from p to the empty line: the offset after it, NEED_MORE, or -status. */
  private parseHeaders(buf: Buffer, p: number, response: boolean): number {
    let offs = this.offs;
    let kinds = this.kinds;
    const len = buf.length;
    const max = this.maxHeaders;
    let count = 0;
    for (;;) {
      if (p >= len) return NEED_MORE;
      let c = buf[p]!;
      if (c === CR) {
        if (p + 1 >= len) return NEED_MORE;
        if (buf[p + 1] !== LF) return -400;
        p += 2;
        break;
      }
      if (c === LF) {
        this.crlf = false;
        p++;
        break;
      }
      // A name starting with whitespace (obs-fold) or any other non-token byte is refused.
      if (count >= this.capacity) {
        if (count >= max) return -400;
        this.grow();
        offs = this.offs;
        kinds = this.kinds;
      }
      const lineStart = p;
      let seen = 0;
      for (let n = NAME[buf[p]!]!; n & NAME_TOKEN; n = NAME[buf[++p]!]!) seen |= n;
      if (seen & NAME_UPPER) this.upperNames = true;
      if (p >= len) return NEED_MORE;
      if (p === lineStart || buf[p] !== COLON) return -400;
      const nameEnd = p;
      p++;
      while (buf[p] === SP || buf[p] === HT) p++;
      const valueStart = p;
      // VCHAR, by comparisons (cheaper here than a table load per byte).
      for (let v = buf[p]!; v >= SP ? v !== 0x7f : v === HT; v = buf[++p]!);
      if (p >= len) return NEED_MORE;
      let valueEnd = p;
      c = buf[p]!;
      if (c === CR) {
        if (p + 1 >= len) return NEED_MORE;
        if (buf[p + 1] !== LF) return -400;
        p += 2;
      } else if (c === LF) {
        this.crlf = false;
        p++;
      } else return -400;
      while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HT)) valueEnd--;
      const i = count++;
      const o = i * HDR_STRIDE;
      offs[o] = lineStart;
      offs[o + 1] = nameEnd;
      offs[o + 2] = valueStart;
      offs[o + 3] = valueEnd;
      offs[o + 4] = lineStart;
      offs[o + 5] = p;
      const kind = classify(buf, lineStart, nameEnd - lineStart);
      kinds[i] = kind;
      if (kind !== HK.other) {
        this.kindMask |= 1 << kind;
        this.count = count;
        const err = this.special(kind, i, buf, valueStart, valueEnd, response);
        if (err) return -err;
      }
    }
    this.count = count;
    this.end = p;
    return p;
  }

  /** Double the header arrays (up to maxHeaders). */
  private grow(): void {
    const cap = Math.min(this.capacity * 2, this.maxHeaders);
    const offs = new Int32Array(cap * HDR_STRIDE);
    offs.set(this.offs);
    const kinds = new Uint8Array(cap);
    kinds.set(this.kinds);
    this.offs = offs;
    this.kinds = kinds;
    this.capacity = cap;
  }

  /** Interpret a header the engine acts upon. 0 or an error status. */
  private special(kind: number, i: number, buf: Buffer, s: number, e: number, response: boolean): number {
    switch (kind) {
      case HK.contentLength: {
        const before = this.contentLength;
        const r = parseContentLength(buf, s, e, before);
        if (r < 0) return 400;
        // Forward one canonical header when there were several, a list, or leading zeros.
        if (before >= 0 || commaIn(buf, s, e) || (e - s > 1 && buf[s] === 0x30)) this.clRewrite = true;
        this.contentLength = r;
        return 0;
      }
      case HK.transferEncoding:
        return this.transferEncoding(buf, s, e, response);
      case HK.connection:
        this.connectionTokens(buf, s, e);
        return 0;
      case HK.upgrade:
        this.upgrade = true;
        return 0;
      case HK.expect:
        if (e - s === 12 && eqLower(buf, s, EXPECT_100)) this.expectContinue = true;
        return 0;
      case HK.host:
        if (this.host < 0) {
          this.host = i;
          return 0;
        }
        // A second Host must carry the same value (HAProxy refuses different ones).
        return sameValueIgnoreCase(this, this.host, i) ? 0 : 400;
      default:
        return 0;
    }
  }

  private transferEncoding(buf: Buffer, s: number, e: number, response: boolean): number {
    this.te = true;
    let p = s;
    while (p < e) {
      while (p < e && (buf[p] === SP || buf[p] === HT || buf[p] === 0x2c)) p++;
      if (p >= e) break;
      const w = p;
      while (p < e && buf[p] !== 0x2c) p++;
      let we = p;
      while (we > w && (buf[we - 1] === SP || buf[we - 1] === HT)) we--;
      const isChunked = we - w === 7 && eqLower(buf, w, CHUNKED);
      if (isChunked) {
        // RFC 7230 3.3.1: chunked must not be applied twice.
        if (this.chunked || this.teChunkedSeen) return 400;
        this.teChunkedSeen = true;
        this.chunked = true;
      } else {
        // A coding after chunked in a request: the body has no framing.
        if (!response && this.teChunkedSeen) return 400;
        this.chunked = false;
        this.teOther = true;
      }
    }
    if (!response && this.teOther && this.chunked) return 422;
    return 0;
  }

  private connectionTokens(buf: Buffer, s: number, e: number): void {
    let p = s;
    while (p < e) {
      while (p < e && (buf[p] === SP || buf[p] === HT || buf[p] === 0x2c)) p++;
      const w = p;
      while (p < e && buf[p] !== 0x2c) p++;
      let we = p;
      while (we > w && (buf[we - 1] === SP || buf[we - 1] === HT)) we--;
      const len = we - w;
      if (len === 5 && eqLower(buf, w, CLOSE)) this.connClose = true;
      else if (len === 10 && eqLower(buf, w, KEEP_ALIVE)) this.connKeepAlive = true;
      else if (len === 7 && eqLower(buf, w, UPGRADE)) this.connUpgrade = true;
    }
  }

}

const CHUNKED = Buffer.from('chunked');
const CLOSE = Buffer.from('close');
const KEEP_ALIVE = Buffer.from('keep-alive');
const UPGRADE = Buffer.from('upgrade');
const EXPECT_100 = Buffer.from('100-continue');

const N_HOST = Buffer.from('host');
const N_EXPECT = Buffer.from('expect');
const N_UPGRADE = Buffer.from('upgrade');
const N_CONNECTION = Buffer.from('connection');
const N_KEEP_ALIVE = Buffer.from('keep-alive');
const N_CONTENT_LENGTH = Buffer.from('content-length');
const N_TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const N_PROXY_CONNECTION = Buffer.from('proxy-connection');

/** Kind of the header whose name is buf[s, s+len) (a validated token). */
function classify(buf: Buffer, s: number, len: number): number {
  switch (len) {
    case 4:
      return eqLower(buf, s, N_HOST) ? HK.host : HK.other;
    case 6:
      return eqLower(buf, s, N_EXPECT) ? HK.expect : HK.other;
    case 7:
      return eqLower(buf, s, N_UPGRADE) ? HK.upgrade : HK.other;
    case 10:
      if (eqLower(buf, s, N_CONNECTION)) return HK.connection;
      return eqLower(buf, s, N_KEEP_ALIVE) ? HK.keepAlive : HK.other;
    case 14:
      return eqLower(buf, s, N_CONTENT_LENGTH) ? HK.contentLength : HK.other;
    case 16:
      return eqLower(buf, s, N_PROXY_CONNECTION) ? HK.proxyConnection : HK.other;
    case 17:
      return eqLower(buf, s, N_TRANSFER_ENCODING) ? HK.transferEncoding : HK.other;
    default:
      return HK.other;
  }
}

/**
 * Case-insensitive compare of buf[s, s+lower.length) with `lower` (lowercase letters, digits
 * and '-'). The caller checked the length. Only valid for token bytes (no CR, which | 0x20
 * would turn into '-').
 */
export function eqLower(buf: Buffer, s: number, lower: Buffer): boolean {
  for (let k = 0; k < lower.length; k++) {
    const c = buf[s + k]!;
    const l = lower[k]!;
    if (c !== l && (c | 0x20) !== l) return false;
  }
  return true;
}

function commaIn(buf: Buffer, s: number, e: number): boolean {
  for (let p = s; p < e; p++) if (buf[p] === 0x2c) return true;
  return false;
}

function sameValueIgnoreCase(h: Head, a: number, b: number): boolean {
  const o1 = a * HDR_STRIDE;
  const o2 = b * HDR_STRIDE;
  const s1 = h.offs[o1 + H_VALUE]!;
  const s2 = h.offs[o2 + H_VALUE]!;
  const len = h.offs[o1 + H_VALUE_END]! - s1;
  if (h.offs[o2 + H_VALUE_END]! - s2 !== len) return false;
  const buf = h.buf;
  for (let k = 0; k < len; k++) {
    const x = buf[s1 + k]!;
    const y = buf[s2 + k]!;
    if (x !== y && (x | 0x20) !== (y | 0x20)) return false;
  }
  return true;
}

/**
 * Content-Length value: one or several comma-separated decimal values, all equal, and equal
 * to `previous` when a previous header had one. The value, or -1 when invalid.
 */
function parseContentLength(buf: Buffer, s: number, e: number, previous: number): number {
  let value = previous;
  let p = s;
  let any = false;
  while (p < e) {
    while (p < e && (buf[p] === SP || buf[p] === HT)) p++;
    const d = p;
    let n = 0;
    while (p < e) {
      const c = buf[p]! - 48;
      if (c < 0 || c > 9) break;
      n = n * 10 + c;
      if (n > Number.MAX_SAFE_INTEGER) return -1;
      p++;
    }
    if (p === d) return -1;
    while (p < e && (buf[p] === SP || buf[p] === HT)) p++;
    if (p < e) {
      if (buf[p] !== 0x2c) return -1;
      p++;
      if (p >= e) return -1;
    }
    if (value >= 0 && n !== value) return -1;
    value = n;
    any = true;
  }
  return any ? value : -1;
}

function internMethod(buf: Buffer, s: number, e: number): string {
  const len = e - s;
  for (let i = 0; i < METHODS.length; i++) {
    const m = METHOD_BYTES[i]!;
    if (m.length !== len) continue;
    let k = 0;
    while (k < len && buf[s + k] === m[k]) k++;
    if (k === len) return METHODS[i]!;
  }
  return buf.toString('latin1', s, e);
}

/**
 * Find the end of a head in buf[from, end): the offset just after the empty line, or -1 if
 * the head is not complete yet. `from` must be the start of the head or a position the
 * previous call returned as `resume` (the caller keeps scanning incrementally).
 */
export function findHeadEnd(buf: Buffer, from: number, end: number): number {
  let p = from;
  for (;;) {
    const lf = buf.indexOf(LF, p);
    if (lf < 0 || lf >= end) return -1;
    const n = buf[lf + 1];
    if (lf + 1 >= end) return -1;
    if (n === LF) return lf + 2;
    if (n === CR) {
      if (lf + 2 >= end) return -1;
      if (buf[lf + 2] === LF) return lf + 3;
    }
    p = lf + 1;
  }
}

/** Where to resume findHeadEnd after it returned -1 on buf[from, end). */
export function headScanResume(from: number, end: number): number {
  return Math.max(from, end - 3);
}

/** Skip empty lines before a request line (HAProxy tolerates them). Offset of the first other byte. */
export function skipLeadingEmptyLines(buf: Buffer, p: number, end: number): number {
  while (p < end && (buf[p] === CR || buf[p] === LF)) p++;
  return p;
}

// ------------------------------------------------------------------------- chunked body

/** Receives the data bytes of chunks as they are tracked. */
export interface ChunkSink {
  chunkData(buf: Buffer, start: number, end: number): void;
}

const CK_SIZE_START = 0;
const CK_SIZE = 1;
const CK_SIZE_WS = 2;
const CK_EXT = 3;
const CK_SIZE_LF = 4;
const CK_DATA = 5;
const CK_DATA_CR = 6;
const CK_DATA_LF = 7;
const CK_TRAILER_START = 8;
const CK_TRAILER_LINE = 9;
const CK_TRAILER_LF = 10;
const CK_FINAL_LF = 11;
const CK_DONE = 12;

/** Largest chunk size accepted (HAProxy refuses sizes that overflow its 64-bit counter). */
const MAX_CHUNK = 2 ** 48;

/**
 * Follows chunked framing over bytes that are forwarded unchanged: chunk sizes, extensions,
 * data, the last chunk and trailers. feed() returns the offset just after the message's
 * final line when it ends inside the given range, NEED_MORE when every byte belongs to the
 * message and more are expected, or INVALID.
 */
export class ChunkedTracker {
  static readonly NEED_MORE = -1;
  static readonly INVALID = -2;

  private state = CK_SIZE_START;
  private remaining = 0;
  private size = 0;
  private trailerBytes = 0;
  /** Trailer section limit (the head limit applies to trailers too). */
  maxTrailer = 16384;
  /** When set, receives the chunk data bytes (de-chunking for an HTTP/1.0 client). */
  sink: ChunkSink | undefined = undefined;

  reset(): void {
    this.state = CK_SIZE_START;
    this.remaining = 0;
    this.size = 0;
    this.trailerBytes = 0;
  }

  get done(): boolean {
    return this.state === CK_DONE;
  }

  feed(buf: Buffer, p: number, end: number): number {
    let st = this.state;
    while (p < end) {
      switch (st) {
        case CK_DATA: {
          const n = Math.min(this.remaining, end - p);
          if (this.sink !== undefined && n > 0) this.sink.chunkData(buf, p, p + n);
          p += n;
          this.remaining -= n;
          if (this.remaining === 0) st = CK_DATA_CR;
          break;
        }
        case CK_SIZE_START: {
          const h = HEX[buf[p]!]!;
          if (h < 0) return this.fail();
          this.size = h;
          st = CK_SIZE;
          p++;
          break;
        }
        case CK_SIZE: {
          const c = buf[p]!;
          const h = HEX[c]!;
          if (h >= 0) {
            this.size = this.size * 16 + h;
            if (this.size > MAX_CHUNK) return this.fail();
            p++;
          } else if (c === SP || c === HT) {
            st = CK_SIZE_WS;
            p++;
          } else if (c === 0x3b) {
            st = CK_EXT;
            p++;
          } else if (c === CR) {
            st = CK_SIZE_LF;
            p++;
          } else if (c === LF) {
            st = this.sizeDone();
            p++;
          } else {
            return this.fail();
          }
          break;
        }
        case CK_SIZE_WS: {
          const c = buf[p]!;
          if (c === SP || c === HT) p++;
          else if (c === 0x3b) {
            st = CK_EXT;
            p++;
          } else if (c === CR) {
            st = CK_SIZE_LF;
            p++;
          } else if (c === LF) {
            st = this.sizeDone();
            p++;
          } else return this.fail();
          break;
        }
        case CK_EXT: {
          let c = buf[p]!;
          while (VCHAR[c] && ++p < end) c = buf[p]!;
          if (p >= end) break;
          if (c === CR) st = CK_SIZE_LF;
          else if (c === LF) st = this.sizeDone();
          else return this.fail();
          p++;
          break;
        }
        case CK_SIZE_LF:
          if (buf[p] !== LF) return this.fail();
          st = this.sizeDone();
          p++;
          break;
        case CK_DATA_CR: {
          const c = buf[p]!;
          if (c === CR) st = CK_DATA_LF;
          else if (c === LF) st = CK_SIZE_START;
          else return this.fail();
          p++;
          break;
        }
        case CK_DATA_LF:
          if (buf[p] !== LF) return this.fail();
          st = CK_SIZE_START;
          p++;
          break;
        case CK_TRAILER_START: {
          const c = buf[p]!;
          if (c === CR) {
            st = CK_FINAL_LF;
            p++;
          } else if (c === LF) {
            this.state = CK_DONE;
            return p + 1;
          } else if (TCHAR[c]) {
            st = CK_TRAILER_LINE;
          } else return this.fail();
          break;
        }
        case CK_TRAILER_LINE: {
          let c = buf[p]!;
          const s = p;
          while (VCHAR[c] && ++p < end) c = buf[p]!;
          this.trailerBytes += p - s;
          if (this.trailerBytes > this.maxTrailer) return this.fail();
          if (p >= end) break;
          if (c === CR) st = CK_TRAILER_LF;
          else if (c === LF) st = CK_TRAILER_START;
          else return this.fail();
          p++;
          break;
        }
        case CK_TRAILER_LF:
          if (buf[p] !== LF) return this.fail();
          st = CK_TRAILER_START;
          p++;
          break;
        case CK_FINAL_LF:
          if (buf[p] !== LF) return this.fail();
          this.state = CK_DONE;
          return p + 1;
        default:
          return this.fail();
      }
    }
    this.state = st;
    return ChunkedTracker.NEED_MORE;
  }

  private sizeDone(): number {
    if (this.size === 0) return CK_TRAILER_START;
    this.remaining = this.size;
    return CK_DATA;
  }

  private fail(): number {
    this.state = CK_DONE + 1;
    return ChunkedTracker.INVALID;
  }
}
