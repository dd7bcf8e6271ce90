// haproxy.cfg text → typed ProxyConfig.
//
// Files are read in order as one configuration (like `haproxy -f a -f b`): each file starts
// outside any section, `defaults` carry over. Every line goes to the parser of the section it
// is in; a line that fails is reported with its file:line and parsing goes on, so one run
// lists every error. After the last file, references are resolved (backends, stick tables,
// peers) and proxy/server ids are assigned the way HAProxy numbers them.

import type { Backend, ConfigMessage, Frontend, GlobalSettings, PeersSection, ProxyConfig, Where } from './model.ts';
import { emptyGlobal, globalLine, peersLine, userlistLine } from './parse-global.ts';
import {
  builtinDefaults,
  finishProxy,
  newProxy,
  proxyLine,
  type ProxyDraft,
  type ProxyKind,
  type SectionContext,
} from './parse-proxy.ts';
import { tokenize, type Environment } from './tokenize.ts';
import { checkName, LineError } from './units.ts';

const UNSUPPORTED_SECTIONS = new Set([
  'resolvers',
  'mailers',
  'program',
  'http-errors',
  'ring',
  'cache',
  'fcgi-app',
  'crt-store',
  'traces',
  'log-forward',
]);

type Section =
  | { kind: 'none' }
  | { kind: 'skip' }
  | { kind: 'global' }
  | { kind: 'proxy'; draft: ProxyDraft; duplicate: boolean }
  | { kind: 'peers'; section: PeersSection }
  | { kind: 'userlist' };

/** Per-frontend facts the model does not keep but the reference checks need. */
interface FrontendRefs {
  fe: Frontend;
  defaultBackendWhere?: Where;
}

/** The order proxies were declared in (and where the stats socket's hidden proxy sits). */
type IdEntry = { kind: 'global' } | { kind: 'proxy'; fe?: Frontend; be?: Backend; where: Where };

