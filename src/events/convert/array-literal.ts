/**
 * Parser for the Postgres array text form (array_out): `{1,2,NULL}`, nested `{{1,2},{3,4}}`,
 * quoted elements with backslash escapes `{"a b","\"q\"","NULL"}`, an optional dimension
 * decoration `[0:1]={1,2}`, and the element type's delimiter (`;` for box).
 * Elements come back as their text (or null for an unquoted NULL), nested as the array is.
 */

export type ArrayItems = (string | null | ArrayItems)[];

function bad(text: string, at: number, why: string): Error {
  return new Error(`cannot parse Postgres array text at offset ${at} (${why}): ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

export function parseArrayLiteral(text: string, delimiter = ','): ArrayItems {
  const delim = delimiter.charCodeAt(0);
  let i = 0;
  if (text.charCodeAt(0) === 91 /* [ */) {
    const eq = text.indexOf('=');
    if (eq < 0) throw bad(text, 0, 'dimension decoration without "="');
    i = eq + 1;
  }
  const parseLevel = (): ArrayItems => {
    if (text.charCodeAt(i) !== 123 /* { */) throw bad(text, i, 'expected "{"');
    i++;
    const items: ArrayItems = [];
    for (;;) {
      while (isSpace(text.charCodeAt(i))) i++;
      const c = text.charCodeAt(i);
      if (c === 125 /* } */) {
        if (items.length !== 0) throw bad(text, i, 'unexpected "}" after delimiter');
        i++;
        return items;
      }
      if (c === 123) {
        items.push(parseLevel());
      } else if (c === 34 /* " */) {
        i++;
        let value = '';
        let start = i;
        for (;;) {
          const q = text.charCodeAt(i);
          if (Number.isNaN(q)) throw bad(text, i, 'unterminated quoted element');
          if (q === 92 /* \ */) {
            value += text.slice(start, i);
            i++;
            start = i;
            i++;
          } else if (q === 34) {
            value += text.slice(start, i);
            i++;
            break;
          } else {
            i++;
          }
        }
        items.push(value);
      } else {
        const start = i;
        let value = '';
        let segment = i;
        for (;;) {
          const u = text.charCodeAt(i);
          if (Number.isNaN(u)) throw bad(text, i, 'unterminated array');
          if (u === delim || u === 125) break;
          if (u === 92) {
            value += text.slice(segment, i);
            segment = i + 1;
            i += 2;
            continue;
          }
          i++;
        }
        value += text.slice(segment, i);
        // array_out never pads unquoted elements, but tolerate trailing whitespace like array_in.
        let trimmedEnd = value.length;
        while (trimmedEnd > 0 && isSpace(value.charCodeAt(trimmedEnd - 1))) trimmedEnd--;
        value = value.slice(0, trimmedEnd);
        if (value.length === 0) throw bad(text, start, 'empty unquoted element');
        items.push(value.length === 4 && value.toUpperCase() === 'NULL' && !text.slice(start, i).includes('\\') ? null : value);
      }
      while (isSpace(text.charCodeAt(i))) i++;
      const next = text.charCodeAt(i);
      i++;
      if (next === 125) return items;
      if (next !== delim) throw bad(text, i - 1, `expected "${delimiter}" or "}"`);
      while (isSpace(text.charCodeAt(i))) i++;
      if (text.charCodeAt(i) === 125) throw bad(text, i, 'unexpected "}" after delimiter');
    }
  };
  const result = parseLevel();
  while (isSpace(text.charCodeAt(i))) i++;
  if (i !== text.length) throw bad(text, i, 'trailing characters after the array');
  return result;
}
