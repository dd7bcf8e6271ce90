// The two engines of the differential test, each a child process running `-f <cfg>` in the
// foreground on its own copy of the same Octavia-shaped config (only the bind ports and the
// stats socket path differ).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type EngineName = 'haproxy' | 'proxy-core';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HAPROXY = process.env.HAPROXY ?? '/usr/sbin/haproxy';
// proxy-core needs Node 24 (type stripping, reusePort): the one npm installed for the project.
const NODE24 = existsSync(join(REPO, 'node_modules/node/bin/node')) ? join(REPO, 'node_modules/node/bin/node') : process.execPath;

export interface Running {
  name: EngineName;
  httpPort: number;
  tcpPort: number;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Write `config(httpPort, tcpPort, statsSocket)` into `dir` and run the engine on it until
 *  both binds accept connections. */
export async function startEngine(
  name: EngineName,
  dir: string,
  config: (o: { httpPort: number; tcpPort: number; statsSocket: string }) => string,
): Promise<Running> {
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const cfg = join(dir, `${name}.cfg`);
  writeFileSync(cfg, config({ httpPort, tcpPort, statsSocket: join(dir, `${name}.sock`) }));
  const [cmd, args] = name === 'haproxy' ? [HAPROXY, ['-f', cfg]] : [NODE24, [join(REPO, 'bin/proxy-core.js'), '-f', cfg]];
  const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  exited.then(() => (gone = true));
  const running: Running = {
    name,
    httpPort,
    tcpPort,
    child,
    output: () => out,
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
  const deadline = Date.now() + 20_000;
  for (const port of [httpPort, tcpPort]) {
    for (;;) {
      if (gone) throw new Error(`${name} exited before serving:\n${out}`);
      if (await accepts(port)) break;
      if (Date.now() > deadline) {
        await running.stop();
        throw new Error(`${name} not serving on ${port}:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return running;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
