// The stats commands of HAProxy's runtime API this engine answers: `show stat` (with the
// `<iid|name> <type> <sid>` filter Octavia's agent uses), `show info`, `show servers state`.
// runtime/commands.ts routes a command line here first; anything else is its business.

import type { Plan } from '../compile/plan.ts';
import type { HealthChecker } from '../health/checker.ts';
import { showServersState } from './servers-state.ts';
import { showInfo, type InfoContext } from './show-info.ts';
import { parseStatArgs, showStat, type StatsLevel } from './show-stat.ts';
import type { RateSampler } from './rates.ts';

export interface StatsCommandContext {
  plan: Plan;
  checker: HealthChecker | undefined;
  info: InfoContext;
  rates?: RateSampler;
  /** The socket's `level` (addresses and cookies are shown from `operator` up). */
  level?: StatsLevel;
}

export const STATS_HELP: [string, string][] = [
  ['show info', 'report information about the running process'],
  ['show stat [<iid|name> <type> <sid>]', 'report counters for each proxy and server (CSV)'],
  ['show servers state [<backend>]', "dump volatile server information (for 'load-server-state-from-file')"],
];

/** Answer `words` if it is a stats command (each answer ends in "\n"); undefined otherwise. */
export function statsCommand(words: string[], ctx: StatsCommandContext): string | undefined {
  if (words[0] !== 'show') return undefined;
  if (words[1] === 'stat') {
    const filter = parseStatArgs(words.slice(2));
    if ('error' in filter) return filter.error;
    const opts: Parameters<typeof showStat>[2] = { filter };
    if (ctx.rates) opts.rates = ctx.rates;
    if (ctx.level) opts.level = ctx.level;
    return showStat(ctx.plan, ctx.checker, opts);
  }
  if (words[1] === 'info') return showInfo(ctx.plan, { ...ctx.info, ...(ctx.rates ? { rates: ctx.rates } : {}) });
  if (words[1] === 'servers' && words[2] === 'state') return showServersState(ctx.plan, ctx.checker, words[3]);
  return undefined;
}
