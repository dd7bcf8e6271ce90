// The engine's stats socket (HAProxy's CLI protocol: one command line in, the answer until the
// server closes), as far as the lifecycle needs it: is it up, and `show servers state`.

import net from 'node:net';

/** True when something accepts connections on the unix socket `path`. */
export function canConnect(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Send one command and return the whole answer. Rejects on error or after `timeoutMs`. */
export function query(path: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(path);
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      reject(new Error(`stats socket ${path}: no answer to "${command}" within ${timeoutMs} ms`));
    });
    s.once('connect', () => s.write(`${command}\n`));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('error', (e) => reject(e));
    s.once('end', () => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}
