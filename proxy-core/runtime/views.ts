// Views of Buffers that serve again: a keep-alive peer's messages are mostly of one size, so
// the view made for one message fits the next one in the same place, where a new Buffer per
// read or write would cost a typed array each (the member reads in balance/member-read.ts, the
// heads the mode-http engine sends in l7/http1.ts).

import type { Buffer } from 'node:buffer';

/** buf[from, to): `last` when it is exactly that view, `buf` when it is the whole, else a new view. */
export function viewOf(buf: Buffer, from: number, to: number, last: Buffer | undefined): Buffer {
  if (from === 0 && to === buf.length) return buf;
  if (last !== undefined && last.length === to - from && last.buffer === buf.buffer && last.byteOffset === buf.byteOffset + from) return last;
  return buf.subarray(from, to);
}
