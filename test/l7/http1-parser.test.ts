import { describe, expect, it } from 'vitest';
import {
  ChunkedTracker,
  findHeadEnd,
  HDR_STRIDE,
  Head,
  headScanResume,
  NEED_MORE,
  skipLeadingEmptyLines,
} from '../../proxy-core/l7/http1-parser.ts';

/** Parse a complete head; status 0 when valid, else the status the parser asks for. */
function req(text: string): { head: Head; status: number } {
  const buf = Buffer.from(text, 'latin1');
  const start = skipLeadingEmptyLines(buf, 0, buf.length);
  const head = new Head();
  const r = head.parseRequest(buf, start);
  expect(r).not.toBe(NEED_MORE);
  if (r > 0) expect(r).toBe(findHeadEnd(buf, start, buf.length));
  return { head, status: r < 0 ? -r : 0 };
}

function res(text: string): { head: Head; status: number } {
  const buf = Buffer.from(text, 'latin1');
  const head = new Head();
  const r = head.parseResponse(buf, 0);
  expect(r).not.toBe(NEED_MORE);
  return { head, status: r < 0 ? -r : 0 };
}

describe('request head parser', () => {
  it('reads the request line, headers and framing of a plain request', () => {
    const { head, status } = req('GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Thing:  v  \r\n\r\n');
    expect(status).toBe(0);
    expect(head.method).toBe('GET');
    expect(head.uri()).toBe('/a/b?x=1');
    expect(head.version).toBe(11);
    expect(head.count).toBe(2);
    expect(head.name(1)).toBe('X-Thing');
    expect(head.value(1)).toBe('v');
    expect(head.host).toBe(0);
    expect(head.contentLength).toBe(-1);
    expect(head.crlf).toBe(true);
  });

  it('accepts LF-only line endings like HAProxy and notes them', () => {
    const { head, status } = req('GET / HTTP/1.0\nHost: a\n\n');
    expect(status).toBe(0);
    expect(head.version).toBe(10);
    expect(head.crlf).toBe(false);
  });

  it('skips empty lines before the request line', () => {
    const { head, status } = req('\r\n\r\nGET / HTTP/1.1\r\n\r\n');
    expect(status).toBe(0);
    expect(head.method).toBe('GET');
  });

  it('refuses a bare CR', () => {
    expect(req('GET / HTTP/1.1\r\nA: b\rc\r\n\r\n').status).toBe(400);
    expect(req('GET / HTTP/1.1\rX\r\n\r\n').status).toBe(400);
  });

  it('refuses obs-fold and whitespace before the colon', () => {
    expect(req('GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n').status).toBe(400);
    expect(req('GET / HTTP/1.1\r\nA : b\r\n\r\n').status).toBe(400);
  });

  it('refuses invalid header name characters and control bytes in values', () => {
    expect(req('GET / HTTP/1.1\r\nA(b): c\r\n\r\n').status).toBe(400);
    expect(req('GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n').status).toBe(400);
    expect(req('GET / HTTP/1.1\r\n: c\r\n\r\n').status).toBe(400);
  });

  it('refuses bad request lines and versions', () => {
    expect(req('GET /\r\n\r\n').status).toBe(400); // HTTP/0.9
    expect(req('GET / HTTP/1.1 \r\n\r\n').status).toBe(400);
    expect(req('GET  / HTTP/1.1\r\n\r\n').status).toBe(400);
    expect(req('GET / HTTQ/1.1\r\n\r\n').status).toBe(400);
    expect(req('GET /\x80 HTTP/1.1\r\n\r\n').status).toBe(400);
  });

  it('treats versions above 1.1 as 1.1', () => {
    expect(req('GET / HTTP/1.2\r\n\r\n').head.version).toBe(11);
  });

  it('accepts identical Content-Length values and refuses different ones', () => {
    const same = req('POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n');
    expect(same.status).toBe(0);
    expect(same.head.contentLength).toBe(5);
    expect(same.head.clRewrite).toBe(true);
    expect(req('POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n').head.contentLength).toBe(5);
    expect(req('POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n').status).toBe(400);
    expect(req('POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n').status).toBe(400);
    expect(req('POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n').status).toBe(400);
    expect(req('POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n').status).toBe(400);
    expect(req('POST / HTTP/1.1\r\nContent-Length: \r\n\r\n').status).toBe(400);
  });

  it('refuses Content-Length together with Transfer-Encoding', () => {
    expect(req('POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n').status).toBe(400);
    expect(req('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n').status).toBe(400);
  });

  it('requires a request Transfer-Encoding to end in one chunked (422 for other codings first, as HAProxy 2.6)', () => {
    expect(req('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n').head.chunked).toBe(true);
    expect(req('POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n').head.chunked).toBe(true);
    expect(req('POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n').status).toBe(400);
    expect(req('POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n').status).toBe(400);
    expect(req('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n').status).toBe(400);
    expect(req('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').status).toBe(422);
  });

  it('answers 413 to an HTTP/1.0 GET with a body, as HAProxy 2.6', () => {
    expect(req('GET / HTTP/1.0\r\nContent-Length: 3\r\n\r\n').status).toBe(413);
    expect(req('POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n').status).toBe(0);
  });

  it('refuses two different Host headers', () => {
    expect(req('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n').status).toBe(400);
    expect(req('GET / HTTP/1.1\r\nHost: a\r\nhost: A\r\n\r\n').status).toBe(0);
  });

  it('reads Connection tokens, Upgrade and Expect', () => {
    const { head } = req(
      'GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nExpect: 100-continue\r\n\r\n',
    );
    expect(head.connKeepAlive).toBe(true);
    expect(head.connUpgrade).toBe(true);
    expect(head.connClose).toBe(false);
    expect(head.upgrade).toBe(true);
    expect(head.expectContinue).toBe(true);
  });

  it('refuses more headers than tune.http.maxhdr', () => {
    const many = Array.from({ length: 101 }, (_, i) => `h${i}: v\r\n`).join('');
    expect(req(`GET / HTTP/1.1\r\n${many}\r\n`).status).toBe(400);
    const ok = Array.from({ length: 100 }, (_, i) => `h${i}: v\r\n`).join('');
    expect(req(`GET / HTTP/1.1\r\n${ok}\r\n`).status).toBe(0);
  });
});

