// Which copy of proxy-core an entry point runs: the precompiled JavaScript in dist/ (built by
// `npm run build`, bin/build.js) when it matches the sources, else the TypeScript sources
// themselves (Node 24 type stripping).
//
// Why: type stripping loads a TypeScript-to-JS transformer (swc compiled to WebAssembly) into
// every isolate that imports a .ts file — about 17 MB of RSS each in the supervisor and in every
// worker thread — and transforms every module at each start. The JavaScript in dist/ is what
// type stripping would produce (same module graph, comments removed), so both copies behave alike.
//
// Safety: dist/manifest.json lists every source the build compiled, every folder that holds
// them, package.json and the tsconfig files, each with its size and mtime taken BEFORE the
// compiler read them. dist/ is used only when every one of them still has the recorded size
// and mtime: an edited file changes its own, a file added, removed or renamed changes its
// folder's. Any difference, a half-built or missing dist/ means the sources run (a start from
// the sources is slower and bigger, never wrong). AMPHORA_TS_FROM_SOURCE=1 forces the sources.
// The check costs one stat() per file (1–4 ms here), not a directory walk.
//
// Plain JavaScript on purpose: it runs before anything is compiled, and on any Node.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, 'dist');
export const MANIFEST = join(DIST, 'manifest.json');
/** Source folders compiled into dist/ (tsconfig.build.json `include` names the same). */
export const SOURCE_DIRS = ['proxy-core'];
/** Files besides the sources whose change makes dist/ stale. */
export const BUILD_INPUTS = ['package.json', 'tsconfig.json', 'tsconfig.build.json'];
export const MANIFEST_VERSION = 1;

/** Every compiled source and every folder under the source folders (repository-relative,
 *  '/' separated, folders with a trailing '/'), sorted. */
export function listSources() {
  const out = [];
  for (const dir of SOURCE_DIRS) {
    out.push(`${dir}/`);
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      const path = `${join(entry.parentPath, entry.name).slice(ROOT.length).split('\\').join('/')}`;
      if (entry.isDirectory()) out.push(`${path}/`);
      else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) out.push(path);
    }
  }
  return out.sort();
}

/** [size, mtimeMs] of a repository file, or undefined when it is missing. */
export function stamp(path) {
  // ROOT ends with '/' and `path` is repository-relative with '/' separators, so plain
  // concatenation is the path: path.join would run Node's normalizeString once per file, and
  // those ~90 calls on top of the module loader's (two per import it resolves) were enough
  // for V8 to compile normalizeString with its optimizing compiler during start, which maps
  // about 5 MiB more of the node binary into an instance that has served nothing yet.
  const st = statSync(ROOT + path, { throwIfNoEntry: false });
  return st ? [st.size, st.mtimeMs] : undefined;
}

/** True when dist/ was built from exactly the files on disk now. */
export function distIsFresh() {
  if (process.env.AMPHORA_TS_FROM_SOURCE === '1') return false;
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch {
    return false;
  }
  if (manifest?.version !== MANIFEST_VERSION || typeof manifest.files !== 'object') return false;
  try {
    for (const input of BUILD_INPUTS) if (!manifest.files[input]) return false;
    for (const [path, want] of Object.entries(manifest.files)) {
      const have = stamp(path);
      if (!have || want[0] !== have[0] || want[1] !== have[1]) return false;
    }
  } catch {
    return false;
  }
  return true;
}

/** file: URL of a module given without extension ('proxy-core/cli'): dist's .js when fresh, else the .ts source. */
export function entryUrl(module) {
  return pathToFileURL(distIsFresh() ? join(DIST, `${module}.js`) : join(ROOT, `${module}.ts`)).href;
}
