// Load a configuration from disk: read every file, parse, resolve the local peer, then ask
// compile/support.ts which features the runtime cannot run yet. Those are errors too: a
// config is refused whole rather than run with a feature silently missing. loadAndResolve()
// also resolves server host names, which needs the resolver (async).

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { checkSupport } from '../compile/support.ts';
import type { ConfigMessage, ProxyConfig } from './model.ts';
import { parseConfig } from './parse.ts';
import { resolveServerNames, type Lookup } from './resolve.ts';
import type { Environment } from './tokenize.ts';

export interface LoadResult {
  config?: ProxyConfig;
  errors: ConfigMessage[];
  warnings: ConfigMessage[];
}

export interface LoadOptions {
  /** `-L <name>`: this process's name in `peers` sections (HAProxy's default: the host name). */
  localPeer?: string;
  /** Environment for `"$VAR"` expansion; defaults to the process environment. */
  env?: Environment;
}

/** Read files, parse, cross-check references, then checkSupport(). `config` set iff no errors. */
export function loadConfig(paths: string[], opts: LoadOptions = {}): LoadResult {
  const errors: ConfigMessage[] = [];
  const files: { path: string; text: string }[] = [];
  for (const path of paths) {
    try {
      files.push({ path, text: readFileSync(path, 'utf8') });
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message;
      errors.push({ where: { file: path, line: 0 }, message: `Could not open configuration file ${path} : ${reason}` });
    }
  }
  if (errors.length > 0) return { errors, warnings: [] };
  if (files.length === 0) {
    return { errors: [{ where: { file: '', line: 0 }, message: 'no configuration file given' }], warnings: [] };
  }

  const parsed = parseConfig(files, { env: opts.env });
  const config = parsed.config;
  errors.push(...parsed.errors);
  resolveLocalPeer(config, opts.localPeer);
  errors.push(...checkSupport(config));

  const warnings = config.warnings;
  if (errors.length > 0) return { errors, warnings };
  return { config, errors, warnings };
}

/**
 * loadConfig(), then the server host names resolved (config/resolve.ts): what start, reload
 * and `-c` run. A name that does not resolve is an error like any other.
 */
export async function loadAndResolve(paths: string[], opts: LoadOptions & { lookup?: Lookup } = {}): Promise<LoadResult> {
  const res = loadConfig(paths, opts);
  if (res.config === undefined) return res;
  const errors = await resolveServerNames(res.config, opts.lookup);
  return errors.length > 0 ? { errors, warnings: res.warnings } : res;
}

/**
 * Mark this process's entry in every `peers` section. A section without it cannot replicate
 * (HAProxy removes such a section with a warning; so do we, in effect: nothing is sent).
 */
function resolveLocalPeer(config: ProxyConfig, fromCommandLine: string | undefined): void {
  const local = fromCommandLine ?? config.global.localPeer ?? hostname();
  config.localPeer = local;
  for (const section of config.peers) {
    let found = false;
    for (const p of section.peers) {
      p.local = p.name === local;
      found ||= p.local;
    }
    if (!found) {
      config.warnings.push({
        where: section.where,
        message: `peers section '${section.name}' has no peer named '${local}' (the local peer, see -L): its stick tables will not be replicated`,
      });
    }
  }
}

/** "[ALERT] file:line : message" / "[WARNING] file:line : message" */
export function formatMessage(level: 'ALERT' | 'WARNING', m: ConfigMessage): string {
  const place = m.where.line > 0 ? `${m.where.file}:${m.where.line}` : m.where.file;
  return place === '' ? `[${level}] ${m.message}` : `[${level}] ${place} : ${m.message}`;
}
