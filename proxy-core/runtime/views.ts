// Views of Buffers that serve again: a keep-alive peer's messages are mostly of one size, so
// the view made for one message fits the next one in the same place, where a new Buffer per
// read or write would cost a typed array each (the member reads in balance/member-read.ts, the
// request heads the mode-http engine sends in l7/http1.ts, the edited responses it sends on
// from a member connection, kept with the connection in l7/pool.ts).

import type { Buffer } from 'node:buffer';

/**
 * The last view made, and of what: asked for the same range of the same Buffer again, it is
 * that view again. Known by the Buffer object and the numbers, not by the views' `buffer` and
 * `byteOffset`, which are getters: reading four of them cost more than the rest of the check.
 */
export class ReusedView {
  private of: Buffer | undefined = undefined;
  private from = 0;
  private view: Buffer | undefined = undefined;

  /** buf[from, to): the last view when it is exactly that, `buf` when it is the whole, else a new view. */
  get(buf: Buffer, from: number, to: number): Buffer {
    const v = this.view;
    if (v !== undefined && buf === this.of && from === this.from && v.length === to - from) return v;
    this.of = buf;
    this.from = from;
    return (this.view = from === 0 && to === buf.length ? buf : buf.subarray(from, to));
  }

  /** Whether `b` is the last view made. */
  is(b: Buffer): boolean {
    return b === this.view;
  }

  /** Forget the view (its bytes are held elsewhere now, or its Buffer must not be kept alive). */
  clear(): void {
    this.of = undefined;
    this.view = undefined;
  }
}
