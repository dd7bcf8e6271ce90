// The bench's reference for Node itself: the cheapest proxy Node's public socket API
// allows, with no protocol work at all. Every accepted connection gets its own member
// connection (round robin over the members) and bytes are piped both ways, with
// backpressure and half-close, member bytes read into a reused 64 KiB buffer (`onread`),
// client bytes through 'data' events. What this process costs per request is the floor
// under an engine built on `node:net`'s documented API; proxy-core goes below it where it
// reads client sockets with `onread` too and grows member reads for large bodies (see
// bench/README.md).
//
//   node bench/node-pipe.ts --http-port P --tcp-port Q --members M1,M2
//
// Both ports behave the same (HTTP passes through as bytes). Runs until SIGTERM.

import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'http-port': { type: 'string' },
    'tcp-port': { type: 'string' },
    members: { type: 'string' },
  },
});
const members = (values.members ?? '').split(',').map(Number);
if (members.length === 0 || members.some((p) => !(p > 0))) throw new Error('node-pipe: --members PORT,PORT required');

const READ_SIZE = 64 * 1024;
let next = 0;

function pipe(client: net.Socket): void {
  let buf: Buffer | undefined;
  let kept = false;
  const member = net.connect({
    host: '127.0.0.1',
    port: members[next++ % members.length]!,
    allowHalfOpen: true,
    noDelay: true,
    onread: {
      buffer: () => {
        if (buf === undefined || kept) {
          buf = Buffer.allocUnsafeSlow(READ_SIZE);
          kept = false;
        }
        return buf;
      },
      callback: (n: number, b: Buffer) => {
        if (!client.write(b.subarray(0, n))) member.pause();
        if (client.writableLength > 0) kept = true;
        return true;
      },
    },
  });
  client.on('data', (d: Buffer) => {
    if (!member.write(d)) client.pause();
  });
  client.on('drain', () => member.resume());
  member.on('drain', () => client.resume());
  client.on('end', () => member.end());
  member.on('end', () => client.end());
  client.on('error', () => member.destroy());
  member.on('error', () => client.destroy());
  client.on('close', () => member.destroy());
  member.on('close', () => client.destroy());
}

for (const port of [values['http-port'], values['tcp-port']]) {
  if (!port) throw new Error('node-pipe: --http-port and --tcp-port required');
  net.createServer({ allowHalfOpen: true, noDelay: true }, pipe).listen(Number(port), '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
