// The Node/V8 options proxy-core's engine runs with (bin/proxy-core.js adds each one the
// command line or NODE_OPTIONS does not give already; the comments there say why each). The
// bench starts its Node floors (bench/node-pipe.ts, bench/raw-pipe.ts) with the same, so that
// what separates them from proxy-core is the code, not the heap or the compiler settings.

/** Each option as added, and the spellings (with dashes) that mean it was given already. */
export const ENGINE_OPTIONS = [
  { value: '--max-semi-space-size=2', given: ['--max-semi-space-size'] },
  { value: '--no-allocation-site-pretenuring', given: ['--allocation-site-pretenuring', '--no-allocation-site-pretenuring'] },
  { value: '--max-inlined-bytecode-size=920', given: ['--max-inlined-bytecode-size'] },
  { value: '--max-inlined-bytecode-size-cumulative=2760', given: ['--max-inlined-bytecode-size-cumulative'] },
  { value: '--no-memory-reducer-favors-memory', given: ['--memory-reducer-favors-memory', '--no-memory-reducer-favors-memory'] },
];

/** The options of ENGINE_OPTIONS that this process was not started with (command line or NODE_OPTIONS). */
export function missingInThisProcess() {
  return missingEngineOptions([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]);
}

/** The options of ENGINE_OPTIONS that none of `args` (Node options: execArgv, NODE_OPTIONS words) gives already. */
export function missingEngineOptions(args) {
  const given = args.map((a) => a.replaceAll('_', '-'));
  return ENGINE_OPTIONS.filter((o) => !o.given.some((g) => given.some((a) => a === g || a.startsWith(`${g}=`))));
}
