/**
 * The type matrix of issue 14: every Postgres type the source supports, as table columns with
 * edge values and fast-check generators of their *input text* (bound as query parameters with a
 * cast, so no SQL quoting is involved). Shared by the snapshot-vs-streaming test, the property test
 * and the type-table drift test (every `readme` name must have a row in src/events/README.md).
 */
import fc from 'fast-check';

export interface MatrixColumn {
  /** Column name. */
  readonly col: string;
  /** SQL type of the column (user types created by `MATRIX_SETUP`). */
  readonly sql: string;
  /** The row of the type table in src/events/README.md that documents this column's type. */
  readonly readme: string;
  /** Extension the type needs (the column is left out when it is not available). */
  readonly needs?: 'citext' | 'hstore';
  /** Input texts of edge values (one row each, other columns NULL). */
  readonly edges: readonly string[];
  /** Random input text. */
  readonly gen: fc.Arbitrary<string>;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const YEAR1_MS = Date.UTC(2000, 0, 1) - 730_119 * 86_400_000; // 0001-01-01
const YEAR9999_END_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `YYYY-MM-DD` of ms since epoch, years 0001..9999. */
function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const instant = fc.record({ ms: fc.integer({ min: YEAR1_MS, max: YEAR9999_END_MS }), us: fc.integer({ min: 0, max: 999 }) }).map(({ ms, us }) => {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${pad(us, 3)}`;
});
const offset = fc.integer({ min: -15 * 60, max: 15 * 60 }).map((m) => `${m < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(m) / 60))}:${pad(Math.abs(m) % 60)}`);
const clock = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 999_999 })).map(([h, m, s, us]) => `${pad(h)}:${pad(m)}:${pad(s)}.${pad(us, 6)}`);
const word = fc.stringMatching(/^[a-z]{1,8}$/);
/** Any text Postgres accepts (no NUL), incl. astral characters, quotes, backslashes, control chars. */
const anyText = fc
  .array(fc.oneof(fc.constantFrom('"', '\\', "'", '\t', '\n', '\r', ',', '{', '}', ' ', 'é', '𝄞', 'NULL', '\u0001'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), { maxLength: 20 })
  .map((a) => a.join(''))
  .filter((s) => !s.includes('\0'));
const decimalText = (maxInt: number, scale: number): fc.Arbitrary<string> =>
  fc.tuple(fc.boolean(), fc.bigInt(0n, 10n ** BigInt(maxInt) - 1n), fc.bigInt(0n, 10n ** BigInt(scale) - 1n)).map(([neg, i, f]) => `${neg ? '-' : ''}${i}${scale > 0 ? `.${f.toString().padStart(scale, '0')}` : ''}`);
const jsonText = fc.oneof(
  fc.json({ maxDepth: 2 }),
  fc.constantFrom('{"a": 1, "a": 2}', '{"n": 123456789012345678901234567890.123456789}', '[1e400, -0, 0.1]', '{"u": "\\u00e9\\ud834\\udd1e", "esc": "\\"\\\\\\n"}', '{}', '[]'),
);
const intArray = fc.oneof(
  fc.array(fc.option(fc.integer(), { nil: null }), { maxLength: 4 }).map((a) => `{${a.map((v) => (v === null ? 'NULL' : String(v))).join(',')}}`),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).chain(([r, c]) =>
    fc.array(fc.array(fc.option(fc.integer({ min: -1000, max: 1000 }), { nil: null }), { minLength: c, maxLength: c }), { minLength: r, maxLength: r }).map((rows) => `{${rows.map((row) => `{${row.map((v) => (v === null ? 'NULL' : String(v))).join(',')}}`).join(',')}}`),
  ),
);
const textArray = fc.array(fc.option(anyText, { nil: null }), { maxLength: 4 }).map((a) => `{${a.map((v) => (v === null ? 'NULL' : `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`)).join(',')}}`);

export const MATRIX_SETUP = [
  `CREATE TYPE mood AS ENUM ('sad', 'meh', 'happy')`,
  'CREATE DOMAIN amount AS numeric(12,2)',
  'CREATE TYPE pair AS (a int, b text)',
];

export const MATRIX: readonly MatrixColumn[] = [
  { col: 'c_int2', sql: 'int2', readme: 'int2', edges: ['32767', '-32768'], gen: fc.integer({ min: -32768, max: 32767 }).map(String) },
  { col: 'c_int4', sql: 'int4', readme: 'int4', edges: ['2147483647', '-2147483648'], gen: fc.integer().map(String) },
  { col: 'c_int8', sql: 'int8', readme: 'int8', edges: ['9223372036854775807', '-9223372036854775808', '9007199254740993'], gen: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String) },
  { col: 'c_numeric', sql: 'numeric', readme: 'numeric', edges: ['NaN', 'Infinity', '-Infinity', '1e-30', '123456789012345678901234567890.123456789'], gen: fc.oneof(fc.constantFrom('NaN', 'Infinity', '-Infinity'), decimalText(40, 12)) },
  { col: 'c_numeric_fixed', sql: 'numeric(12,3)', readme: 'numeric(p,s)', edges: ['NaN', '-999999999.999', '0'], gen: fc.oneof(fc.constant('NaN'), decimalText(9, 3)) },
  { col: 'c_amount', sql: 'amount', readme: 'domain', edges: ['9999999999.99', '-0.01'], gen: decimalText(10, 2) },
  { col: 'c_float4', sql: 'float4', readme: 'float4', edges: ['NaN', 'Infinity', '-Infinity', '3.4028235e38', '1e-45'], gen: fc.float().map((f) => (Number.isNaN(f) ? 'NaN' : String(f))) },
  { col: 'c_float8', sql: 'float8', readme: 'float8', edges: ['NaN', 'Infinity', '-Infinity', '1.7976931348623157e308', '5e-324', '0.30000000000000004'], gen: fc.double().map((f) => (Number.isNaN(f) ? 'NaN' : String(f))) },
  { col: 'c_bool', sql: 'bool', readme: 'bool', edges: ['true', 'false'], gen: fc.boolean().map(String) },
  { col: 'c_text', sql: 'text', readme: 'text', edges: ['', 'h\u00e9llo "w"\n\\ 𝄞', 'NULL'], gen: anyText },
  { col: 'c_varchar', sql: 'varchar(20)', readme: 'varchar', edges: ['ünï'], gen: anyText.map((s) => [...s].slice(0, 20).join('')) },
  { col: 'c_char', sql: 'char(5)', readme: 'char', edges: ['ab', 'abcde'], gen: word.map((s) => s.slice(0, 5)) },
  { col: 'c_citext', sql: 'citext', readme: 'citext', needs: 'citext', edges: ['MiXed'], gen: anyText },
  { col: 'c_mood', sql: 'mood', readme: 'enum', edges: ['happy'], gen: fc.constantFrom('sad', 'meh', 'happy') },
  { col: 'c_uuid', sql: 'uuid', readme: 'uuid', edges: ['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'], gen: fc.uuid() },
  { col: 'c_json', sql: 'json', readme: 'json', edges: ['{"b": 1,  "a": [1,2], "a": 3}', '{"n": 123456789012345678901234567890}'], gen: jsonText },
  { col: 'c_jsonb', sql: 'jsonb', readme: 'jsonb', edges: ['{"u": "\\u00e9", "a": 1, "a": 2}', '{"n": 123456789012345678901234567890.5}'], gen: jsonText },
  { col: 'c_bytea', sql: 'bytea', readme: 'bytea', edges: ['\\x00', '\\xdeadbeef00ff', '\\x'], gen: fc.uint8Array({ maxLength: 12 }).map((b) => `\\x${hex(b)}`) },
  { col: 'c_date', sql: 'date', readme: 'date', edges: ['0001-01-01', '9999-12-31', 'infinity', '-infinity', '1969-12-31'], gen: fc.oneof(fc.constantFrom('infinity', '-infinity'), fc.integer({ min: YEAR1_MS, max: YEAR9999_END_MS }).map(isoDate)) },
  { col: 'c_ts', sql: 'timestamp', readme: 'timestamp', edges: ['0001-01-01 00:00:00', '9999-12-31 23:59:59.999999', 'infinity', '-infinity'], gen: fc.oneof({ weight: 1, arbitrary: fc.constantFrom('infinity', '-infinity') }, { weight: 6, arbitrary: instant }) },
  { col: 'c_ts3', sql: 'timestamp(3)', readme: 'timestamp(p≤3)', edges: ['0001-01-01 00:00:00.001', '9999-12-31 23:59:59.999', 'infinity'], gen: fc.oneof(fc.constant('-infinity'), instant.map((s) => s.slice(0, 23))) },
  { col: 'c_tstz', sql: 'timestamptz', readme: 'timestamptz', edges: ['0001-01-01 00:00:00+00', '9999-12-31 23:59:59.999999+00', 'infinity', '-infinity', '2024-01-02 03:04:05.5+05:30'], gen: fc.oneof(fc.constantFrom('infinity', '-infinity'), fc.tuple(instant, offset).map(([t, o]) => `${t}${o}`).filter((s) => !s.startsWith('0001-01-01') && !s.startsWith('9999-12-31'))) },
  { col: 'c_time', sql: 'time', readme: 'time', edges: ['24:00:00', '00:00:00'], gen: clock },
  { col: 'c_timetz', sql: 'timetz', readme: 'timetz', edges: ['12:00:00.5+05:30', '00:00:00-15:59'], gen: fc.tuple(clock, offset).map(([c, o]) => `${c}${o}`) },
  { col: 'c_interval', sql: 'interval', readme: 'interval', edges: ['1 year 2 mons -3 days 04:05:06.789', '-178000000 years', '1 mon'], gen: fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -11, max: 11 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1e9, max: 1e9 })).map(([y, m, d, us]) => `${y} years ${m} mons ${d} days ${us} microseconds`) },
  { col: 'c_money', sql: 'money', readme: 'money', edges: ['92233720368547758.07', '-92233720368547758.08'], gen: fc.bigInt(-(10n ** 15n), 10n ** 15n).map((c) => `${c < 0n ? '-' : ''}${(c < 0n ? -c : c) / 100n}.${String((c < 0n ? -c : c) % 100n).padStart(2, '0')}`) },
  { col: 'c_inet', sql: 'inet', readme: 'inet', edges: ['::1', '192.168.1.5/24', '::ffff:1.2.3.4/128', '10.0.0.1/32'], gen: fc.oneof(fc.ipV4(), fc.ipV6(), fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`)) },
  { col: 'c_cidr', sql: 'cidr', readme: 'cidr', edges: ['10.0.0.0/8', '2001:db8::/32', '192.168.0.1/32'], gen: fc.constantFrom('10.0.0.0/8', '::/0', '192.168.100.128/25', '2001:4f8:3:ba::/64', '1.2.3.4/32') },
  { col: 'c_macaddr', sql: 'macaddr', readme: 'macaddr', edges: ['08:00:2B:01:02:03'], gen: fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')) },
  { col: 'c_bit1', sql: 'bit(1)', readme: 'bit(1)', edges: ['1', '0'], gen: fc.constantFrom('0', '1') },
  { col: 'c_bit4', sql: 'bit(4)', readme: 'bit(n)', edges: ['0101'], gen: fc.stringMatching(/^[01]{4}$/) },
  { col: 'c_varbit', sql: 'varbit', readme: 'varbit', edges: ['', '0101'], gen: fc.stringMatching(/^[01]{0,20}$/) },
  { col: 'c_int_arr', sql: 'int4[]', readme: 'array', edges: ['{{1,2},{3,NULL}}', '{}', '{NULL}', '[0:1]={7,8}'], gen: intArray },
  { col: 'c_text_arr', sql: 'text[]', readme: 'array', edges: ['{"a b","\\"q\\"",NULL,"NULL","","{x,y}"}'], gen: textArray },
  { col: 'c_range', sql: 'int4range', readme: 'range', edges: ['empty', '(,)', '[1,10)'], gen: fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 1, max: 1000 })).map(([a, n]) => `[${a},${a + n})`) },
  { col: 'c_tstzrange', sql: 'tstzrange', readme: 'range', edges: ['[2024-01-01 00:00+00,infinity)'], gen: fc.constantFrom('empty', '(,)', '[2024-01-01 00:00+00,2024-01-02 00:00+00)') },
  { col: 'c_hstore', sql: 'hstore', readme: 'hstore', needs: 'hstore', edges: ['a=>1, "b c"=>NULL, "q\\"k"=>"v"', ''], gen: fc.dictionary(word, fc.option(anyText, { nil: null }), { maxKeys: 3 }).map((d) => Object.entries(d).map(([k, v]) => `"${k}"=>${v === null ? 'NULL' : `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`}`).join(', ')) },
  { col: 'c_pair', sql: 'pair', readme: 'composite', edges: ['(1,"x y")', '(,)'], gen: fc.tuple(fc.integer(), word).map(([a, b]) => `(${a},"${b}")`) },
  { col: 'c_point', sql: 'point', readme: 'geometric', edges: ['(1,2)', '(-1.5,1e300)'], gen: fc.tuple(fc.integer(), fc.integer()).map(([x, y]) => `(${x},${y})`) },
  { col: 'c_box', sql: 'box', readme: 'geometric', edges: ['((1,1),(0,0))'], gen: fc.tuple(fc.integer(), fc.integer()).map(([x, y]) => `((${x},${y}),(0,0))`) },
  { col: 'c_tsvector', sql: 'tsvector', readme: 'tsvector', edges: ["'a' 'fat':2 cat"], gen: fc.array(word, { maxLength: 4 }).map((w) => w.join(' ')) },
  { col: 'c_xml', sql: 'xml', readme: 'xml', edges: ['<a x="1">t &amp; é</a>'], gen: word.map((w) => `<${w}>${w}</${w}>`) },
  // TOASTed out of line (STORAGE EXTERNAL): updates that do not touch it send "unchanged TOAST"
  { col: 'c_big', sql: 'text', readme: 'text', edges: ['x'.repeat(5000)], gen: fc.oneof(anyText, fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 400, max: 800 })).map(([s, n]) => s.repeat(n).slice(0, 6000))) },
];

