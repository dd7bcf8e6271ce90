// The proxies of a config as HAProxy lists them: one entry per `frontend`, `backend` or
// `listen` section in file order (a `listen` is one proxy with both sides), each with the
// numeric id (`iid`) HAProxy 2.6 gives it.
//
// HAProxy 2.6 numbering, observed on 2.6.12: sections are numbered in file order from 1; a
// `stats socket` in `global` creates the CLI's own proxy first, which takes id 1 and shifts
// every other one by one (Octavia's configs always have one); `defaults` and `peers` sections
// take none; an explicit `id N` replaces a section's number without shifting the others.
// A model `id` (set by the parser) wins over this computation.

import type { Backend, Frontend, ProxyConfig, Where } from '../config/model.ts';

export interface ProxyEntry {
  name: string;
  /** Present for `frontend` and `listen` sections. */
  frontend?: Frontend;
  /** Present for `backend` and `listen` sections. */
  backend?: Backend;
  iid: number;
  /** The number the section would have without an `id` keyword: iid differs when one was given. */
  autoIid: number;
}

const cache = new WeakMap<ProxyConfig, ProxyEntry[]>();

/** Every proxy of the config in file order, with its iid. */
export function proxiesOf(config: ProxyConfig): ProxyEntry[] {
  let list = cache.get(config);
  if (!list) {
    list = build(config);
    cache.set(config, list);
  }
  return list;
}

/** The iid of the proxy named `name` (0 if unknown). */
export function proxyId(config: ProxyConfig, name: string): number {
  return proxiesOf(config).find((p) => p.name === name)?.iid ?? 0;
}

function build(config: ProxyConfig): ProxyEntry[] {
  const fileRank = new Map<string, number>();
  const rank = (w: Where): number => {
    let r = fileRank.get(w.file);
    if (r === undefined) fileRank.set(w.file, (r = fileRank.size));
    return r;
  };
  const entries: { entry: ProxyEntry; where: Where }[] = [];
  const listens = new Map<string, ProxyEntry>();
  for (const fe of config.frontends) {
    const entry: ProxyEntry = { name: fe.name, frontend: fe, iid: 0, autoIid: 0 };
    entries.push({ entry, where: fe.where });
    if (fe.fromListen) listens.set(fe.name, entry);
  }
  for (const be of config.backends) {
    const listen = be.fromListen ? listens.get(be.name) : undefined;
    if (listen) listen.backend = be;
    else entries.push({ entry: { name: be.name, backend: be, iid: 0, autoIid: 0 }, where: be.where });
  }
  for (const e of entries) rank(e.where);
  entries.sort((a, b) => rank(a.where) - rank(b.where) || a.where.line - b.where.line);
  const offset = config.global.statsSockets.length > 0 ? 1 : 0;
  return entries.map(({ entry }, i) => {
    entry.autoIid = offset + i + 1;
    entry.iid = entry.frontend?.id ?? entry.backend?.id ?? entry.autoIid;
    return entry;
  });
}
