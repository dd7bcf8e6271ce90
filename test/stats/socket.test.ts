// The stats socket as HAProxy's CLI behaves: one batch of commands per connection, `a; b`,
// the empty line after each answer, `prompt` mode, the socket file's mode, a stale socket
// replaced, and the file removed on close.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatsServer, splitCommands } from '../../proxy-core/stats/socket.ts';

let dir = '';
const servers: StatsServer[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stats-sock-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(answer: (cmd: string) => string | Promise<string>, mode?: number): Promise<string> {
  const path = join(dir, 'lb.sock');
  const s = new StatsServer(path, mode, answer);
  servers.push(s);
  await s.listen();
  return path;
}

/** Send `bytes`, half-close only if asked, collect everything until the server closes. */
function talk(path: string, bytes: string, halfClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = net.connect(path, () => {
      c.write(bytes);
      if (halfClose) c.end();
    });
    c.on('data', (d) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}

const echo = (cmd: string) => `answer to [${cmd}]\n`;

describe('stats socket', () => {
  it('answers one line then closes, each answer followed by an empty line', async () => {
    const path = await open(echo);
    expect(await talk(path, 'show info\n')).toBe('answer to [show info]\n\n');
  });

  it('runs `cmd1; cmd2` in order, keeping `\\;` literal', async () => {
    const path = await open(echo);
    expect(await talk(path, 'show stat -1 6 -1; show info;\n')).toBe('answer to [show stat -1 6 -1]\n\nanswer to [show info]\n\n');
    expect(splitCommands('set a\\;b; x')).toEqual(['set a;b', 'x']);
  });

  it('answers a last line without newline once the client half-closes (echo -n | socat)', async () => {
    const path = await open(async (cmd) => echo(cmd));
    expect(await talk(path, 'show stat', true)).toBe('answer to [show stat]\n\n');
  });

  it('stays open in prompt mode until quit', async () => {
    const path = await open(echo);
    expect(await talk(path, 'prompt\nshow info\nquit\n')).toBe('> answer to [show info]\n\n> ');
  });

  it('creates the socket with the configured mode and replaces a stale one', async () => {
    const path = join(dir, 'lb.sock');
    // A socket file left behind by a dead process (bound, never unlinked).
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`]);
    expect(existsSync(path)).toBe(true);
    await open(echo, 0o666);
    expect(statSync(path).mode & 0o777).toBe(0o666);
    expect(await talk(path, 'x\n')).toBe('answer to [x]\n\n');
    await servers.pop()!.close();
    expect(existsSync(path)).toBe(false);
  });

  it('refuses to replace a regular file', async () => {
    const path = join(dir, 'lb.sock');
    writeFileSync(path, 'not a socket');
    await expect(open(echo)).rejects.toThrow(/not a socket/);
  });

  it('keeps working when the answer throws', async () => {
    const path = await open(() => {
      throw new Error('boom');
    });
    expect(await talk(path, 'show stat\n')).toBe('Internal error: boom\n\n');
  });
});