/** The matrix columns available on a server (extension types only when the extension is installed). */
export function matrixFor(extensions: ReadonlySet<string>): MatrixColumn[] {
  return MATRIX.filter((c) => !c.needs || extensions.has(c.needs));
}

/** `CREATE TABLE` for the matrix with `id int PRIMARY KEY` first; c_big stored out of line. */
export function matrixTableSql(table: string, cols: readonly MatrixColumn[]): string[] {
  return [
    `CREATE TABLE ${table} (id int PRIMARY KEY, ${cols.map((c) => `${c.col} ${c.sql}`).join(', ')})`,
    `ALTER TABLE ${table} ALTER COLUMN c_big SET STORAGE EXTERNAL`,
  ];
}

/** A parameterized INSERT of one row (values: input text or null per column). */
export function insertSql(table: string, cols: readonly MatrixColumn[]): string {
  return `INSERT INTO ${table} (id, ${cols.map((c) => c.col).join(', ')}) VALUES ($1, ${cols.map((c, i) => `$${i + 2}::${c.sql}`).join(', ')})`;
}

/** A random row (null = SQL NULL, with probability ~1/6 per column). */
export function rowArb(cols: readonly MatrixColumn[]): fc.Arbitrary<(string | null)[]> {
  return fc.tuple(...cols.map((c) => fc.option(c.gen, { nil: null, freq: 5 })));
}

/** Rows that put every edge value in its column (other columns take the first edge or NULL). */
export function edgeRows(cols: readonly MatrixColumn[]): (string | null)[][] {
  const n = Math.max(...cols.map((c) => c.edges.length));
  const rows: (string | null)[][] = [];
  for (let i = 0; i < n; i++) rows.push(cols.map((c) => c.edges[i] ?? null));
  rows.push(cols.map(() => null));
  return rows;
}