/** Parse a whole configuration. `config` is always returned; it is valid iff `errors` is empty. */
export function parseConfig(
  files: { path: string; text: string }[],
  opts: { env?: Environment } = {},
): { config: ProxyConfig; errors: ConfigMessage[] } {
  const errors: ConfigMessage[] = [];
  const warnings: ConfigMessage[] = [];
  const firstWhere: Where = { file: files[0]?.path ?? '', line: 0 };
  let global: GlobalSettings | undefined;
  const peers: PeersSection[] = [];
  const frontends: Frontend[] = [];
  const backends: Backend[] = [];
  const userlists: { name: string; where: Where }[] = [];
  const feRefs: FrontendRefs[] = [];
  const idOrder: IdEntry[] = [];
  const names = { frontend: new Map<string, ProxyDraft>(), backend: new Map<string, ProxyDraft>() };
  const namedDefaults = new Map<string, ProxyDraft>();
  let defaults = builtinDefaults(firstWhere);
  let logWarned = false;

  const ctx: SectionContext = {
    warn: (where, message) => warnings.push({ where, message }),
    noteLogTarget: (where) => {
      if (logWarned) return;
      logWarned = true;
      warnings.push({ where, message: 'log shipping is not implemented yet: log targets are accepted and ignored' });
    },
  };

  let cur: Section = { kind: 'none' };

  const close = (): void => {
    if (cur.kind !== 'proxy') return;
    const d = cur.draft;
    const duplicate = cur.duplicate;
    cur = { kind: 'none' };
    if (d.kind === 'defaults') {
      defaults = d;
      if (d.name !== '') namedDefaults.set(d.name, d);
      return;
    }
    const { frontend, backend } = finishProxy(d, ctx, errors);
    if (duplicate) return;
    if (frontend) {
      frontends.push(frontend);
      feRefs.push({ fe: frontend, defaultBackendWhere: d.defaultBackendWhere });
    }
    if (backend) backends.push(backend);
    idOrder.push({ kind: 'proxy', fe: frontend, be: backend, where: d.where });
  };

  const open = (words: string[], where: Where): void => {
    const kw = words[0]!;
    switch (kw) {
      case 'global':
        if (words.length > 1) throw new LineError(`'global' cannot handle unexpected argument '${words[1]}'.`);
        global ??= emptyGlobal(where);
        cur = { kind: 'global' };
        return;
      case 'defaults':
      case 'frontend':
      case 'backend':
      case 'listen': {
        let i = 1;
        let name = '';
        if (words[i] !== undefined && words[i] !== 'from') name = checkName(words[i++], `'${kw}'`);
        else if (kw !== 'defaults') throw new LineError(`'${kw}' expects a name`);
        // A proxy starts from the latest defaults; a defaults section starts afresh. Both
        // may name a defaults section to start from instead.
        let base = kw === 'defaults' ? builtinDefaults(where) : defaults;
        if (words[i] === 'from') {
          const from = words[i + 1];
          if (from === undefined) throw new LineError(`'from' expects the name of a defaults section`);
          const named = namedDefaults.get(from);
          if (!named) throw new LineError(`${kw} '${name}' : unable to find defaults section '${from}'`);
          base = named;
          i += 2;
        }
        if (words[i] !== undefined) throw new LineError(`'${kw}' cannot handle unexpected argument '${words[i]}'.`);
        let duplicate = false;
        if (kw === 'defaults') {
          const prev = name === '' ? undefined : namedDefaults.get(name);
          if (prev) {
            warnings.push({
              where,
              message: `defaults section '${name}' has the same name as another defaults section declared at ${prev.where.file}:${prev.where.line}; the later one is used`,
            });
          }
        } else {
          const clash = findClash(kw, name, names);
          if (clash) {
            errors.push({
              where,
              message: `${kw} '${name}' has the same name as ${clash.kind} '${name}' declared at ${clash.where.file}:${clash.where.line}.`,
            });
            duplicate = true;
          }
        }
        const draft = newProxy(kw as ProxyKind, name, where, base);
        if (!duplicate && kw !== 'defaults') {
          if (draft.fe) names.frontend.set(name, draft);
          if (draft.be) names.backend.set(name, draft);
        }
        cur = { kind: 'proxy', draft, duplicate };
        return;
      }
      case 'peers': {
        const name = checkName(words[1], `'peers'`);
        if (words.length > 2) throw new LineError(`'peers' cannot handle unexpected argument '${words[2]}'.`);
        const prev = peers.find((p) => p.name === name);
        if (prev) throw new LineError(`peers section '${name}' has the same name as another peers section declared at ${prev.where.file}:${prev.where.line}.`);
        const section: PeersSection = { name, peers: [], where };
        peers.push(section);
        cur = { kind: 'peers', section };
        return;
      }
      case 'userlist': {
        const name = checkName(words[1], `'userlist'`);
        if (userlists.some((u) => u.name === name)) throw new LineError(`userlist '${name}' is declared twice`);
        userlists.push({ name, where });
        cur = { kind: 'userlist' };
        return;
      }
    }
  };

  const SECTIONS = new Set(['global', 'defaults', 'frontend', 'backend', 'listen', 'peers', 'userlist']);

  for (const file of files) {
    const tok = tokenize(file.text, file.path, opts.env);
    errors.push(...tok.errors);
    cur = { kind: 'none' };
    for (const { words, where } of tok.lines) {
      const kw = words[0]!;
      try {
        if (SECTIONS.has(kw)) {
          close();
          cur = { kind: 'skip' };
          open(words, where);
          continue;
        }
        if (UNSUPPORTED_SECTIONS.has(kw)) {
          close();
          cur = { kind: 'skip' };
          throw new LineError(`'${kw}' sections are not supported yet`);
        }
        // `cur` is reassigned inside close()/open(); read it through a widened copy.
        const c = cur as Section;
        switch (c.kind) {
          case 'none':
            if (kw.startsWith('.')) throw new LineError(`conditional blocks and directives ('${kw}') are not supported yet`);
            throw new LineError(`unknown keyword '${kw}' out of section.`);
          case 'skip':
            continue;
          case 'global':
            if (kw.startsWith('.')) throw new LineError(`conditional blocks and directives ('${kw}') are not supported yet`);
            globalLine(global!, words, where, ctx);
            if (kw === 'stats' && words[1] === 'socket' && !idOrder.some((e) => e.kind === 'global')) {
              idOrder.push({ kind: 'global' });
            }
            continue;
          case 'proxy':
            if (kw.startsWith('.')) throw new LineError(`conditional blocks and directives ('${kw}') are not supported yet`);
            proxyLine(c.draft, words, where, ctx);
            continue;
          case 'peers':
            peersLine(c.section, words, where);
            continue;
          case 'userlist':
            userlistLine(words);
            continue;
        }
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        errors.push({ where, message: e.message });
      }
    }
    close();
  }

  const config: ProxyConfig = {
    global: global ?? emptyGlobal(firstWhere),
    peers,
    frontends,
    backends,
    userlists,
    warnings,
  };
  checkReferences(config, feRefs, errors, warnings);
  assignIds(idOrder, errors);
  return { config, errors };
}

function findClash(
  kw: string,
  name: string,
  names: { frontend: Map<string, ProxyDraft>; backend: Map<string, ProxyDraft> },
): ProxyDraft | undefined {
  if (kw === 'frontend' || kw === 'listen') {
    const f = names.frontend.get(name);
    if (f) return f;
  }
  if (kw === 'backend' || kw === 'listen') {
    const b = names.backend.get(name);
    if (b) return b;
  }
  return undefined;
}

