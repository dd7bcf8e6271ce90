// HAProxy's configuration tokenizer: one line of text in, the unquoted, unescaped words out.
//
// Rules (HAProxy 2.6 `parse_line`, as the configuration manual section 2.2 describes them):
// - words are separated by unquoted, unescaped spaces and tabs;
// - an unquoted `#` starts a comment, even in the middle of a word;
// - outside single quotes a backslash escapes `\ `, `\\`, `\#`, `\"`, `\'` and, inside double
//   quotes, `\$`; `\r`, `\n`, `\t` and `\xNN` produce CR, LF, TAB and the byte NN; any other
//   backslash sequence is kept as written (regexes such as `\d` survive);
// - double quotes keep spaces and `#`, process the escapes above and expand `$VAR`,
//   `${VAR}`, `${VAR-default}` and `${VAR[*]}` (the latter splits the value into words);
// - single quotes keep everything literally;
// - quoted and unquoted parts next to each other make one word (`a"b c"d` is `ab cd`);
// - a CR ends the line like an LF does.
// An unknown variable expands to nothing. A word that ends up empty (`""`, `"$UNSET"`) is an
// error here: HAProxy 2.6 silently stops reading the line at such a word, later versions
// refuse it; refusing is the safe choice.

import type { ConfigMessage, Where } from './model.ts';

export interface ConfigLine {
  /** Words unescaped and unquoted. Never empty. */
  words: string[];
  where: Where;
}

export type Environment = Record<string, string | undefined>;

const SECTION_KEYWORDS = new Set([
  'global',
  'defaults',
  'frontend',
  'backend',
  'listen',
  'peers',
  'userlist',
  'resolvers',
  'mailers',
  'program',
  'http-errors',
  'ring',
  'cache',
  'fcgi-app',
]);

/**
 * Split a whole file into lines of words. Lines with nothing but blanks or a comment are
 * left out; a line with an error is left out and the error names file:line.
 * `env` defaults to the process environment (tests pass their own).
 */
export function tokenize(
  text: string,
  file: string,
  env: Environment = process.env,
): { lines: ConfigLine[]; errors: ConfigMessage[] } {
  const lines: ConfigLine[] = [];
  const errors: ConfigMessage[] = [];
  const raw = text.split('\n');
  let section = '';
  for (let i = 0; i < raw.length; i++) {
    const where = { file, line: i + 1 };
    const result = tokenizeLine(raw[i]!, env, { file, line: i + 1, section });
    if (typeof result === 'string') {
      errors.push({ where, message: result });
      continue;
    }
    if (result.length === 0) continue;
    const empty = result.findIndex((w) => w === '');
    if (empty >= 0) {
      errors.push({
        where,
        message: `argument number ${empty} is empty and marks the end of the argument list (an empty quoted string or an unset environment variable?)`,
      });
      continue;
    }
    if (SECTION_KEYWORDS.has(result[0]!)) section = result[0]!;
    lines.push({ words: result, where });
  }
  return { lines, errors };
}

