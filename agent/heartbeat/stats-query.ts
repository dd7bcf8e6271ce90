// Query an HAProxy-compatible stats socket (HAProxy itself or proxy-core): connect to the
// UNIX socket, send one command line, read the answer until the server closes (HAProxy's
// non-interactive mode: one command per connection).

import net from 'node:net';

/** A `show stat` row keyed by the CSV header's column names (`pxname`, `svname`, `scur`…). */
export type StatRow = Record<string, string>;

/** Thrown when the socket cannot be reached or does not answer in time. */
export class StatsSocketError extends Error {
  readonly code = 'STATS_SOCKET_ERROR';
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`stats socket ${path}: ${message}`, options);
    this.name = 'StatsSocketError';
    this.path = path;
  }
}

/** Send `command` and resolve with the whole answer. */
export function queryStatsSocket(path: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.createConnection({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new StatsSocketError(path, `no answer to '${command}' within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(`${command}\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(new StatsSocketError(path, err.message, { cause: err }));
    });
    socket.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Split one CSV line; HAProxy does not quote, but a quoted field is honoured anyway. */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/** Parse `show stat` CSV: the first line is the header prefixed by `# `. */
export function parseShowStat(text: string): StatRow[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0);
  if (lines.length === 0 || !lines[0].startsWith('# ')) {
    throw new Error(`not a 'show stat' answer: ${JSON.stringify(text.slice(0, 80))}`);
  }
  const header = splitCsvLine(lines[0].slice(2));
  return lines.slice(1).map((line) => {
    const values = splitCsvLine(line);
    const row: StatRow = {};
    header.forEach((name, i) => {
      if (name !== '') row[name] = values[i] ?? '';
    });
    return row;
  });
}

/** `show stat` of one socket, parsed. */
export async function showStat(path: string, timeoutMs?: number): Promise<StatRow[]> {
  return parseShowStat(await queryStatsSocket(path, 'show stat', timeoutMs));
}

/** `show info` of one socket: `Name: value` lines as a record. */
export async function showInfo(path: string, timeoutMs?: number): Promise<Record<string, string>> {
  const info: Record<string, string> = {};
  for (const line of (await queryStatsSocket(path, 'show info', timeoutMs)).split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) info[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return info;
}

/** Which engine process answers on a socket: `<Pid>@<Start_time_sec>` (HAProxy ≥ 2.x and
 *  proxy-core both report them); undefined when `show info` does not say. Counters restart
 *  from zero when this changes (an HAProxy reload is a new worker process). */
export async function processIdentity(path: string, timeoutMs?: number): Promise<string | undefined> {
  const info = await showInfo(path, timeoutMs);
  return info.Pid && info.Start_time_sec ? `${info.Pid}@${info.Start_time_sec}` : undefined;
}
