// `[health_manager] controller_ip_port_list` entries: `192.0.2.5:5555`, `[fd00::5]:5555`, or
// the bare `fd00::5:5555` older controllers render (the port is after the last ':').

import { lookup } from 'node:dns/promises';

export interface Destination {
  /** The entry as configured, for logs. */
  text: string;
  host: string;
  port: number;
}

/** Parse one entry; undefined when it has no usable port. */
export function parseDestination(text: string): Destination | undefined {
  const entry = text.trim();
  const colon = entry.lastIndexOf(':');
  if (colon <= 0) return undefined;
  let host = entry.slice(0, colon);
  const port = Number(entry.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') return undefined;
  return { text: entry, host, port };
}

/** Resolve like getaddrinfo and keep the first answer, as Octavia's sender does. */
export async function resolveDestination(d: Destination): Promise<{ address: string; family: 4 | 6; port: number }> {
  const { address, family } = await lookup(d.host);
  return { address, family: family === 6 ? 6 : 4, port: d.port };
}
