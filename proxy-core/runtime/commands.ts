// The stats socket's commands (HAProxy's runtime API, the subset Octavia's agent uses), each
// answered from the current generation: a reload re-points every socket at once. The stats
// commands themselves live in stats/cli.ts; this adds `help`, the test hooks and HAProxy's
// answer to anything else. (`prompt` and `quit` are the socket's own: stats/socket.ts.)

import { STATS_HELP, statsCommand, type StatsCommandContext } from '../stats/cli.ts';

export interface CommandContext extends StatsCommandContext {
  /** Extra commands (test hooks), tried before "unknown command". */
  extra?: (words: string[]) => Promise<string> | string | undefined;
}

const HELP: [string, string][] = [
  ['help', 'list the commands'],
  ['prompt', 'toggle interactive mode with prompt'],
  ['quit', 'disconnect'],
  ...STATS_HELP,
];

function helpText(): string {
  return HELP.map(([cmd, what]) => `  ${cmd.padEnd(40)}: ${what}\n`).join('');
}

/** Answer one command (no newline, no `;`). */
export function answerCommand(cmd: string, ctx: CommandContext): Promise<string> | string {
  const words = cmd.trim().split(/\s+/).filter(Boolean);
  const stats = statsCommand(words, ctx);
  if (stats !== undefined) return stats;
  if (words.length === 1 && words[0] === 'help') return `The following commands are valid at this level:\n${helpText()}`;
  const extra = ctx.extra?.(words);
  if (extra !== undefined) return extra;
  // HAProxy 2.6's wording for a command it does not know, followed by the usable ones.
  return `Unknown command, but maybe one of the following ones is a better match:\n${helpText()}`;
}
