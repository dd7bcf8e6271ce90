// Request bodies are raw bytes (the controller sends `data=<str|bytes>` without a content
// type, contract 2): read them whole, up to a limit per endpoint, before anything is stored.

import type { Request } from 'express';
import { InvalidBodyError } from '../errors.ts';

const MiB = 1024 * 1024;

/** Largest body each upload accepts. */
export const BODY_LIMITS = {
  /** A combined haproxy.cfg: thousands of members stay far below. */
  haproxyConfig: 10 * MiB,
  /** A certificate, key and chain, a crt-list, or a CRL (CRLs of big CAs run to megabytes). */
  certificate: 10 * MiB,
  /** amphora-agent.conf. */
  agentConfig: 1 * MiB,
  /** The agent's own certificate + key. */
  serverCertificate: 1 * MiB,
} as const;

/** Read the whole body. Refuses (InvalidBodyError → 400) a declared or actual size above
 *  `limit` without buffering it; the connection is then closed by the caller's response. */
export function readBody(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.once('error', (e) => {
      if (!failed) {
        failed = true;
        reject(e);
      }
    });
  });
}

function tooLarge(limit: number): InvalidBodyError {
  // 400, not 413: the controller counts 413 as success (contract 1.5).
  return new InvalidBodyError(`Request body exceeds the limit of ${limit} bytes`);
}
