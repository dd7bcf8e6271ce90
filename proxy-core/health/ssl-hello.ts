// `option ssl-hello-chk`: send a forged TLS ClientHello on a plain connection and pass when
// the member answers with a ServerHello (L6OK). No TLS library involved, as in HAProxy, so
// it also works against members whose certificates a real handshake would reject.

import { ABORTED, openTcp } from './connect.ts';
import { deadline } from './deadline.ts';
import { errnoText, replyBudget, type Probe, type ProbeResult, type ProbeTarget } from './probe.ts';

/** Common ECDHE/RSA AES-GCM and AES-CBC suites: any TLS 1.0-1.2 server shares one of them. */
const SUITES = [0xc02f, 0xc02b, 0xc030, 0xc02c, 0x009e, 0x009c, 0x009d, 0xc013, 0xc014, 0x002f, 0x0035];

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(body.length), body]);
}

/** A TLS 1.2 ClientHello record with a fresh random, no SNI, no session. */
export function clientHello(): Buffer {
  const suites = Buffer.concat(SUITES.map(u16));
  const groups = Buffer.concat([0x001d, 0x0017, 0x0018].map(u16)); // x25519, P-256, P-384
  const sigalgs = Buffer.concat([0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501, 0x0201].map(u16));
  const extensions = Buffer.concat([
    extension(0x000a, Buffer.concat([u16(groups.length), groups])), // supported_groups
    extension(0x000b, Buffer.from([1, 0])), // ec_point_formats: uncompressed
    extension(0x000d, Buffer.concat([u16(sigalgs.length), sigalgs])), // signature_algorithms
  ]);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]), // client_version TLS 1.2
    crypto.getRandomValues(Buffer.alloc(32)),
    Buffer.from([0]), // session id: empty
    u16(suites.length),
    suites,
    Buffer.from([1, 0]), // compression: null
    u16(extensions.length),
    extensions,
  ]);
  const handshake = Buffer.concat([Buffer.from([0x01, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
}

export class SslHelloProbe implements Probe {
  async probe(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    const startedAt = performance.now();
    const opened = await openTcp(target, signal);
    if (!opened.socket) return opened.result;
    const socket = opened.socket;
    return new Promise((resolve) => {
      let got: Buffer = Buffer.alloc(0);
      let settled = false;
      const finish = (r: ProbeResult): void => {
        if (settled) return;
        settled = true;
        cancel();
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(r);
      };
      const onAbort = (): void => finish(ABORTED);
      const cancel = deadline(replyBudget(target, startedAt), () => finish({ status: 'L6TOUT', info: '', connected: true }));
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length < 6) return;
        // Record type handshake (22), then the first handshake message must be ServerHello (2).
        const ok = got[0] === 0x16 && got[5] === 0x02;
        finish(ok ? { status: 'L6OK', info: '', connected: true } : { status: 'L6RSP', info: '', connected: true });
      });
      socket.on('error', (err) => finish({ status: 'L6RSP', info: errnoText(err), connected: true }));
      socket.on('end', () => finish({ status: 'L6RSP', info: '', connected: true }));
      socket.write(clientHello());
    });
  }
}
