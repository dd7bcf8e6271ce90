// The stats socket: a UNIX socket speaking HAProxy's CLI protocol, the way Octavia's agent
// (haproxy_query.py) and operators' `socat` use it.
//
// Protocol, as HAProxy 2.6 behaves: a client sends a line (`show stat\n`); several commands
// may share it, separated by `;` (`\;` keeps a literal semicolon); each answer is followed by
// an empty line; after the lines it has received the server closes the connection — unless the
// client asked for `prompt` (interactive mode: a "> " prompt after each answer, until `quit`).
// An idle connection is closed after 10 s (HAProxy's default `stats timeout`).
//
// The socket file is created atomically: bound under a temporary name, given its mode, then
// renamed over the path, so a client never finds it missing or with the wrong mode, and a stale
// socket left by a crashed process is simply replaced.

import { lstatSync, renameSync, statSync, unlinkSync, chmodSync } from 'node:fs';
import net from 'node:net';

export type Answer = (cmd: string) => Promise<string> | string;

const IDLE_MS = 10_000;
const MAX_LINE = 64 * 1024;

/** Split a line into commands on unescaped `;`. */
export function splitCommands(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && line[i + 1] === ';') {
      cur += ';';
      i++;
    } else if (ch === ';') {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out.map((c) => c.trim());
}

export class StatsServer {
  readonly path: string;
  readonly mode: number | undefined;
  /** The command handler; the supervisor may replace it (a reload re-points the socket). */
  answer: Answer;
  readonly #server: net.Server;
  readonly #clients = new Set<net.Socket>();
  #ino: number | undefined;

  constructor(path: string, mode: number | undefined, answer: Answer) {
    this.path = path;
    this.mode = mode;
    this.answer = answer;
    // Half-open: `echo -n "show stat" | socat` ends its side before reading the answer.
    this.#server = net.createServer({ allowHalfOpen: true }, (socket) => this.#serve(socket));
  }

  /** Bind the socket (replacing a stale one) and set its mode. */
  async listen(): Promise<void> {
    try {
      if (!lstatSync(this.path).isSocket()) throw new Error(`${this.path} exists and is not a socket`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      unlinkSync(tmp);
    } catch {}
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(tmp, () => {
        this.#server.removeListener('error', onError);
        resolve();
      });
    });
    try {
      if (this.mode !== undefined) chmodSync(tmp, this.mode);
      renameSync(tmp, this.path);
      this.#ino = statSync(this.path).ino;
    } catch (err) {
      this.#server.close();
      try {
        unlinkSync(tmp);
      } catch {}
      throw err;
    }
  }

  /** Stop accepting, drop open connections, remove the socket file if it is still ours. */
  async close(): Promise<void> {
    for (const c of this.#clients) c.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    try {
      if (this.#ino !== undefined && statSync(this.path).ino === this.#ino) unlinkSync(this.path);
    } catch {}
  }

  #serve(socket: net.Socket): void {
    this.#clients.add(socket);
    socket.on('close', () => this.#clients.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    let buffered = '';
    const session = { interactive: false };
    let busy = Promise.resolve();
    let ended = false;

    /** Answer every complete line in the buffer (all of it once the client has finished sending). */
    const drain = (atEnd: boolean): void => {
      const lines: string[] = [];
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        lines.push(buffered.slice(0, nl).replace(/\r$/, ''));
        buffered = buffered.slice(nl + 1);
      }
      if (atEnd && buffered.length > 0) {
        lines.push(buffered);
        buffered = '';
      }
      if (lines.length === 0) return;
      busy = busy.then(() => this.#answerLines(socket, lines, session, atEnd || ended));
    };

    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE) {
        socket.end('Command line too long.\n\n');
        return;
      }
      drain(false);
    });
    socket.on('end', () => {
      ended = true;
      drain(true);
      void busy.then(() => socket.end());
    });
  }

  async #answerLines(
    socket: net.Socket,
    lines: string[],
    session: { interactive: boolean },
    ended: boolean,
  ): Promise<void> {
    if (socket.destroyed || socket.writableEnded) return;
    for (const line of lines) {
      const cmds = splitCommands(line);
      // `a; b;` has no third command; an empty line alone is answered (with the help text).
      for (const cmd of cmds.length > 1 ? cmds.filter((c) => c !== '') : cmds) {
        if (cmd === 'quit') {
          socket.end();
          return;
        }
        if (cmd === 'prompt') {
          session.interactive = !session.interactive;
          continue;
        }
        let text: string;
        try {
          text = await this.answer(cmd);
        } catch (err) {
          text = `Internal error: ${err instanceof Error ? err.message : String(err)}\n`;
        }
        if (socket.destroyed) return;
        socket.write(`${text}\n`);
      }
      if (session.interactive) socket.write('> ');
    }
    // Non-interactive: one batch of lines, then the server closes, as HAProxy does.
    if (!session.interactive || ended) socket.end();
  }
}
