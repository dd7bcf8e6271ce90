// `check` alone: a TCP connect. Passing means the member accepted the connection (L4OK).

import { openTcp } from './connect.ts';
import type { Probe, ProbeResult, ProbeTarget } from './probe.ts';

export class TcpProbe implements Probe {
  async probe(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    const opened = await openTcp(target, signal);
    if (!opened.socket) return opened.result;
    // Like HAProxy, close with a reset: a check should not leave TIME_WAIT sockets behind.
    opened.socket.resetAndDestroy();
    return { status: 'L4OK', info: '', connected: true };
  }
}
