// The heartbeat envelope of Octavia's health manager protocol (contract 4.2):
// zlib(JSON) followed by the HMAC-SHA256 of the compressed bytes, as 64 lowercase hex
// characters. The receiver verifies the HMAC over exactly the bytes it received, so the JSON
// serialisation and the deflate implementation need not match Python's byte for byte.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';

/** Length of the hex digest trailer current agents append. */
export const HEX_HMAC_LENGTH = 64;
/** Length of the raw digest trailer legacy agents appended (still accepted by the receiver). */
export const RAW_HMAC_LENGTH = 32;

/** Thrown by unwrapEnvelope when neither trailer form matches the key. */
export class HeartbeatHmacError extends Error {
  readonly code = 'HEARTBEAT_HMAC_MISMATCH';
  constructor() {
    super('heartbeat HMAC does not match the key; packet dropped');
    this.name = 'HeartbeatHmacError';
  }
}

function hmac(payload: Buffer, key: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(payload).digest();
}

/** Compress `message` (level 9, as Octavia's agent does) and append the hex HMAC. */
export function wrapEnvelope(message: unknown, key: string): Buffer {
  const payload = deflateSync(Buffer.from(JSON.stringify(message), 'utf8'), { level: 9 });
  const trailer = Buffer.from(hmac(payload, key).toString('hex'), 'ascii');
  return Buffer.concat([payload, trailer]);
}

/** Verify and decode an envelope like the health manager: hex trailer first, raw digest as
 *  fallback. Throws HeartbeatHmacError on a key mismatch. */
export function unwrapEnvelope(envelope: Buffer, key: string): unknown {
  for (const hex of [true, false]) {
    const length = hex ? HEX_HMAC_LENGTH : RAW_HMAC_LENGTH;
    if (envelope.length <= length) continue;
    const payload = envelope.subarray(0, envelope.length - length);
    const trailer = envelope.subarray(envelope.length - length);
    const digest = hmac(payload, key);
    const expected = hex ? Buffer.from(digest.toString('hex'), 'ascii') : digest;
    if (timingSafeEqual(trailer, expected)) {
      return JSON.parse(inflateSync(payload).toString('utf8'));
    }
  }
  throw new HeartbeatHmacError();
}
