// Opening the check connection, shared by every socket-based probe: TCP connect with the
// check's connect timeout (Layer 4), then optionally a TLS handshake (Layer 6, `check-ssl`).
// A failure comes back as the ProbeResult HAProxy would report for that layer.

import net from 'node:net';
import type tls from 'node:tls';
import { deadline } from './deadline.ts';
import { errnoText, type ProbeResult, type ProbeTarget } from './probe.ts';

export type Opened<S extends net.Socket> = { socket: S; result?: undefined } | { socket?: undefined; result: ProbeResult };

/** Result used when the checker aborted a probe (stop/reload): never reported. */
export const ABORTED: ProbeResult = { status: 'UNK', info: 'aborted' };

/** TLS options of a `check-ssl` check: HAProxy shares the server line's TLS settings. */
export interface CheckTls {
  /** `verify required` with a CA: verify the member's certificate against it. */
  ca?: string | Buffer;
  verify: boolean;
  /** `check-sni`. */
  servername?: string;
  /** `check-alpn`. */
  alpn?: string[];
}

/** Connect to the target; L4CON / L4TOUT on failure. The caller owns (and ends) the socket. */
export function openTcp(target: ProbeTarget, signal: AbortSignal): Promise<Opened<net.Socket>> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ result: ABORTED });
    const socket = net.connect({ host: target.host, port: target.port });
    let settled = false;
    const finish = (r: Opened<net.Socket>): void => {
      if (settled) return;
      settled = true;
      cancel();
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      if (r.result) socket.destroy();
      resolve(r);
    };
    const onAbort = (): void => finish({ result: ABORTED });
    const onError = (err: Error): void => finish({ result: { status: 'L4CON', info: errnoText(err) } });
    const cancel = deadline(target.connectTimeout, () => finish({ result: { status: 'L4TOUT', info: '' } }));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', () => finish({ socket }));
  });
}

/** Connect, then complete a TLS handshake (verify none unless asked); L6RSP / L6TOUT on failure.
 *  `startedAt` (performance.now()) is when the check began: connect and handshake share one budget. */
export async function openTls(
  target: ProbeTarget,
  signal: AbortSignal,
  opts: CheckTls,
  startedAt: number,
): Promise<Opened<tls.TLSSocket>> {
  // node:tls is loaded on the first TLS check only: most supervisors never run one, and the
  // module costs every one of them resident memory (the idle-RSS budget is 64 MB).
  const { connect } = await import('node:tls');
  const tcp = await openTcp(target, signal);
  if (!tcp.socket) return tcp;
  const raw = tcp.socket;
  return new Promise((resolve) => {
    if (signal.aborted) {
      raw.destroy();
      return resolve({ result: ABORTED });
    }
    const options: tls.ConnectionOptions = { socket: raw, rejectUnauthorized: opts.verify };
    if (opts.ca !== undefined) options.ca = opts.ca;
    if (opts.servername !== undefined) options.servername = opts.servername;
    if (opts.alpn !== undefined) options.ALPNProtocols = opts.alpn;
    const socket = connect(options);
    let settled = false;
    const finish = (r: Opened<tls.TLSSocket>): void => {
      if (settled) return;
      settled = true;
      cancel();
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      if (r.result) {
        socket.destroy();
        raw.destroy();
      }
      resolve(r);
    };
    const onAbort = (): void => finish({ result: ABORTED });
    // HAProxy reports any handshake failure (alert, reset, garbage) the same way.
    const onError = (): void => finish({ result: { status: 'L6RSP', info: 'SSL handshake failure', connected: true } });
    // HAProxy counts the handshake as part of connecting: it must end within the connect
    // timeout (min(timeout connect, inter)) of the check's start, not within `timeout check`.
    const cancel = deadline(Math.max(1, target.connectTimeout - (performance.now() - startedAt)), () =>
      finish({ result: { status: 'L6TOUT', info: '', connected: true } }),
    );
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('close', onError);
    socket.once('secureConnect', () => {
      socket.removeListener('close', onError);
      finish({ socket });
    });
  });
}
