// Mutual TLS as the controller speaks it (contract 1.2, trap 8.5): TLS 1.2 accepted, the
// server certificate served as given (CN = SAN = amphora id), a client certificate from the
// configured CA required, and PUT /certificate taking effect for new connections at once.

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentHandle } from '../../agent/main.ts';
import { issueAmphoraCert } from '../../agent/pki.ts';
import { AMP_ID, type AgentDir, makeAgentDir, makePki, type Pki, request, startTestAgent } from './helpers.ts';

let pki: Pki;
let dir: AgentDir;
let agent: AgentHandle;
let port: number;

beforeAll(async () => {
  pki = makePki();
  dir = makeAgentDir(pki);
  agent = await startTestAgent(dir);
  port = agent.address.port;
});

afterAll(async () => {
  await agent.close();
  dir.cleanup();
});

/** Handshake only; resolves with the negotiated protocol and the server's certificate. */
function handshake(opts: tls.ConnectionOptions): Promise<{ protocol: string | null; cert: tls.PeerCertificate; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: pki.serverCa.certPem, servername: AMP_ID, checkServerIdentity: (_h, c) => tls.checkServerIdentity(AMP_ID, c), ...opts });
    s.once('secureConnect', () => {
      // With TLS 1.3 the server's verdict on the client certificate arrives after the
      // client's handshake: read once to see whether the server kept the connection.
      const result = { protocol: s.getProtocol(), cert: s.getPeerCertificate(), authorized: s.authorized };
      s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      let data = '';
      s.on('data', (c) => (data += c));
      s.once('end', () => (data.startsWith('HTTP/1.1 200') ? resolve(result) : reject(new Error(`server closed: ${data}`))));
    });
    s.once('error', reject);
  });
}

describe('mutual TLS', () => {
  it('accepts TLS 1.2 exactly (trap 8.5: what the controller pins by default)', async () => {
    const r = await handshake({ cert: pki.client.certPem, key: pki.client.keyPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    expect(r.protocol).toBe('TLSv1.2');
    expect(r.authorized).toBe(true);
  });

  it('also accepts TLS 1.3', async () => {
    const r = await handshake({ cert: pki.client.certPem, key: pki.client.keyPem, minVersion: 'TLSv1.3' });
    expect(r.protocol).toBe('TLSv1.3');
  });

  it('serves the configured server.pem as given: CN and SAN DNS = the amphora id (trap 8.5)', async () => {
    const r = await handshake({ cert: pki.client.certPem, key: pki.client.keyPem });
    expect(r.cert.subject.CN).toBe(AMP_ID);
    expect(r.cert.subjectaltname).toBe(`DNS:${AMP_ID}`);
    expect(r.cert.fingerprint256).toBe(new (await import('node:crypto')).X509Certificate(pki.server.certPem).fingerprint256);
  });

  it('refuses a client without a certificate in the handshake (TLS 1.2)', async () => {
    await expect(handshake({ maxVersion: 'TLSv1.2' })).rejects.toThrow();
    await expect(request(port, pki, 'GET', '/', undefined, { cert: null, maxVersion: 'TLSv1.2' })).rejects.toThrow();
  });

  it('refuses a client without a certificate (TLS 1.3: the connection is closed, nothing answered)', async () => {
    await expect(handshake({ minVersion: 'TLSv1.3' })).rejects.toThrow();
    await expect(request(port, pki, 'GET', '/', undefined, { cert: null })).rejects.toThrow();
  });

  it('refuses a client certificate from another CA', async () => {
    await expect(handshake({ cert: pki.stranger.certPem, key: pki.stranger.keyPem, maxVersion: 'TLSv1.2' })).rejects.toThrow();
    await expect(request(port, pki, 'GET', '/', undefined, { cert: pki.stranger })).rejects.toThrow();
  });

  it('does not let the controller\'s hostname check pass for another amphora id', async () => {
    await expect(request(port, pki, 'GET', '/', undefined, { servername: '11111111-2222-4333-8444-555555555555' })).rejects.toThrow(
      /does not match|altnames/i,
    );
  });
});

describe('PUT /1.0/certificate rotates the server certificate without a restart', () => {
  it('stores the new PEM (0600) and new connections get it, on the same listening socket', async () => {
    const renewed = issueAmphoraCert(pki.serverCa, AMP_ID, 30);
    const r = await request(port, pki, 'PUT', '/1.0/certificate', renewed.pem);
    expect(r.status).toBe(202);
    expect(r.json()).toEqual({ message: 'OK' });
    const path = join(dir.dir, 'server.pem');
    expect(readFileSync(path, 'utf8')).toBe(renewed.pem);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const after = await handshake({ cert: pki.client.certPem, key: pki.client.keyPem, maxVersion: 'TLSv1.2' });
    const { X509Certificate } = await import('node:crypto');
    expect(after.cert.fingerprint256).toBe(new X509Certificate(renewed.certPem).fingerprint256);
    expect(agent.address.port).toBe(port);
    // client authentication still enforced with the new context
    await expect(handshake({ maxVersion: 'TLSv1.2' })).rejects.toThrow();
    expect((await request(port, pki, 'GET', '/')).status).toBe(200);
  });
});
