// A small RFC 4180 reader: enough to read `show stat` the way a strict CSV consumer would
// (quoted cells, doubled quotes, commas and line breaks inside quotes).

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else cell += ch;
      i++;
      continue;
    }
    if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      if (ch === '\r') i++;
    } else cell += ch;
    i++;
  }
  if (quoted) throw new Error('unterminated quoted cell');
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** `show stat` output as objects keyed by column name (header "# a,b,...," as HAProxy prints it). */
export function statRecords(text: string): Record<string, string>[] {
  const rows = parseCsv(text).filter((r) => !(r.length === 1 && r[0] === ''));
  const header = rows[0]!;
  if (!header[0]!.startsWith('# ')) throw new Error('no header line');
  const names = [header[0]!.slice(2), ...header.slice(1)];
  return rows.slice(1).map((r) => {
    if (r.length !== names.length) throw new Error(`row has ${r.length} cells, header ${names.length}: ${r.join(',')}`);
    return Object.fromEntries(names.map((n, i) => [n, r[i]!]));
  });
}
