// Both ends of the wire for the differential test: members that record what reaches them,
// and a raw-socket client that sends exact bytes and parses what comes back.

import http from 'node:http';
import net from 'node:net';

/** What one member received for one request, as the member's HTTP parser saw it. */
export interface Received {
  member: string;
  method: string;
  url: string;
  httpVersion: string;
  /** Header fields in arrival order, names as sent on the wire. */
  headers: [string, string][];
  trailers: [string, string][];
  body: string;
}

export interface Recorder {
  port: number;
  close(): Promise<void>;
}

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/** An HTTP member on 127.0.0.1 that appends every request it receives to `log` and answers
 *  200 with `X-Member: <name>` and a body naming itself. */
export async function httpRecorder(name: string, log: Received[]): Promise<Recorder> {
  const server = http.createServer({ requireHostHeader: false, keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      log.push({
        member: name,
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        headers: pairs(req.rawHeaders),
        trailers: pairs(req.rawTrailers),
        body: Buffer.concat(chunks).toString('latin1'),
      });
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('X-Member', name);
      if (req.url?.startsWith('/chunked-response')) {
        // No Content-Length: Node frames the response with chunked encoding.
        res.write(`${name} ${req.method} `);
        res.write(`${req.url}`);
        res.end('\n');
        return;
      }
      res.end(`${name} ${req.method} ${req.url}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP member that records the raw bytes of each connection and, once it has a complete
 *  HTTP head, answers a fixed response and closes. */
export async function tcpRecorder(name: string, log: { member: string; bytes: string }[]): Promise<Recorder> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let got = '';
    let answered = false;
    s.on('data', (b: Buffer) => {
      got += b.toString('latin1');
      if (!answered && got.includes('\r\n\r\n')) {
        answered = true;
        log.push({ member: name, bytes: got });
        s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${name.length + 1}\r\nConnection: close\r\n\r\n${name}\n`);
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface Response {
  status: number;
  reason: string;
  headers: [string, string][];
  body: string;
}

/** A client connection that sends raw bytes and parses HTTP/1.1 responses off the stream. */
export class Conn {
  private buf = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }

  send(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Send `bytes` and half-close: the client has nothing more to say, and still reads. */
  end(bytes = ''): void {
    this.socket.end(Buffer.from(bytes, 'latin1'));
  }

  /** Wait until `ready()` holds, data arrives or the peer closes; false on timeout. */
  private async until(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.closed) return ready();
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return true;
  }

  /** Next complete response (1xx skipped unless `interim`), or undefined if the connection
   *  closed (or went silent for `timeoutMs`) before one arrived. `head`: the request was HEAD. */
  async response(head = false, timeoutMs = 5000, interim = false): Promise<Response | undefined> {
    for (;;) {
      let parsed: { res: Response; used: number } | undefined;
      const ok = await this.until(() => (parsed = parseResponse(this.buf, head, this.closed)) !== undefined, timeoutMs);
      if (!ok || !parsed) return undefined;
      this.buf = this.buf.subarray(parsed.used);
      if (!interim && parsed.res.status >= 100 && parsed.res.status < 200) continue;
      return parsed.res;
    }
  }

  /** Bytes received and not consumed by `response()`. */
  leftover(): string {
    return this.buf.toString('latin1');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Parse one response at the start of `buf`; undefined while incomplete. */
function parseResponse(buf: Buffer, head: boolean, closed: boolean): { res: Response; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
  const status = Number(m[1]);
  const headers = lines.slice(1).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()] as [string, string];
  });
  const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  let pos = end + 4;
  const noBody = head || (status >= 100 && status < 200) || status === 204 || status === 304;
  let body = '';
  if (noBody) {
    // nothing
  } else if (get('transfer-encoding')?.toLowerCase().includes('chunked')) {
    for (;;) {
      const eol = buf.indexOf('\r\n', pos);
      if (eol < 0) return undefined;
      const size = parseInt(buf.subarray(pos, eol).toString('latin1').split(';')[0]!, 16);
      pos = eol + 2;
      if (size === 0) {
        // trailers up to an empty line
        const tEnd = buf.indexOf('\r\n', pos);
        if (tEnd < 0) return undefined;
        if (tEnd === pos) {
          pos += 2;
          break;
        }
        const all = buf.indexOf('\r\n\r\n', pos);
        if (all < 0) return undefined;
        pos = all + 4;
        break;
      }
      if (buf.length < pos + size + 2) return undefined;
      body += buf.subarray(pos, pos + size).toString('latin1');
      pos += size + 2;
    }
  } else if (get('content-length') !== undefined) {
    const n = Number(get('content-length'));
    if (buf.length < pos + n) return undefined;
    body = buf.subarray(pos, pos + n).toString('latin1');
    pos += n;
  } else {
    // Delimited by close.
    if (!closed) return undefined;
    body = buf.subarray(pos).toString('latin1');
    pos = buf.length;
  }
  return { res: { status, reason: m[2] ?? '', headers, body }, used: pos };
}