describe('incomplete heads', () => {
  it('every prefix of a valid head asks for more, and a body after the head is not read', () => {
    const text = 'POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n';
    const full = Buffer.from(text + 'abc');
    for (let cut = 0; cut < text.length; cut++) {
      expect(new Head().parseRequest(full.subarray(0, cut), 0), `cut ${cut}`).toBe(NEED_MORE);
    }
    expect(new Head().parseRequest(full, 0)).toBe(text.length);
    const rtext = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n';
    const rfull = Buffer.from(rtext + 'xyz');
    for (let cut = 0; cut < rtext.length; cut++) {
      expect(new Head().parseResponse(rfull.subarray(0, cut), 0), `cut ${cut}`).toBe(NEED_MORE);
    }
    expect(new Head().parseResponse(rfull, 0)).toBe(rtext.length);
  });

  it('an error is reported as soon as it is seen, before the head is complete', () => {
    expect(new Head().parseRequest(Buffer.from('GET / HTTP/1.1\r\nBad Name: x\r\n'), 0)).toBe(-400);
  });
});

describe('head end detection', () => {
  it('finds CRLF and LF-only ends and resumes a scan across reads', () => {
    const full = Buffer.from('GET / HTTP/1.1\r\nA: b\r\n\r\nBODY');
    expect(findHeadEnd(full, 0, full.length)).toBe(full.indexOf('BODY'));
    const lf = Buffer.from('GET / HTTP/1.1\nA: b\n\nX');
    expect(findHeadEnd(lf, 0, lf.length)).toBe(lf.length - 1);
    for (let cut = 1; cut < full.length - 4; cut++) {
      const part = full.subarray(0, cut);
      const first = findHeadEnd(part, 0, part.length);
      if (first > 0) continue;
      const resume = headScanResume(0, part.length);
      expect(findHeadEnd(full, resume, full.length)).toBe(full.indexOf('BODY'));
    }
  });
});

