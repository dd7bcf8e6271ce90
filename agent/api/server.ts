// The HTTPS listener: mutual TLS exactly as Octavia's agent (contract 1.2, 8.5).
// - certificate and key both come from the one `agent_server_cert` PEM, served as given (the
//   controller checks the hostname against the amphora id the cert was issued for);
// - a client certificate signed by `agent_server_ca` is required: without one, or with one
//   from another CA, the handshake fails;
// - TLS 1.2 is always accepted: the controller pins exactly TLS 1.2 by default, so
//   `agent_tls_protocol` can lower the minimum but never raise it above 1.2;
// - PUT /certificate swaps the context of the running server (setSecureContext): new
//   connections get the new certificate, nothing restarts.

import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { Express } from 'express';
import type { AgentConfig } from '../config.ts';
import { AgentConfigError, CertificateUpdateError, InvalidBodyError } from '../errors.ts';
import { writeFileAtomic } from '../lb/atomic.ts';
import type { Logger } from '../lb/log.ts';

/** Octavia's protocol names → Node's minimum version, capped at TLS 1.2. */
export function minTlsVersion(protocol: AgentConfig['amphora_agent']['agent_tls_protocol']): tls.SecureVersion {
  switch (protocol) {
    case 'SSLv3': // Node has no SSLv3; the closest minimum it offers
    case 'TLSv1':
      return 'TLSv1';
    case 'TLSv1.1':
      return 'TLSv1.1';
    default:
      return 'TLSv1.2';
  }
}

function contextOptions(cfg: AgentConfig, serverPem: Buffer, ca: Buffer): tls.SecureContextOptions {
  return { cert: serverPem, key: serverPem, ca, minVersion: minTlsVersion(cfg.amphora_agent.agent_tls_protocol) };
}

function readOrFail(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new AgentConfigError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

export class AgentServer {
  readonly server: https.Server;
  private readonly cfg: AgentConfig;
  private readonly ca: Buffer;
  private readonly log: Logger;

  constructor(cfg: AgentConfig, app: Express, log: Logger) {
    this.cfg = cfg;
    this.log = log;
    const pem = readOrFail(cfg.amphora_agent.agent_server_cert, '[amphora_agent] agent_server_cert');
    this.ca = readOrFail(cfg.amphora_agent.agent_server_ca, '[amphora_agent] agent_server_ca');
    let options: tls.SecureContextOptions;
    try {
      options = contextOptions(cfg, pem, this.ca);
      tls.createSecureContext(options);
    } catch (e) {
      throw new AgentConfigError(`unusable agent TLS material (${cfg.amphora_agent.agent_server_cert}, ${cfg.amphora_agent.agent_server_ca}): ${(e as Error).message}`);
    }
    this.server = https.createServer({ ...options, requestCert: true, rejectUnauthorized: true }, app);
    // A slow client must not hold the single-request-at-a-time controller flow forever.
    this.server.requestTimeout = cfg.amphora_agent.agent_request_read_timeout * 1000;
    this.server.on('tlsClientError', (err, socket) => {
      log.debug(`TLS handshake refused from ${socket.remoteAddress}: ${err.message}`);
    });
  }

  /** Listen on [haproxy_amphora] bind_host:bind_port ('::' = dual stack). */
  listen(): Promise<AddressInfo> {
    const { bind_host: host, bind_port: port } = this.cfg.haproxy_amphora;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, ipv6Only: false }, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** PUT /certificate: refuse a PEM that is not a matching certificate + key (the agent
   *  would lock itself out), else store it (0600, atomically) and serve it. */
  async rotate(pem: Buffer): Promise<void> {
    const options = contextOptions(this.cfg, pem, this.ca);
    try {
      tls.createSecureContext(options);
    } catch (e) {
      throw new InvalidBodyError(`not a usable certificate and private key: ${(e as Error).message}`);
    }
    try {
      await writeFileAtomic(this.cfg.amphora_agent.agent_server_cert, pem, 0o600);
    } catch (e) {
      throw new CertificateUpdateError(`cannot write ${this.cfg.amphora_agent.agent_server_cert}: ${(e as Error).message}`);
    }
    this.server.setSecureContext(options);
    this.log.info(`serving the new certificate from ${this.cfg.amphora_agent.agent_server_cert}`);
  }

  /** Stop accepting; finish requests in flight, drop idle keep-alive connections. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      setTimeout(() => this.server.closeAllConnections(), 5000).unref();
    });
  }
}
