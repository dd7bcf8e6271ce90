// `option httpchk`: send one HTTP request (over TLS with `check-ssl`) and judge the response
// with `http-check expect`, or HAProxy's default (any 2xx or 3xx status passes).
//
// What HAProxy 2.6 puts on the wire, reproduced here: the request line as configured, header
// names lower-cased (HTX), `connection: close` added for HTTP/1.1 requests, nothing added for
// HTTP/1.0. A status-based verdict is taken as soon as the response head is complete; a
// body-based one (`string`, `rstring`) as soon as the body read so far decides it, else when the
// body ends (or fills HAProxy's 16 kB check buffer).

import type net from 'node:net';
import { ABORTED, openTcp, openTls, type CheckTls, type Opened } from './connect.ts';
import { deadline } from './deadline.ts';
import { errnoText, replyBudget, type Probe, type ProbeResult, type ProbeTarget } from './probe.ts';

export interface HttpCheckSpec {
  method: string;
  uri: string;
  version: string;
  headers: [string, string][];
  body?: string;
  expect?: { kind: string; negate: boolean; pattern: string };
}

/** HAProxy's check buffer (tune.bufsize): a body match only sees this much of the response. */
const BUFSIZE = 16384;

/** The request bytes HAProxy 2.6 sends for this check. */
export function checkRequest(spec: HttpCheckSpec): Buffer {
  let head = `${spec.method} ${spec.uri} ${spec.version}\r\n`;
  let hasConnection = false;
  for (const [name, value] of spec.headers) {
    const lower = name.toLowerCase();
    if (lower === 'connection') hasConnection = true;
    head += `${lower}: ${value}\r\n`;
  }
  const body = spec.body === undefined ? undefined : Buffer.from(spec.body, 'latin1');
  if (body) head += `content-length: ${body.length}\r\n`;
  if (spec.version === 'HTTP/1.1' && !hasConnection) head += 'connection: close\r\n';
  head += '\r\n';
  const bytes = Buffer.from(head, 'latin1');
  return body ? Buffer.concat([bytes, body]) : bytes;
}

// ------------------------------------------------------------------------- expectations

type Verdict =
  | { on: 'status'; test: (code: number) => boolean }
  | { on: 'body'; negate: boolean; test: (body: string) => boolean };

/** `status 200,300-399`: a list of codes and ranges. */
function statusList(pattern: string): (code: number) => boolean {
  const ranges = pattern.split(',').map((part) => {
    const [lo, hi] = part.trim().split('-');
    const a = Number(lo);
    return [a, hi === undefined ? a : Number(hi)] as const;
  });
  return (code) => ranges.some(([a, b]) => code >= a && code <= b);
}

/**
 * The verdict of an `http-check expect` rule. Kinds this engine does not implement (`hdr`,
 * `fhdr`, `string-lf`...) are refused by the config checks; here they fall back to the default.
 */
export function compileExpect(expect: HttpCheckSpec['expect']): Verdict {
  const byDefault: Verdict = { on: 'status', test: (code) => code >= 200 && code <= 399 };
  if (!expect) return byDefault;
  const { kind, negate, pattern } = expect;
  const not = (f: (code: number) => boolean) => (negate ? (code: number) => !f(code) : f);
  switch (kind) {
    case 'status':
      return { on: 'status', test: not(statusList(pattern)) };
    case 'rstatus': {
      const re = new RegExp(pattern);
      return { on: 'status', test: not((code) => re.test(String(code))) };
    }
    case 'string':
      return { on: 'body', negate, test: (body) => body.includes(pattern) };
    case 'rstring': {
      const re = new RegExp(pattern);
      return { on: 'body', negate, test: (body) => re.test(body) };
    }
    default:
      return byDefault;
  }
}

// --------------------------------------------------------------------- response reading

interface Head {
  code: number;
  reason: string;
  /** Offset of the body in the buffer. */
  bodyAt: number;
  contentLength?: number;
  chunked: boolean;
}

const STATUS_LINE = /^HTTP\/\d\.\d (\d{3})(?: ([^\r\n]*))?\r?$/;

/** Parse the head once complete; 'invalid' for a response that is not HTTP; undefined: need more. */
function parseHead(buf: Buffer): Head | 'invalid' | undefined {
  const firstLf = buf.indexOf(0x0a);
  if (firstLf < 0) {
    // Not even a status line yet: refuse early only if what we have cannot become one.
    const start = buf.toString('latin1', 0, Math.min(buf.length, 5));
    return 'HTTP/'.startsWith(start) ? undefined : 'invalid';
  }
  const m = STATUS_LINE.exec(buf.toString('latin1', 0, firstLf));
  if (!m) return 'invalid';
  let end = buf.indexOf('\r\n\r\n', 0, 'latin1');
  let sep = 4;
  const lf = buf.indexOf('\n\n', 0, 'latin1');
  if (lf >= 0 && (end < 0 || lf < end)) {
    end = lf;
    sep = 2;
  }
  if (end < 0) return undefined;
  const head: Head = { code: Number(m[1]), reason: m[2] ?? '', bodyAt: end + sep, chunked: false };
  for (const line of buf.toString('latin1', firstLf + 1, end).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') head.contentLength = Number(value);
    else if (name === 'transfer-encoding' && /chunked/i.test(value)) head.chunked = true;
  }
  return head;
}