/** Characters with no special meaning anywhere. */
const PLAIN = /[^#"'\\ \t$]+/y;

interface LineContext {
  file: string;
  line: number;
  section: string;
}

/** Words of one line, or an error message. Exported for tests. */
export function tokenizeLine(line: string, env: Environment, ctx?: LineContext): string[] | string {
  const cr = line.indexOf('\r');
  if (cr >= 0) line = line.slice(0, cr);

  const words: string[] = [];
  let word = '';
  let inArg = false;
  let squote = false;
  let dquote = false;
  let quoteAt = -1;
  let emptyQuote = false;
  let i = 0;

  const emit = (s: string): void => {
    word += s;
    inArg = true;
    emptyQuote = false;
  };
  const endWord = (): void => {
    if (inArg) words.push(word);
    word = '';
    inArg = false;
  };

  while (i < line.length) {
    const c = line[i]!;
    if (c === '#' && !squote && !dquote) break;
    if (c === '"' && !squote) {
      if (dquote) {
        if (emptyQuote) inArg = true;
        dquote = false;
      } else {
        dquote = true;
        quoteAt = i;
        emptyQuote = true;
      }
      i++;
      continue;
    }
    if (c === "'" && !dquote) {
      if (squote) {
        if (emptyQuote) inArg = true;
        squote = false;
      } else {
        squote = true;
        quoteAt = i;
        emptyQuote = true;
      }
      i++;
      continue;
    }
    if (c === '\\' && !squote) {
      const n = line[i + 1];
      switch (n) {
        case ' ':
        case '\\':
        case '#':
        case "'":
        case '"':
          emit(n);
          i += 2;
          continue;
        case 't':
          emit('\t');
          i += 2;
          continue;
        case 'n':
          emit('\n');
          i += 2;
          continue;
        case 'r':
          emit('\r');
          i += 2;
          continue;
        case '$':
          if (dquote) {
            emit('$');
            i += 2;
          } else {
            emit('\\');
            i += 1;
          }
          continue;
        case 'x': {
          const hex = line.slice(i + 2, i + 4);
          if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
            return `truncated or invalid hexadecimal sequence at position ${i + 1}`;
          }
          emit(String.fromCharCode(parseInt(hex, 16)));
          i += 4;
          continue;
        }
        default:
          // Not an escape sequence: the backslash stays (e.g. `\d` in a regex).
          emit('\\');
          i += 1;
          continue;
      }
    }
    if ((c === ' ' || c === '\t') && !squote && !dquote) {
      endWord();
      while (line[i] === ' ' || line[i] === '\t') i++;
      continue;
    }
    if (c === '$' && dquote) {
      const r = expandVariable(line, i, env, ctx);
      if (typeof r === 'string') return r;
      i = r.next;
      if (r.value === undefined) {
        // An unknown variable still makes a word (an empty one, unless other text joins it),
        // except in word-expansion form where it makes none.
        if (!r.expand) inArg = true;
        continue;
      }
      if (r.expand) {
        // `${VAR[*]}`: split on blanks into several words; an empty value makes no word.
        emptyQuote = false;
        const parts = r.value.split(/[ \t]+/);
        for (let p = 0; p < parts.length; p++) {
          if (p > 0) endWord();
          if (parts[p] !== '') emit(parts[p]!);
        }
      } else if (r.value !== '') {
        emit(r.value);
      } else {
        inArg = true;
      }
      continue;
    }
    // A run of ordinary characters is copied at once.
    PLAIN.lastIndex = i;
    const run = PLAIN.exec(line);
    if (run) {
      emit(run[0]);
      i += run[0].length;
    } else {
      emit(c);
      i++;
    }
  }
  if (squote || dquote) return `unmatched quote at position ${quoteAt + 1}`;
  endWord();
  return words;
}

interface Expansion {
  value: string | undefined;
  expand: boolean;
  next: number;
}

/** `$NAME`, `${NAME}`, `${NAME-default}`, `${NAME[*]}` starting at line[at] === '$'. */
function expandVariable(line: string, at: number, env: Environment, ctx?: LineContext): Expansion | string {
  let i = at + 1;
  let brace = -1;
  if (line[i] === '{') brace = i++;
  const first = line[i];
  if (first === undefined || !/[A-Za-z_.]/.test(first)) {
    return `forbidden first char in environment variable name at position ${i + 1}`;
  }
  const start = i;
  if (line[i] === '.') i++;
  while (i < line.length && /[A-Za-z0-9_]/.test(line[i]!)) i++;
  const name = line.slice(start, i);
  let value: string | undefined;
  if (name.startsWith('.')) {
    if (name === '.LINE') value = String(ctx?.line ?? 0);
    else if (name === '.FILE') value = ctx?.file ?? '';
    else if (name === '.SECTION') value = ctx?.section ?? '';
    else return `forbidden first char in environment variable name at position ${start + 1}`;
  } else {
    value = env[name];
  }
  let expand = false;
  if (brace >= 0 && line[i] === '[') {
    if (line.slice(i, i + 3) !== '[*]') return `truncated or invalid word expansion sequence at position ${i + 1}`;
    expand = true;
    i += 3;
  }
  if (brace >= 0) {
    if (line[i] === '-') {
      const close = line.indexOf('}', i);
      if (close < 0) return `unmatched brace in environment variable name at position ${brace + 1}`;
      if (value === undefined) value = line.slice(i + 1, close);
      i = close;
    }
    if (line[i] !== '}') return `unmatched brace in environment variable name at position ${brace + 1}`;
    i++;
  }
  return { value, expand, next: i };
}