/** Cross-section references: backends, stick tables, peers, global requirements. */
function checkReferences(config: ProxyConfig, feRefs: FrontendRefs[], errors: ConfigMessage[], warnings: ConfigMessage[]): void {
  const backends = new Map(config.backends.map((b) => [b.name, b]));
  const err = (where: Where, message: string) => errors.push({ where, message });

  for (const { fe, defaultBackendWhere } of feRefs) {
    const useTarget = (name: string, where: Where, how: string): void => {
      const be = backends.get(name);
      if (!be) {
        err(where, `Proxy '${fe.name}': unable to find required ${how}: '${name}'.`);
        return;
      }
      if (fe.mode === 'http' && be.mode !== 'http') {
        err(
          where,
          `http frontend '${fe.name}' (${fe.where.file}:${fe.where.line}) tries to use incompatible tcp backend '${be.name}' (${be.where.file}:${be.where.line}) ${how === 'default_backend' ? 'as its default backend' : "in a 'use_backend' rule"} (see 'mode').`,
        );
      }
    };
    if (fe.defaultBackend !== undefined && !(fe.fromListen && fe.defaultBackend === fe.name)) {
      useTarget(fe.defaultBackend, defaultBackendWhere ?? fe.where, 'default_backend');
    }
    for (const u of fe.useBackends) useTarget(u.backend, u.where, 'use_backend');
    if (fe.binds.length === 0 && !fe.disabled) {
      warnings.push({
        where: fe.where,
        message: `${fe.fromListen ? 'proxy' : 'frontend'} '${fe.name}' has no 'bind' directive. Please declare it as a backend if this was intended.`,
      });
    }
  }

  const peerNames = new Set(config.peers.map((p) => p.name));
  const verifyDefault = config.global.sslDefaults['ssl-server-verify']?.[0] === 'none' ? 'none' : 'required';
  for (const be of config.backends) {
    for (const s of be.servers) {
      // TLS towards a server (traffic or check) verifies it by default: that needs a CA.
      const tls = s.ssl ?? s.check.tls;
      if (tls && (tls.verify ?? verifyDefault) === 'required' && tls.caFile === undefined) {
        err(
          s.where,
          `'server ${be.name}/${s.name}' : verify is enabled by default but no CA file specified. Set an explicit ` +
            `'verify none' on the server line, or 'ssl-server-verify none' in the global section, or give a 'ca-file'.`,
        );
      }
    }
    if (be.stickTable?.peers !== undefined && !peerNames.has(be.stickTable.peers)) {
      err(be.stickTable.where, `Proxy '${be.name}': unable to find sync peers '${be.stickTable.peers}'.`);
    }
    for (const rule of be.stickRules) {
      const table = rule.table === undefined ? be : backends.get(rule.table);
      if (!table?.stickTable) {
        err(rule.where, `Proxy '${be.name}': unable to find stick-table '${rule.table ?? be.name}'.`);
      }
    }
    if (be.options.externalCheck) {
      if (!config.global.externalCheck) {
        err(be.where, `Proxy '${be.name}' : 'option external-check' unable to find required 'global.external-check'.`);
      } else if (!config.global.insecureForkWanted) {
        warnings.push({
          where: be.where,
          message: `Proxy '${be.name}' : 'insecure-fork-wanted' not enabled in the global section, 'option external-check' will likely fail.`,
        });
      }
    }
  }
}

/** First id >= from that is not taken. */
function nextFree(used: Set<number>, from: number): number {
  while (used.has(from)) from++;
  return from;
}

/**
 * HAProxy's numbering (`iid` / `sid` in `show stat`): proxies in declaration order take the
 * first free id from a counter that every proxy advances, explicit `id`s included; the hidden
 * proxy carrying the stats socket advances it too (so with a `stats socket`, the first proxy
 * is 2). Servers are numbered the same way inside their backend.
 */
function assignIds(order: IdEntry[], errors: ConfigMessage[]): void {
  const used = new Map<number, Where>();
  for (const e of order) {
    if (e.kind !== 'proxy') continue;
    const id = e.fe?.id ?? e.be?.id;
    if (id === undefined) continue;
    const prev = used.get(id);
    if (prev) {
      errors.push({ where: e.where, message: `proxy '${(e.fe ?? e.be)!.name}' has the same ID '${id}' as the proxy declared at ${prev.file}:${prev.line}.` });
    } else used.set(id, e.where);
  }
  const taken = new Set(used.keys());
  let next = 1;
  for (const e of order) {
    if (e.kind === 'global') {
      next++;
      continue;
    }
    const explicit = e.fe?.id ?? e.be?.id;
    if (explicit === undefined) {
      const id = nextFree(taken, next);
      taken.add(id);
      if (e.fe) e.fe.id = id;
      if (e.be) e.be.id = id;
      next = id;
    }
    next++;
    if (e.be) assignServerIds(e.be, errors);
  }
}

function assignServerIds(be: Backend, errors: ConfigMessage[]): void {
  const used = new Map<number, string>();
  for (const s of be.servers) {
    if (s.id === undefined) continue;
    const prev = used.get(s.id);
    if (prev !== undefined) {
      errors.push({ where: s.where, message: `backend '${be.name}': server '${s.name}' has the same ID '${s.id}' as server '${prev}'.` });
    } else used.set(s.id, s.name);
  }
  const taken = new Set(used.keys());
  let next = 1;
  for (const s of be.servers) {
    if (s.id === undefined) {
      s.id = nextFree(taken, next);
      taken.add(s.id);
      next = s.id;
    }
    next++;
  }
}