/** Decode as much of a chunked body as is there; `complete` once the last chunk was seen. */
function dechunk(raw: Buffer): { body: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lf = raw.indexOf('\r\n', at, 'latin1');
    if (lf < 0) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(raw.toString('latin1', at, lf).split(';')[0]!, 16);
    if (!Number.isFinite(size)) return { body: Buffer.concat(parts), complete: true };
    if (size === 0) return { body: Buffer.concat(parts), complete: true };
    const start = lf + 2;
    parts.push(raw.subarray(start, Math.min(raw.length, start + size)));
    if (raw.length < start + size + 2) return { body: Buffer.concat(parts), complete: false };
    at = start + size + 2;
  }
}

// -------------------------------------------------------------------------------- probe

export class HttpProbe implements Probe {
  readonly #request: Buffer;
  readonly #verdict: Verdict;
  readonly #tls: CheckTls | undefined;
  /** A HEAD request gets a response without body, whatever its Content-Length says. */
  readonly #head: boolean;

  constructor(spec: HttpCheckSpec, tls?: CheckTls) {
    this.#request = checkRequest(spec);
    this.#head = spec.method.toUpperCase() === 'HEAD';
    this.#verdict = compileExpect(spec.expect);
    this.#tls = tls;
  }

  async probe(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    const startedAt = performance.now();
    const opened: Opened<net.Socket> = this.#tls
      ? await openTls(target, signal, this.#tls, startedAt)
      : await openTcp(target, signal);
    if (!opened.socket) return opened.result;
    return this.#exchange(opened.socket, target, signal, startedAt);
  }

  #exchange(socket: net.Socket, target: ProbeTarget, signal: AbortSignal, startedAt: number): Promise<ProbeResult> {
    const verdict = this.#verdict;
    const headRequest = this.#head;
    return new Promise((resolve) => {
      let buf: Buffer = Buffer.alloc(0);
      let head: Head | undefined;
      let settled = false;
      const finish = (r: ProbeResult): void => {
        if (settled) return;
        settled = true;
        cancel();
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({ connected: true, ...r });
      };
      const onAbort = (): void => finish(ABORTED);
      const cancel = deadline(replyBudget(target, startedAt), () => finish({ status: 'L7TOUT', info: '' }));
      signal.addEventListener('abort', onAbort, { once: true });

      /** Decide if possible; `ended`: the member closed (or the buffer is full). */
      const evaluate = (ended: boolean): void => {
        if (!head) {
          const h = parseHead(buf);
          if (h === 'invalid' || (h === undefined && ended)) return finish({ status: 'L7RSP', info: '' });
          if (h === undefined) return;
          head = h;
          if (verdict.on === 'status') {
            return finish(
              verdict.test(head.code)
                ? { status: 'L7OK', code: head.code, info: '' }
                : { status: 'L7STS', code: head.code, info: head.reason },
            );
          }
        }
        if (verdict.on !== 'body') return;
        const raw = buf.subarray(head.bodyAt);
        let body: Buffer;
        let complete = ended || buf.length >= BUFSIZE;
        if (headRequest || head.code < 200 || head.code === 204 || head.code === 304) {
          body = Buffer.alloc(0);
          complete = true;
        } else if (head.chunked) {
          const d = dechunk(raw);
          body = d.body;
          complete ||= d.complete;
        } else {
          body = head.contentLength === undefined ? raw : raw.subarray(0, head.contentLength);
          complete ||= head.contentLength !== undefined && raw.length >= head.contentLength;
        }
        const matched = verdict.test(body.toString('latin1'));
        if (matched && !verdict.negate) return finish({ status: 'L7OK', code: head.code, info: '' });
        if (matched && verdict.negate) return finish({ status: 'L7RSP', info: 'HTTP check matched unwanted content' });
        if (!complete) return;
        if (verdict.negate) return finish({ status: 'L7OK', code: head.code, info: '' });
        finish({ status: 'L7RSP', info: 'HTTP content check did not match' });
      };

      socket.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        evaluate(buf.length >= BUFSIZE);
      });
      socket.on('end', () => evaluate(true));
      socket.on('error', (err) => {
        if (head || buf.length > 0) return evaluate(true);
        finish({ status: 'SOCKERR', info: errnoText(err) });
      });
      socket.write(this.#request);
    });
  }
}