describe('response head parser', () => {
  it('reads status, framing and connection tokens', () => {
    const { head, status } = res('HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n');
    expect(status).toBe(0);
    expect(head.status).toBe(200);
    expect(head.contentLength).toBe(12);
    expect(head.connClose).toBe(true);
  });

  it('accepts a missing reason phrase and an HTTP/1.0 status line', () => {
    expect(res('HTTP/1.0 204\r\n\r\n').head.status).toBe(204);
    expect(res('HTTP/1.0 204\r\n\r\n').head.version).toBe(10);
  });

  it('refuses malformed status lines and headers (the engine answers 502)', () => {
    expect(res('HTTP/1.1 2000 OK\r\n\r\n').status).not.toBe(0);
    expect(res('HTTP/1.1 099 X\r\n\r\n').status).not.toBe(0);
    expect(res('HTTP/1.1 OK\r\n\r\n').status).not.toBe(0);
    expect(res('HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n').status).not.toBe(0);
    expect(res('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n').status).not.toBe(0);
  });

  it('lets Transfer-Encoding win over Content-Length in a response', () => {
    const { head, status } = res('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n');
    expect(status).toBe(0);
    expect(head.chunked).toBe(true);
    expect(head.te).toBe(true);
  });
});

/** Everything a parse found, offsets taken from the head's start (comparable across buffers). */
function parsed(h: Head, r: number): unknown {
  if (r <= 0) return { r };
  const s = h.start;
  const offs = Array.from(h.offs.subarray(0, h.count * HDR_STRIDE), (o) => o - s);
  return {
    r: r - s, end: h.end - s, lineEnd: h.lineEnd - s, uri: h.method === '' ? null : [h.uriStart - s, h.uriEnd - s], count: h.count, offs,
    kinds: Array.from(h.kinds.subarray(0, h.count)), crlf: h.crlf, kindMask: h.kindMask, version: h.version,
    versionOdd: h.versionOdd, upperNames: h.upperNames, method: h.method, status: h.status,
    contentLength: h.contentLength, clRewrite: h.clRewrite, te: h.te, chunked: h.chunked, connClose: h.connClose,
    connKeepAlive: h.connKeepAlive, connUpgrade: h.connUpgrade, upgrade: h.upgrade, expectContinue: h.expectContinue,
    host: h.host, names: Array.from({ length: h.count }, (_, i) => `${h.name(i)}=${h.value(i)}`),
  };
}

