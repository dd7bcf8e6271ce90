// A stats-socket client, as Octavia's agent talks to HAProxy: send one command line, read
// until the server closes.

import net from 'node:net';

export function query(path: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(path, () => s.write(`${cmd}\n`));
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}
