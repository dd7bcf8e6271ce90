// The entry points run dist/ (precompiled JavaScript) only when it was built from the sources
// on disk now, else the TypeScript sources. Exercised on a small throwaway project: a copy of
// bin/ and the tsconfig files, a two-module proxy-core/ whose cli says which copy runs.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../helpers/proxy.ts';

let root: string;

function run(env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [join(root, 'bin', 'proxy-core.js'), 'arg1'], {
    encoding: 'utf8',
    env: { ...process.env, AMPHORA_TS_FROM_SOURCE: '', ...env },
  });
}

function build(): void {
  execFileSync(process.execPath, [join(root, 'bin', 'build.js')], { cwd: root, stdio: 'pipe' });
}

/** Rewrite a file with new content and a later mtime. */
function edit(path: string, text: string): void {
  writeFileSync(join(root, path), text);
  const later = new Date(Date.now() + 5_000);
  utimesSync(join(root, path), later, later);
}

beforeAll(() => {
  root = tempDir('proxy-core-dist-test-');
  cpSync(join(REPO, 'bin'), join(root, 'bin'), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(REPO, f), join(root, f));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  mkdirSync(join(root, 'proxy-core', 'runtime'), { recursive: true });
  writeFileSync(join(root, 'proxy-core', 'runtime', 'which.ts'), `export const which = (): string => import.meta.url.endsWith('.ts') ? 'source' : 'dist';\n`);
  writeFileSync(
    join(root, 'proxy-core', 'cli.ts'),
    `import { which } from './runtime/which.ts';\nprocess.stdout.write(\`\${which()} \${process.argv.slice(2).join(' ')}\\n\`);\n`,
  );
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('bin/proxy-core.js and dist/', () => {
  it('runs the TypeScript sources when dist/ was never built', () => {
    expect(existsSync(join(root, 'dist'))).toBe(false);
    expect(run()).toBe('source arg1\n');
  });

  it('runs dist/ after a build, with relative imports rewritten to .js and the version file beside it', () => {
    build();
    expect(run()).toBe('dist arg1\n');
    expect(readFileSync(join(root, 'dist', 'proxy-core', 'cli.js'), 'utf8')).toMatch(/from ["']\.\/runtime\/which\.js["']/);
    const pkg = JSON.parse(readFileSync(join(root, 'dist', 'package.json'), 'utf8')) as { type: string; version: string };
    expect(pkg.type).toBe('module');
    expect(pkg.version).toBe((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('runs the sources when AMPHORA_TS_FROM_SOURCE=1', () => {
    expect(run({ AMPHORA_TS_FROM_SOURCE: '1' })).toBe('source arg1\n');
  });

  it('runs the sources once a source file changed after the build, and dist/ again after a rebuild', () => {
    edit('proxy-core/runtime/which.ts', `export const which = (): string => import.meta.url.endsWith('.ts') ? 'edited source' : 'edited dist';\n`);
    expect(run()).toBe('edited source arg1\n');
    build();
    expect(run()).toBe('edited dist arg1\n');
  });

  it('runs the sources once a source file was added or removed, and a rebuild drops the removed one', () => {
    writeFileSync(join(root, 'proxy-core', 'runtime', 'extra.ts'), 'export const x = 1;\n');
    expect(run()).toBe('edited source arg1\n');
    build();
    expect(existsSync(join(root, 'dist', 'proxy-core', 'runtime', 'extra.js'))).toBe(true);
    rmSync(join(root, 'proxy-core', 'runtime', 'extra.ts'));
    expect(run()).toBe('edited source arg1\n');
  });

  it('runs the sources when package.json changed, or the manifest is missing or unreadable', () => {
    edit('package.json', readFileSync(join(root, 'package.json'), 'utf8') + '\n');
    build();
    expect(run()).toBe('edited dist arg1\n');
    expect(existsSync(join(root, 'dist', 'proxy-core', 'runtime', 'extra.js'))).toBe(false);
    edit('package.json', readFileSync(join(root, 'package.json'), 'utf8') + '\n');
    expect(run()).toBe('edited source arg1\n');
    edit('package.json', readFileSync(join(root, 'package.json'), 'utf8').trimEnd() + '\n');
    build();
    renameSync(join(root, 'dist', 'manifest.json'), join(root, 'dist', 'manifest.moved'));
    expect(run()).toBe('edited source arg1\n');
    writeFileSync(join(root, 'dist', 'manifest.json'), '{"version":1,');
    expect(run()).toBe('edited source arg1\n');
  });

  it('fails the build on a syntax error and leaves the previous dist/ in place', () => {
    renameSync(join(root, 'dist', 'manifest.moved'), join(root, 'dist', 'manifest.json'));
    const manifest = readFileSync(join(root, 'dist', 'manifest.json'), 'utf8');
    edit('proxy-core/runtime/which.ts', 'export const which = (: string => ;\n');
    expect(() => build()).toThrow();
    expect(readFileSync(join(root, 'dist', 'manifest.json'), 'utf8')).toBe(manifest);
    // …which the entry point no longer uses: the source it was built from changed.
    expect(() => run()).toThrow();
  });
});
