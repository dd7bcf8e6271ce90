// Run real HAProxy (`haproxy -c`) on a configuration, the oracle for the parser's tests.
//
// Octavia's configs name certificate files under /var/lib/octavia that do not exist here:
// `prepareForHaproxy` moves every such path under a temporary directory and creates what
// HAProxy reads at check time (a CA, a certificate + key, a CRL, crt-list files), generated
// with the openssl CLI once per directory.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const HAPROXY = '/usr/sbin/haproxy';
export const haveHaproxy = existsSync(HAPROXY) && existsSync('/usr/bin/openssl');

interface Material {
  ca: string;
  crl: string;
  pem: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, a certificate signed by it (cert + key in one PEM) and an empty CRL, in `dir`. */
export function makeMaterial(dir: string): Material {
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test-ca', '-days', '2');
  openssl(dir, 'req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=www.example.com');
  openssl(dir, 'x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '2');
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    '[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n',
  );
  openssl(dir, 'ca', '-config', 'ca.cnf', '-gencrl', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-out', 'ca.crl');
  const pem = join(dir, 'srv.pem');
  writeFileSync(pem, readFileSync(join(dir, 'srv.crt'), 'utf8') + readFileSync(join(dir, 'srv.key'), 'utf8'));
  return { ca: join(dir, 'ca.crt'), crl: join(dir, 'ca.crl'), pem };
}

/**
 * Rewrite /var/lib/octavia paths into `root` and create every file HAProxy opens while
 * checking. Line numbers are unchanged. Returns the path of the rewritten config.
 */
export function prepareForHaproxy(text: string, root: string, material: Material, name: string): string {
  const rewritten = text.replaceAll('/var/lib/octavia', join(root, 'var/lib/octavia'));
  const put = (path: string, content: string): void => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  };
  for (const m of rewritten.matchAll(/ (crt-list|ca-file|crl-file|crt) (\S+)/g)) {
    const [, kw, path] = m as unknown as [string, string, string];
    if (kw === 'crt-list') put(path, `${material.pem}\n`);
    else if (kw === 'ca-file') put(path, readFileSync(material.ca, 'utf8'));
    else if (kw === 'crl-file') put(path, readFileSync(material.crl, 'utf8'));
    else put(path, readFileSync(material.pem, 'utf8'));
  }
  const cfg = join(root, name);
  put(cfg, rewritten);
  return cfg;
}

/** `haproxy -c -f <cfg> [-L <peer>]`: exit status and the combined output. */
export function haproxyCheck(cfg: string, localPeer?: string): { status: number; output: string } {
  const args = ['-c', '-f', cfg];
  if (localPeer) args.push('-L', localPeer);
  const r = spawnSync(HAPROXY, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}
