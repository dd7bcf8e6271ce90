#!/usr/bin/env node
// Entry point installed as the `proxy-core` command: runs proxy-core/cli, from the precompiled
// JavaScript in dist/ when it matches the sources, else from the TypeScript sources
// (bin/dist.js says which and why).
//
// First, V8 options (the list is in bin/engine-options.js), which V8 reads only when the
// isolate is made, so the process re-executes itself with them (execve: same pid, same open
// descriptors) unless each was given already (command line or NODE_OPTIONS). A `-c` check
// serves nothing and is not worth the second start.
// - The main thread's young generation is capped, as the worker threads' are (their
//   resourceLimits, supervisor.ts): with `nbthread 1` the main thread serves the traffic, and
//   V8's default lets its young generation grow to tens of MB under load — peak RSS ~210 MB
//   instead of ~100, and longer scavenge pauses in the p99 of new connections.
// - No allocation-site pretenuring. V8 watches how many objects of each allocation site
//   survive a scavenge, and once more than 85 % of a site's do, it allocates that site's
//   objects in the old generation from then on. A burst of connections that outlive one
//   scavenge (a slow moment, many clients at once) makes the sites of a connection's objects
//   qualify; every later connection is then born old, and whatever young objects it points at
//   are kept until the next full GC: 31-55 % of what the process allocated was promoted in
//   the processes where it happened (bench/README.md), against 0.35-0.56 % without it.
// - Twice V8's inlining budgets (bytecode size of a function it inlines: 460 -> 920; of all it
//   inlines into one function: 920 -> 2760). A request crosses many small functions of the
//   parser, the rules, the balancer and the counters; with more of them inlined into the read
//   callbacks, CPU per keep-alive request dropped about 2 % (bench/ab.ts, B better in 18 of 22
//   pairs over two runs); four times the defaults gained nothing more.
// - The memory reducer's GCs (V8 runs them once a process has gone quiet) without their
//   "reduce memory footprint" mode. In that mode they cleared objects the optimized code of the
//   request path embeds, and V8 threw that code away: `--trace-deopt` listed 29 functions
//   deoptimized ("embedded weak objects cleared") after 11 s without traffic, so the first
//   second of the next burst ran unoptimized, with a p99 of 12-20 ms instead of 2.5 (2 s wrk
//   slices). Without the mode: no such deoptimization, first-slice p99 2.5-8 ms; the heap
//   still shrinks when idle (RSS after the first idle stretch 71.9 MiB instead of 67.9).
import { entryUrl } from './dist.js';
import { missingInThisProcess } from './engine-options.js';

// Options given already come from the command line and NODE_OPTIONS (V8 takes
// `--max_semi_space_size` as well as dashes).
const missing = missingInThisProcess();
if (missing.length > 0 && !process.argv.includes('-c') && typeof process.execve === 'function') {
  const args = [...missing.map((o) => o.value), ...process.execArgv, process.argv[1], ...process.argv.slice(2)];
  try {
    process.execve(process.execPath, [process.execPath, ...args], process.env);
  } catch (err) {
    // Only returns when the exec failed: serve anyway, on V8's defaults.
    process.stderr.write(`[WARNING] proxy-core: cannot re-execute with ${missing.map((o) => o.value).join(' ')} (${err instanceof Error ? err.message : String(err)}); continuing without\n`);
  }
}

await import(entryUrl('proxy-core/cli'));
