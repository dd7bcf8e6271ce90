// A throwaway PKI shaped like the one Octavia's controller runs (certificates/generator/
// local.py): a CA; per amphora a server certificate with CN = SAN DNS = the amphora id and
// EKU serverAuth + clientAuth, handed over as one PEM (certificate then key, Octavia's
// server.pem); a controller client certificate signed by a CA. For tests and dev mode.
// RSA keys come from node:crypto (native, fast); node-forge builds and signs the X.509.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** Certificate followed by its key: the shape of Octavia's server.pem / client.pem. */
  pem: string;
}

export interface IssueOptions {
  cn: string;
  /** subjectAltName DNS entries (Octavia: the amphora id). */
  dns?: string[];
  /** subjectAltName IP entries. */
  ips?: string[];
  serverAuth?: boolean;
  clientAuth?: boolean;
  /** Validity in days (default 365). */
  days?: number;
}

function rsaKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), keyPem };
}

function baseCertificate(publicKey: forge.pki.rsa.PublicKey, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // Positive serial (high bit clear), 16 random bytes as Octavia's generator uses.
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + days * 86_400_000);
  return cert;
}

/** A self-signed CA. */
export function makeCa(cn: string, days = 3650): CertificateAuthority {
  const { privateKey, publicKey, keyPem } = rsaKeyPair();
  const cert = baseCertificate(publicKey, days);
  const subject = [{ name: 'commonName', value: cn }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem, cert, key: privateKey };
}

/** A leaf certificate signed by `ca`. */
export function issueCert(ca: CertificateAuthority, opts: IssueOptions): IssuedCertificate {
  const { publicKey, keyPem } = rsaKeyPair();
  const cert = baseCertificate(publicKey, opts.days ?? 365);
  cert.setSubject([{ name: 'commonName', value: opts.cn }]);
  cert.setIssuer(ca.cert.subject.attributes);
  const altNames = [
    ...(opts.dns ?? []).map((value) => ({ type: 2, value })),
    ...(opts.ips ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: opts.serverAuth ?? true, clientAuth: opts.clientAuth ?? true },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  return { certPem, keyPem, pem: `${certPem}${keyPem}` };
}

/** Octavia's amphora server certificate: CN = SAN DNS = amphora id, both EKUs. */
export function issueAmphoraCert(ca: CertificateAuthority, amphoraId: string, days?: number): IssuedCertificate {
  return issueCert(ca, { cn: amphoraId, dns: [amphoraId], serverAuth: true, clientAuth: true, days });
}
