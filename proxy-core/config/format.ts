// Log-format strings (`log-format`, `http-request set-header` values): split once into text,
// `%[sample]` and `%var` parts so nothing re-parses them per request.
//
// Syntax (HAProxy configuration manual 8.2.4): `%%` is a literal percent; `%{flags}` may
// precede a variable or a sample (`+Q` quotes the value, other flags are accepted and
// ignored); `%name` is one of HAProxy's log variables (alphanumeric name); `%[expr]` is a
// sample expression; a `%` followed by anything else is literal, except a digit or a blank,
// which HAProxy refuses.

import type { FormatPart } from './model.ts';
import { parseSampleAt } from './samples.ts';
import { LineError } from './units.ts';

/** HAProxy 2.6 log-format variables. */
const LOG_VARIABLES = new Set(
  (
    'o B CC CS H ID ST T Ta Tc Th Ti Tl Tq Tr TR Td Ts Tt Tu Tw U ac b bc bi bp bq ci cp f fc fi fp ft ' +
    'hr hrl hs hsl HM HP HPO HQ HU HV lc ms pid r rc rt s sc si sp sq sslc sslv t tr trg trl ts tsc'
  ).split(' '),
);

const FLAGS = new Set(['Q', 'X', 'E', 'M']);
const VAR_NAME = /[A-Za-z0-9]+/y;

/** Parse a log-format string; throws LineError with the reason. */
export function parseFormat(text: string): FormatPart[] {
  const parts: FormatPart[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal !== '') parts.push({ kind: 'text', text: literal });
    literal = '';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '%') {
      literal += c;
      i++;
      continue;
    }
    i++;
    if (i >= text.length) throw new LineError(`truncated format string after '%' in '${text}'`);
    let quote = false;
    if (text[i] === '%') {
      literal += '%';
      i++;
      continue;
    }
    if (/[0-9 \t]/.test(text[i]!)) {
      throw new LineError(
        `unexpected variable name near '${text[i]}' in format '${text}' (write '%%' for a single '%')`,
      );
    }
    let hadFlags = false;
    if (text[i] === '{') {
      const close = text.indexOf('}', i);
      if (close < 0) throw new LineError(`truncated format string: missing '}' in '${text}'`);
      for (const flag of text.slice(i + 1, close).split(',')) {
        if (flag === '') continue;
        const m = /^([+-])([A-Z])$/.exec(flag);
        if (!m || !FLAGS.has(m[2]!)) throw new LineError(`unknown format flag '${flag}' in '${text}'`);
        if (m[2] === 'Q') quote = m[1] === '+';
      }
      i = close + 1;
      hadFlags = true;
    }
    if (text[i] === '[') {
      const { fetch, end } = parseSampleAt(text, i + 1, { stop: ']' });
      if (text[end] !== ']') throw new LineError(`missing ']' after sample expression in '${text}'`);
      flush();
      parts.push({ kind: 'sample', fetch, quote });
      i = end + 1;
      continue;
    }
    VAR_NAME.lastIndex = i;
    const m = VAR_NAME.exec(text);
    if (m && (hadFlags || /^[A-Za-z]/.test(m[0]))) {
      if (!LOG_VARIABLES.has(m[0])) {
        throw new LineError(`no such format variable '%${m[0]}' (write '%%' for a literal '%')`);
      }
      flush();
      parts.push({ kind: 'var', name: m[0], quote });
      i += m[0].length;
      continue;
    }
    if (hadFlags) throw new LineError(`format flags without a variable name in '${text}'`);
    // A lone '%' before another character is kept literally, as HAProxy does.
    literal += '%';
  }
  flush();
  return parts;
}
