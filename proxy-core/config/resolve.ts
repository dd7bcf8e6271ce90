// Server addresses written as host names are resolved once, when a configuration is loaded
// (start, reload, `-c`), as HAProxy does with its default `init-addr libc`: through the
// system resolver (so /etc/hosts counts), first answer, and a name that does not resolve
// makes the configuration invalid rather than leaving a server without an address. Nothing
// is resolved again while a configuration serves (HAProxy needs a `resolvers` section for
// that, which Octavia does not render).

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ConfigMessage, ProxyConfig, Where } from './model.ts';

/** Resolve one name to one address; the system resolver unless a test passes its own. */
export type Lookup = (host: string) => Promise<string>;

const systemLookup: Lookup = async (host) => (await lookup(host)).address;

/**
 * Replace every server `address` and check `addr` that is a host name by its address (the
 * name stays in `fqdn` for `show servers state`). Returns one error per name that did not
 * resolve; the config is not to be used then.
 */
export async function resolveServerNames(config: ProxyConfig, resolve: Lookup = systemLookup): Promise<ConfigMessage[]> {
  const errors: ConfigMessage[] = [];
  const answers = new Map<string, Promise<string | Error>>();
  const once = (host: string): Promise<string | Error> => {
    let p = answers.get(host);
    if (p === undefined) {
      p = resolve(host).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      answers.set(host, p);
    }
    return p;
  };
  const jobs: Promise<void>[] = [];
  const resolveInto = (host: string, where: Where, what: string, set: (ip: string) => void): void => {
    if (host === '' || isIP(host) !== 0) return;
    jobs.push(
      once(host).then((answer) => {
        if (typeof answer === 'string') set(answer);
        else errors.push({ where, message: `${what} : could not resolve address '${host}' (${reason(answer)})` });
      }),
    );
  };
  for (const be of config.backends) {
    for (const srv of be.servers) {
      const label = `'server ${be.name}/${srv.name}'`;
      resolveInto(srv.address, srv.where, label, (ip) => {
        srv.fqdn = srv.address;
        srv.address = ip;
      });
      const addr = srv.check.addr;
      if (addr !== undefined) resolveInto(addr, srv.where, `${label} check addr`, (ip) => (srv.check.addr = ip));
    }
  }
  await Promise.all(jobs);
  errors.sort((a, b) => a.where.file.localeCompare(b.where.file) || a.where.line - b.where.line);
  return errors;
}

function reason(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOTFOUND' ? 'no such host' : (code ?? e.message);
}
