// `npm run build`: compile proxy-core's TypeScript into dist/ (tsconfig.build.json) for the
// entry points to load (bin/dist.js says when they do). Run by `npm install` (`prepare`) and by
// `npm test` before the tests, so that the tests run what is shipped.
//
//   node bin/build.js [--optional]
//
// The sizes and mtimes of the sources are taken before the compiler reads them: a file edited
// while the build runs leaves a dist/ that the entry points treat as stale. The output is built
// beside dist/ and swapped in at the end, so a proxy-core running from dist/ (a worker thread it
// starts later) never sees a half-written tree. --optional (for `prepare`, so that `npm install`
// never fails for it): without TypeScript installed (`npm install --omit=dev`) or when the
// compiler fails, say so and succeed; the entry points then run the sources.

import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { BUILD_INPUTS, DIST, MANIFEST_VERSION, ROOT, distIsFresh, listSources, stamp } from './dist.js';

const optional = process.argv.includes('--optional');

let tsc;
try {
  tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  if (optional) {
    process.stdout.write('build: TypeScript is not installed; proxy-core will run from its .ts sources\n');
    process.exit(0);
  }
  process.stderr.write('build: TypeScript is not installed (npm install)\n');
  process.exit(1);
}

const files = {};
for (const path of [...listSources(), ...BUILD_INPUTS]) {
  const s = stamp(path);
  if (!s) {
    process.stderr.write(`build: ${path} is missing\n`);
    process.exit(1);
  }
  files[path] = s;
}

const tmp = `${DIST}.tmp-${process.pid}`;
const old = `${DIST}.old-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', tmp], { cwd: ROOT, stdio: 'inherit' });
if (r.status !== 0) {
  rmSync(tmp, { recursive: true, force: true });
  process.stderr.write(`build: tsc failed (${r.status ?? r.signal})${optional ? '; proxy-core will run from its .ts sources' : ''}\n`);
  process.exit(optional ? 0 : 1);
}

// Code that reads ../package.json relative to its own file (the version) finds this one; it
// also keeps dist/*.js ES modules whatever surrounds the tree.
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, private: true, type: 'module' }, null, 2) + '\n');
// Last: a tree without its manifest is never used.
writeFileSync(join(tmp, 'manifest.json'), JSON.stringify({ version: MANIFEST_VERSION, files }) + '\n');

if (existsSync(DIST)) renameSync(DIST, old);
renameSync(tmp, DIST);
rmSync(old, { recursive: true, force: true });

if (!distIsFresh()) process.stderr.write('build: sources changed while building; the entry points will run the .ts sources until the next build\n');