describe('a head parsed again (Head remembers the last one)', () => {
  const requests = [
    'GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n',
    'GET /small HTTP/1.1\r\nHost: 127.0.0.1:8081\r\n\r\n',
    'POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
    'PUT /x HTTP/1.0\nHost: a\nTransfer-Encoding: chunked\nX-UP: 1\n\n',
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r',
    'GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX: ' + 'v'.repeat(300) + '\r\n\r\n',
    'GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX: ' + 'v'.repeat(300) + '\r\n\r\n',
  ];
  const responses = [
    'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nhello world!\n',
    'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 14\r\nConnection: keep-alive\r\n\r\nhello world!!\n',
    'HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
    'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 13\r\nConnection: keep-alive\r\n',
    'HTTP/1.1 200 OK\r\nServer: ngi\x01x\r\nContent-Length: 13\r\n\r\n',
  ];

  /** Each head of `texts` in turn (with the bytes before and after it `pick` chooses) through one Head and a new Head each. */
  function sameAsFresh(texts: string[], parse: (h: Head, b: Buffer, start: number) => number, seed: number): number {
    const kept = new Head();
    let x = seed;
    const rand = (n: number): number => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) % n;
    let recalled = 0;
    for (let k = 0; k < 400; k++) {
      const text = texts[rand(texts.length) < 2 ? 0 : rand(texts.length)]!;
      const before = 'Z'.repeat(rand(3) === 0 ? rand(9) : 0);
      const buf = Buffer.from(before + text + (rand(2) ? 'GET /next HTTP/1.1\r\n' : ''), 'latin1');
      const fresh = new Head();
      const want = parsed(fresh, parse(fresh, buf, before.length));
      const r = parse(kept, buf, before.length);
      expect(parsed(kept, r), `head ${k}: ${JSON.stringify(text)}`).toEqual(want);
      if (r > 0) {
        expect(kept.buf).toBe(buf);
        // The engine moves a kept head into a buffer of its own, or points it at no bytes.
        const then = rand(3);
        if (then === 1) kept.detach();
        if (then === 2) kept.buf = Buffer.alloc(0);
        if (then !== 0) recalled++;
      }
    }
    return recalled;
  }

  it('requests parse to what a new Head finds, repeated or not, at any offset, after detach() or without bytes', () => {
    expect(sameAsFresh(requests, (h, b, s) => h.parseRequest(b, s), 1)).toBeGreaterThan(50);
    expect(sameAsFresh(requests, (h, b, s) => h.parseRequest(b, s), 7)).toBeGreaterThan(50);
  });

  it('responses parse to what a new Head finds, an invalid or incomplete one after a valid one too', () => {
    expect(sameAsFresh(responses, (h, b, s) => h.parseResponse(b, s), 3)).toBeGreaterThan(50);
  });

  it('a head that begins like the remembered one but is cut or differs later is parsed', () => {
    const h = new Head();
    const ok = Buffer.from(requests[0]!, 'latin1');
    expect(h.parseRequest(ok, 0)).toBe(ok.length);
    const cut = ok.subarray(0, ok.length - 1);
    expect(h.parseRequest(cut, 0)).toBe(NEED_MORE);
    expect(h.parseRequest(ok, 0)).toBe(ok.length);
    const bad = Buffer.from(requests[0]!.replace('8080\r\n\r\n', '8080\r\n\r\r'), 'latin1');
    expect(h.parseRequest(bad, 0)).toBe(-400);
    expect(h.parseRequest(ok, 0)).toBe(ok.length);
    expect(h.uri()).toBe('/small');
  });

  it('after a run of different heads, a head repeated again is recalled again', () => {
    const h = new Head();
    for (let i = 0; i < 50; i++) h.parseRequest(Buffer.from(`GET /varied/${i} HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'), 0);
    const same = Buffer.from(requests[0]!, 'latin1');
    for (let i = 0; i < 40; i++) expect(h.parseRequest(same, 0)).toBe(same.length);
    const parses = h.parses;
    for (let i = 0; i < 5; i++) expect(h.parseRequest(Buffer.from(same), 0)).toBe(same.length);
    expect(h.parses).toBe(parses);
  });

  it('a repeated head is recalled, not parsed, until the Head is handed to another connection', () => {
    const h = new Head();
    const ok = Buffer.from(requests[0]!, 'latin1');
    h.parseRequest(ok, 0);
    const parses = h.parses;
    expect(h.parseRequest(Buffer.from(ok), 0)).toBe(ok.length);
    expect(h.parses).toBe(parses);
    h.forget();
    expect(h.buf.length).toBe(0);
    expect(h.parseRequest(ok, 0)).toBe(ok.length);
    expect(h.parses).toBe(parses + 1);
  });
});

describe('chunked tracker', () => {
  const body = '4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n';

  it('finds the end of a chunked body fed byte by byte and whole', () => {
    const b = Buffer.from(body + 'NEXT');
    const whole = new ChunkedTracker();
    expect(whole.feed(b, 0, b.length)).toBe(body.length);
    const t = new ChunkedTracker();
    let r = -1;
    for (let i = 0; i < b.length && r < 0; i++) r = t.feed(b, i, i + 1);
    expect(r).toBe(body.length);
  });

  it('accepts LF-only chunk lines', () => {
    const b = Buffer.from('3\nabc\n0\n\n');
    expect(new ChunkedTracker().feed(b, 0, b.length)).toBe(b.length);
  });

  it('refuses invalid chunk sizes, bare CR and missing CRLF after data', () => {
    for (const bad of ['zz\r\n', '\r\n', '-1\r\n', '4\rx', '4\r\nabcdX', '4\r\nabcd\rX', 'fffffffffffffffff\r\n']) {
      const b = Buffer.from(bad);
      expect(new ChunkedTracker().feed(b, 0, b.length), bad).toBe(ChunkedTracker.INVALID);
    }
  });
});
