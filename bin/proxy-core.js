#!/usr/bin/env node
// Entry point installed as the `proxy-core` command: runs proxy-core/cli, from the precompiled
// JavaScript in dist/ when it matches the sources, else from the TypeScript sources
// (bin/dist.js says which and why).
//
// First, the main thread's young generation is capped, as the worker threads' are (their
// resourceLimits, supervisor.ts): with `nbthread 1` the main thread serves the traffic, and V8's
// default lets its young generation grow to tens of MB under load — peak RSS ~210 MB instead
// of ~100, and longer scavenge pauses in the p99 of new connections. V8 reads the size only when
// the isolate is made, so the process re-executes itself with the option (execve: same pid,
// same open descriptors), unless the option was given already (command line or NODE_OPTIONS).
// A `-c` check serves nothing and is not worth the second start.
import { entryUrl } from './dist.js';

const SEMI_SPACE_MB = 2;
const OPTION = '--max-semi-space-size';
const given = process.execArgv.some((a) => a.startsWith(OPTION)) || (process.env.NODE_OPTIONS ?? '').includes(OPTION);
if (!given && !process.argv.includes('-c') && typeof process.execve === 'function') {
  const args = [`${OPTION}=${SEMI_SPACE_MB}`, ...process.execArgv, process.argv[1], ...process.argv.slice(2)];
  try {
    process.execve(process.execPath, [process.execPath, ...args], process.env);
  } catch (err) {
    // Only returns when the exec failed: serve anyway, on V8's default young generation.
    process.stderr.write(`[WARNING] proxy-core: cannot re-execute with ${OPTION} (${err instanceof Error ? err.message : String(err)}); continuing without it\n`);
  }
}

await import(entryUrl('proxy-core/cli'));
