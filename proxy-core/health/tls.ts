// `check check-ssl` without an HTTP check: a TLS handshake (verify none unless the server line
// asks otherwise). Passing means the handshake completed (L6OK).

import { openTls, type CheckTls } from './connect.ts';
import type { Probe, ProbeResult, ProbeTarget } from './probe.ts';

export class TlsProbe implements Probe {
  readonly #tls: CheckTls;

  constructor(tls: CheckTls) {
    this.#tls = tls;
  }

  async probe(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    const opened = await openTls(target, signal, this.#tls, performance.now());
    if (!opened.socket) return opened.result;
    opened.socket.destroy();
    return { status: 'L6OK', info: '', connected: true };
  }
}
