/** hstore text (`"a"=>"1", "b"=>NULL`) → a JSON object of string (or null) values. */

export function parseHstore(text: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  let i = 0;
  const n = text.length;
  const fail = (why: string): Error => new Error(`cannot parse hstore text at offset ${i} (${why}): ${text.slice(0, 200)}`);
  const skipSpace = (): void => {
    while (i < n && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 44)) i++;
  };
  const quoted = (): string => {
    if (text.charCodeAt(i) !== 34) throw fail('expected "');
    i++;
    let value = '';
    let start = i;
    for (;;) {
      if (i >= n) throw fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 92) {
        value += text.slice(start, i);
        start = i + 1;
        i += 2;
      } else if (c === 34) {
        value += text.slice(start, i);
        i++;
        return value;
      } else {
        i++;
      }
    }
  };
  skipSpace();
  while (i < n) {
    const key = quoted();
    if (text.slice(i, i + 2) !== '=>') throw fail('expected =>');
    i += 2;
    if (text.startsWith('NULL', i)) {
      out[key] = null;
      i += 4;
    } else {
      out[key] = quoted();
    }
    skipSpace();
  }
  return out;
}
