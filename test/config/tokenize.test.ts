import { describe, expect, it } from 'vitest';
import { tokenize, tokenizeLine } from '../../proxy-core/config/tokenize.ts';

const env = { HOST: 'example.com', EMPTY: '', LIST: 'a  b c', SPACED: ' x ' };
const words = (line: string) => tokenizeLine(line, env);

describe('tokenizer: words, comments and escapes', () => {
  it('splits on spaces and tabs and drops leading blanks', () => {
    expect(words('  bind\t10.0.0.1:80   ssl  ')).toEqual(['bind', '10.0.0.1:80', 'ssl']);
  });

  it('starts a comment at an unquoted #, even inside a word', () => {
    expect(words('mode http # the mode')).toEqual(['mode', 'http']);
    expect(words('acl a path /x#frag')).toEqual(['acl', 'a', 'path', '/x']);
    expect(words('   # only a comment')).toEqual([]);
  });

  it('keeps # inside quotes and after a backslash', () => {
    expect(words('x "a # b" \'c # d\' e\\#f')).toEqual(['x', 'a # b', 'c # d', 'e#f']);
  });

  it('unescapes backslash-space, backslash-backslash and quotes', () => {
    expect(words('acl a path -m str /old\\ path')).toEqual(['acl', 'a', 'path', '-m', 'str', '/old path']);
    expect(words('x a\\\\b \\"q\\" \\\'s\\\'')).toEqual(['x', 'a\\b', '"q"', "'s'"]);
  });

  it('turns \\r \\n \\t \\xNN into bytes (Octavia 11 httpchk header hack)', () => {
    expect(words('option httpchk GET /healthz HTTP/1.1\\r\\nHost:\\ app.example.com')).toEqual([
      'option',
      'httpchk',
      'GET',
      '/healthz',
      'HTTP/1.1\r\nHost: app.example.com',
    ]);
    expect(words('x a\\tb \\x41\\x7e')).toEqual(['x', 'a\tb', 'A~']);
  });

  it('keeps other backslash sequences as written (regexes)', () => {
    expect(words('acl a path_reg ^/a\\d+\\.png$')).toEqual(['acl', 'a', 'path_reg', '^/a\\d+\\.png$']);
    expect(words('acl a path -m reg ^/a\\\\d+/b\\ c$')).toEqual(['acl', 'a', 'path', '-m', 'reg', '^/a\\d+/b c$']);
  });

  it('refuses a truncated hex escape with its position', () => {
    expect(words('x a\\x4')).toBe('truncated or invalid hexadecimal sequence at position 4');
  });
});

describe('tokenizer: quotes and environment variables', () => {
  it('joins quoted and unquoted parts into one word', () => {
    expect(words('x a"b c"d \'e f\'g')).toEqual(['x', 'ab cd', 'e fg']);
  });

  it('expands $VAR, ${VAR} and ${VAR-default} inside double quotes only', () => {
    expect(words('x "$HOST" "${HOST}:80" "${NOPE-fallback}" \'$HOST\' $HOST')).toEqual([
      'x',
      'example.com',
      'example.com:80',
      'fallback',
      '$HOST',
      '$HOST',
    ]);
  });

  it('processes escapes inside double quotes but not inside single quotes', () => {
    expect(words('x "a\\"b\\$HOST\\tc" \'a\\tb\\\'')).toEqual(['x', 'a"b$HOST\tc', 'a\\tb\\']);
  });

  it('splits ${VAR[*]} into words', () => {
    expect(words('x "${LIST[*]}" y')).toEqual(['x', 'a', 'b', 'c', 'y']);
    expect(words('x "${EMPTY[*]}" y')).toEqual(['x', 'y']);
  });

  it('knows .LINE, .FILE and .SECTION', () => {
    const { lines } = tokenize('frontend fe\n  description "${.FILE}:${.LINE} in ${.SECTION}"\n', 'h.cfg', env);
    expect(lines[1]!.words).toEqual(['description', 'h.cfg:2 in frontend']);
  });

  it('reports unmatched quotes and braces with the position', () => {
    expect(words('x "abc')).toBe('unmatched quote at position 3');
    expect(words("x 'abc")).toBe('unmatched quote at position 3');
    expect(words('x "${HOST"')).toBe('unmatched brace in environment variable name at position 5');
    expect(words('x "$1"')).toBe('forbidden first char in environment variable name at position 5');
  });
});

describe('tokenize: whole files', () => {
  it('numbers lines from 1, skips blank and comment lines, handles CRLF', () => {
    const { lines, errors } = tokenize('# head\r\nglobal\r\n\r\n    daemon\r\n', 'a.cfg', env);
    expect(errors).toEqual([]);
    expect(lines).toEqual([
      { words: ['global'], where: { file: 'a.cfg', line: 2 } },
      { words: ['daemon'], where: { file: 'a.cfg', line: 4 } },
    ]);
  });

  it('reports an unterminated quote as file:line and goes on', () => {
    const { lines, errors } = tokenize('global\n  log "/dev/log local0\n  daemon\n', 'q.cfg', env);
    expect(errors).toEqual([{ where: { file: 'q.cfg', line: 2 }, message: 'unmatched quote at position 7' }]);
    expect(lines.map((l) => l.words[0])).toEqual(['global', 'daemon']);
  });

  it('refuses an empty word rather than silently dropping the rest of the line', () => {
    const { errors } = tokenize('frontend f\n  bind "$UNSET_VARIABLE_X":80 ""  v4v6\n', 'e.cfg', env);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.where).toEqual({ file: 'e.cfg', line: 2 });
    expect(errors[0]!.message).toMatch(/^argument number 2 is empty/);
  });

  it('expands a variable whose value is empty to an empty word (an error), unless joined', () => {
    expect(tokenize('x "$EMPTY"\n', 'e.cfg', env).errors).toHaveLength(1);
    expect(tokenize('x "a$EMPTY"\n', 'e.cfg', env).lines[0]!.words).toEqual(['x', 'a']);
  });
});
