// `npm start` (agent/dev.ts) end to end: with nothing configured it makes its PKI and config,
// serves the demo load balancer through the agent, prints heartbeats and a working API call,
// and Ctrl-C stops everything it started.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

import { pidAlive } from '../../agent/lb/store.ts';

const DEV = fileURLToPath(new URL('../../agent/dev.ts', import.meta.url));
const LB_ID = 'd3e0b1a2-0000-4000-8000-00000000de00';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('dev mode (npm start)', () => {
  it('serves the demo LB through the agent, prints heartbeats and an API call, stops on Ctrl-C', async () => {
    const state = mkdtempSync(join(tmpdir(), 'amphora-ts-dev-'));
    cleanups.push(() => rmSync(state, { recursive: true, force: true }));
    const [apiPort, httpPort, tcpPort] = [await freePort(), await freePort(), await freePort()];
    let out = '';
    const child: ChildProcess = spawn(process.execPath, [DEV], {
      env: {
        ...process.env,
        AMPHORA_TS_STATE_DIR: state,
        AMPHORA_TS_API_PORT: String(apiPort),
        DEMO_HTTP_PORT: String(httpPort),
        DEMO_TCP_PORT: String(tcpPort),
        DEMO_HEARTBEAT_INTERVAL: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await exited;
      }
    });

    await until('the banner', () => (out.includes('Ctrl-C stops everything') ? true : undefined), 60_000);
    expect(out).toContain(`curl http://127.0.0.1:${httpPort}/`);
    expect(await get(httpPort)).toMatch(/^member-\d/);
    await until('a heartbeat with both listeners OPEN', () => (/http-listener OPEN.*tcp-listener OPEN/.test(out) ? true : undefined), 20_000);

    // The printed curl line: mutual TLS with the generated client certificate, the server
    // certificate checked against the amphora id.
    const curl = /curl --cacert (\S+) --cert (\S+) --key (\S+) \\\s+--resolve (\S+?):(\d+):127\.0\.0\.1 (https:\S+)/.exec(out);
    expect(curl).not.toBeNull();
    const [, cacert, cert, key, ampId, port, url] = curl!;
    expect(Number(port)).toBe(apiPort);
    const inState = (p: string) => (p.startsWith('/') ? p : join(process.cwd(), p));
    const details = await new Promise<Record<string, unknown>>((resolve, reject) => {
      https
        .get(
          url.replace(ampId, '127.0.0.1'),
          { ca: readFileSync(inState(cacert)), cert: readFileSync(inState(cert)), key: readFileSync(inState(key)), servername: ampId, agent: false },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c));
            res.on('end', () => resolve(JSON.parse(body)));
          },
        )
        .on('error', reject);
    });
    expect(details.haproxy_count).toBe(1);
    expect(details.listeners).toHaveLength(2);

    const pid = Number(readFileSync(join(state, 'octavia', LB_ID, `${LB_ID}.pid`), 'utf8'));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    await until('the demo engine stopped', () => (pidAlive(pid) ? undefined : true), 10_000);
    await expect(get(httpPort)).rejects.toThrow();
  }, 120_000);
});
