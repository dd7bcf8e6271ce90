// The wire form of edited heads: serialize() into a new buffer, compactInPlace() in the
// head's own bytes. Both must drop exactly the same lines.

import { describe, expect, it } from 'vitest';
import { HK } from '../../proxy-core/l7/http1-parser.ts';
import { Message } from '../../proxy-core/l7/message.ts';

const CONN = 1 << HK.connection;
const CL = 1 << HK.contentLength;

const STATUS = 'HTTP/1.1 200 OK\r\n';
const BODY = 'hello world!\n';

/** A response head of `lines`, the body after it, then `after` (bytes of something else). */
function parsed(lines: string[], after = ''): { msg: Message; buf: Buffer; end: number } {
  const text = STATUS + lines.map((l) => l + '\r\n').join('') + '\r\n';
  const buf = Buffer.from(text + BODY + after, 'latin1');
  const msg = new Message();
  msg.reset();
  const end = msg.head.parseResponse(buf, 0);
  expect(end).toBe(text.length);
  return { msg, buf, end };
}

/** What serialize() sends for the same edit, followed by the body. */
function serialized(lines: string[], skip: number, deleted: number[]): string {
  const { msg } = parsed(lines);
  for (const i of deleted) msg.deleteAt(i);
  const out = msg.serialize(skip, Buffer.from('\r\n'), 0, false);
  return out.toString('latin1', 0, msg.written) + BODY;
}

function compacted(lines: string[], skip: number, deleted: number[], after = ''): { wire: string; rest: string } {
  const { msg, buf, end } = parsed(lines, after);
  for (const i of deleted) msg.deleteAt(i);
  const stop = end + BODY.length;
  const sent = msg.compactInPlace(skip, stop);
  return { wire: buf.toString('latin1', 0, sent), rest: buf.toString('latin1', stop) };
}

describe('compactInPlace', () => {
  const cases: { name: string; lines: string[]; skip: number; deleted: number[] }[] = [
    { name: 'nothing dropped', lines: ['Server: a', 'Content-Length: 13'], skip: CONN, deleted: [] },
    { name: "nginx's Connection line", lines: ['Server: nginx', 'Content-Length: 13', 'Connection: keep-alive', 'ETag: "x"', 'Accept-Ranges: bytes'], skip: CONN, deleted: [] },
    { name: 'the first line', lines: ['Connection: close', 'Server: a', 'Content-Length: 13'], skip: CONN, deleted: [] },
    { name: 'the last line', lines: ['Server: a', 'Content-Length: 13', 'Connection: close'], skip: CONN, deleted: [] },
    { name: 'every line', lines: ['Connection: close', 'Connection: upgrade'], skip: CONN, deleted: [] },
    {
      name: 'runs of dropped and kept lines, by kind and deleted by rules',
      lines: ['A: 1', 'Connection: close', 'Connection: x', 'B: 2', 'Content-Length: 13', 'C: 3', 'X-Drop: 1', 'D: 4', 'Connection: y'],
      skip: CONN | CL,
      deleted: [6],
    },
    { name: 'a deleted line only', lines: ['A: 1', 'X-Drop: 1', 'Content-Length: 13'], skip: 0, deleted: [1] },
  ];
  for (const c of cases) {
    it(`drops what serialize() drops: ${c.name}`, () => {
      const { wire, rest } = compacted(c.lines, c.skip, c.deleted, 'NEXT');
      expect(wire).toBe(serialized(c.lines, c.skip, c.deleted));
      // Bytes after `stop` are not touched.
      expect(rest).toBe('NEXT');
    });
  }
});
