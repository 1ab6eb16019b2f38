/**
 * Every type of the contract's mapping, converted from the live server's own text output (the
 * type output functions — what pgoutput sends in text mode and what the text protocol returns),
 * with exact expected Debezium JSON values. Also checks the static built-in type table against
 * pg_type and the TypeRegistry against real enums/domains/extension types.
 * Runs in its own database (created and dropped here) so extensions stay local to the test.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { BUILTIN_TYPES } from '../../src/events/builtin-types.js';
import { DEFAULT_CONVERT_OPTIONS, type ConvertOptions } from '../../src/events/config.js';
import { compileRowConverter } from '../../src/events/row.js';
import { TypeRegistry } from '../../src/events/type-registry.js';
import type { Column, RelationInfo } from '../../src/events/types.js';
import type { JsonValue, Row } from '../../src/events/change.js';

const DB = 'cdc_events_types_rt';
const adminUrl = endpoints().postgresUrl;
const dbUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${DB}`;
  return u.toString();
})();

let admin: pg.Client;
let client: pg.Client;
let hasHstore = false;

/** Raw text of each column, exactly as the server's output functions print it. */
const rawText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

const microsOf = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number => Date.UTC(y, mo - 1, d, h, mi, s) * 1000;
const daysOf = (y: number, m: number, d: number): number => {
  const dt = new Date(0);
  dt.setUTCFullYear(y, m - 1, d);
  return Math.round(dt.getTime() / 86_400_000);
};
const MONTH = 2_629_800_000_000;
const DAY = 86_400_000_000;

interface Case {
  col: string;
  type: string;
  /** SQL literals for rows 1 and 2 (row 3 is all NULL). */
  values: [string, string];
  expected: [JsonValue, JsonValue];
  /** Passed through as server text, which depends on the session TimeZone: checked in UTC only. */
  utcOnly?: boolean;
}

const cases: Case[] = [
  { col: 'c_int2', type: 'int2', values: ['32767', '-32768'], expected: [32767, -32768] },
  { col: 'c_int4', type: 'int4', values: ['2147483647', '-2147483648'], expected: [2147483647, -2147483648] },
  { col: 'c_int8', type: 'int8', values: ['9223372036854775807', '-9007199254740991'], expected: ['9223372036854775807', -9007199254740991] },
  { col: 'c_numeric', type: 'numeric', values: ['1e-30', "'NaN'"], expected: ['0.000000000000000000000000000001', 'NaN'] },
  { col: 'c_numeric_big', type: 'numeric', values: ['123456789012345678901234567890.123456789', "'-Infinity'"], expected: ['123456789012345678901234567890.123456789', '-Infinity'] },
  { col: 'c_numeric_fixed', type: 'numeric(10,3)', values: ['-1.5', '0'], expected: ['-1.500', '0.000'] },
  { col: 'c_amount', type: 'amount', values: ['12.5', '-0.01'], expected: ['12.50', '-0.01'] },
  { col: 'c_amount2', type: 'positive_amount', values: ['7', '99999.99'], expected: ['7.00', '99999.99'] },
  { col: 'c_float4', type: 'float4', values: ['1.5', "'-Infinity'"], expected: [1.5, '-Infinity'] },
  { col: 'c_float8', type: 'float8', values: ['0.1', "'NaN'"], expected: [0.1, 'NaN'] },
  { col: 'c_float8_big', type: 'float8', values: ['1e300', "'Infinity'"], expected: [1e300, 'Infinity'] },
  { col: 'c_bool', type: 'bool', values: ['true', 'false'], expected: [true, false] },
  { col: 'c_text', type: 'text', values: [`E'h\\u00e9llo, "world"\\n\\\\'`, "''"], expected: ['héllo, "world"\n\\', ''] },
  { col: 'c_varchar', type: 'varchar(10)', values: ["'abc'", "'ünï'"], expected: ['abc', 'ünï'] },
  { col: 'c_char', type: 'char(5)', values: ["'ab'", "'abcde'"], expected: ['ab   ', 'abcde'] },
  { col: 'c_citext', type: 'citext', values: ["'MiXed'", "'x'"], expected: ['MiXed', 'x'] },
  { col: 'c_mood', type: 'mood', values: ["'happy'", "'meh'"], expected: ['happy', 'meh'] },
  { col: 'c_uuid', type: 'uuid', values: ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'"], expected: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '00000000-0000-0000-0000-000000000000'] },
  { col: 'c_json', type: 'json', values: [`'{"b": 1,  "a": [1,2]}'`, `'"s"'`], expected: ['{"b": 1,  "a": [1,2]}', '"s"'] },
  { col: 'c_jsonb', type: 'jsonb', values: [`'{"b": 1,  "a": [1,2], "u": "\\u00e9"}'`, "'null'"], expected: ['{"a": [1, 2], "b": 1, "u": "é"}', 'null'] },
  { col: 'c_bytea', type: 'bytea', values: ["'\\xdeadbeef00'::bytea", "''::bytea"], expected: [Buffer.from('deadbeef00', 'hex').toString('base64'), ''] },
  { col: 'c_date', type: 'date', values: ["'2024-02-29'", "'0044-03-15 BC'"], expected: [daysOf(2024, 2, 29), daysOf(-43, 3, 15)] },
  { col: 'c_date_inf', type: 'date', values: ["'infinity'", "'-infinity'"], expected: [2147483647, -2147483648] },
  { col: 'c_time', type: 'time', values: ["'13:14:15.123456'", "'24:00:00'"], expected: [(13 * 3600 + 14 * 60 + 15) * 1e6 + 123456, DAY] },
  { col: 'c_time3', type: 'time(3)', values: ["'13:14:15.1237'", "'00:00:00'"], expected: [(13 * 3600 + 14 * 60 + 15) * 1000 + 124, 0] },
  { col: 'c_timetz', type: 'timetz', values: ["'12:00:00.5+05:30'", "'01:00:00-08'"], expected: ['06:30:00.5Z', '09:00:00Z'] },
  { col: 'c_ts', type: 'timestamp', values: ["'2024-01-02 03:04:05.123456'", "'1500-06-01 00:00:00.000001'"], expected: [microsOf(2024, 1, 2, 3, 4, 5) + 123456, String(BigInt(daysOf(1500, 6, 1)) * 86400000000n + 1n)] },
  { col: 'c_ts_bc', type: 'timestamp', values: ["'0044-03-15 12:00:00 BC'", "'infinity'"], expected: [String(BigInt(daysOf(-43, 3, 15)) * 86400000000n + 43200000000n), '9223372036825200000'] },
  { col: 'c_ts3', type: 'timestamp(3)', values: ["'2024-01-02 03:04:05.1239'", "'1970-01-01 00:00:00'"], expected: [microsOf(2024, 1, 2, 3, 4, 5) / 1000 + 124, 0] },
  { col: 'c_tstz', type: 'timestamptz', values: ["'2024-01-02 03:04:05.123456+05:30'", "'0044-03-15 12:00:00+00 BC'"], expected: ['2024-01-01T21:34:05.123456Z', '-0043-03-15T12:00:00.000000Z'] },
  { col: 'c_tstz_inf', type: 'timestamptz', values: ["'infinity'", "'1900-01-01 00:00:00+00'"], expected: ['infinity', '1900-01-01T00:00:00.000000Z'] },
  { col: 'c_interval', type: 'interval', values: ["'1 year 2 mons -3 days 04:05:06.789'", "'-1 day -00:00:00.000001'"], expected: [14 * MONTH - 3 * DAY + 14_706_789_000, -DAY - 1] },
  { col: 'c_int_arr', type: 'int[]', values: ["'{{1,2},{3,NULL}}'", "'{}'"], expected: [[[1, 2], [3, null]], []] },
  { col: 'c_text_arr', type: 'text[]', values: [`ARRAY['a b', '"q"', NULL, 'NULL', '', E'back\\\\slash', '{x,y}']`, "'[0:1]={z,y}'"], expected: [['a b', '"q"', null, 'NULL', '', 'back\\slash', '{x,y}'], ['z', 'y']] },
  { col: 'c_tstz_arr', type: 'timestamptz[]', values: [`ARRAY['2024-01-02 03:04:05+00', '1999-12-31 23:59:59.999999-08']::timestamptz[]`, "'{NULL}'"], expected: [['2024-01-02T03:04:05.000000Z', '2000-01-01T07:59:59.999999Z'], [null]] },
  { col: 'c_mood_arr', type: 'mood[]', values: ["'{happy,sad}'", "'{}'"], expected: [['happy', 'sad'], []] },
  { col: 'c_numeric_arr', type: 'numeric(6,2)[]', values: ["'{1.5,NaN}'", "'{{1},{2}}'"], expected: [['1.50', 'NaN'], [['1.00'], ['2.00']]] },
  { col: 'c_jsonb_arr', type: 'jsonb[]', values: [`ARRAY['{"a": 1}', '[1, "x,y"]']::jsonb[]`, "'{}'"], expected: [['{"a": 1}', '[1, "x,y"]'], []] },
  { col: 'c_bytea_arr', type: 'bytea[]', values: [`ARRAY['\\x00ff'::bytea, ''::bytea]`, "'{}'"], expected: [['AP8=', ''], []] },
  { col: 'c_box_arr', type: 'box[]', values: [`ARRAY['((1,1),(0,0))'::box, '((3,3),(2,2))'::box]`, "'{}'"], expected: [['(1,1),(0,0)', '(3,3),(2,2)'], []] },
  { col: 'c_int_list', type: 'int_list', values: ["'{1,2}'", "'{}'"], expected: [[1, 2], []] },
  { col: 'c_money', type: 'money', values: ['1234.56', '-1'], expected: ['$1,234.56', '-$1.00'] },
  { col: 'c_inet', type: 'inet', values: ["'192.168.1.5/24'", "'::1'"], expected: ['192.168.1.5/24', '::1'] },
  { col: 'c_cidr', type: 'cidr', values: ["'10.0.0.0/8'", "'2001:db8::/32'"], expected: ['10.0.0.0/8', '2001:db8::/32'] },
  { col: 'c_macaddr', type: 'macaddr', values: ["'08:00:2B:01:02:03'", "'00:00:00:00:00:00'"], expected: ['08:00:2b:01:02:03', '00:00:00:00:00:00'] },
  { col: 'c_range', type: 'int4range', values: ["'[1,10)'", "'empty'"], expected: ['[1,10)', 'empty'] },
  { col: 'c_tstzrange', type: 'tstzrange', values: ["'[2024-01-01 00:00+00,2024-01-02 00:00+00)'", "'(,)'"], expected: ['["2024-01-01 00:00:00+00","2024-01-02 00:00:00+00")', '(,)'], utcOnly: true },
  { col: 'c_point', type: 'point', values: ["'(1,2)'", "'(-1.5,0)'"], expected: ['(1,2)', '(-1.5,0)'] },
  { col: 'c_xml', type: 'xml', values: ["'<a>1</a>'", "'<b/>'"], expected: ['<a>1</a>', '<b/>'] },
  { col: 'c_tsvector', type: 'tsvector', values: ["'a fat cat'", "''"], expected: ["'a' 'cat' 'fat'", ''] },
  { col: 'c_bit1', type: 'bit(1)', values: ["B'1'", "B'0'"], expected: [true, false] },
  { col: 'c_varbit', type: 'varbit', values: ["B'0101'", "B''"], expected: ['0101', ''] },
];

const hstoreCase: Case = { col: 'c_hstore', type: 'hstore', values: [`'a=>1, "b c"=>NULL, "q\\"k"=>"v"'`, "''"], expected: ['{"a":"1","b c":null,"q\\"k":"v"}', '{}'] };

async function describeTable(registry: TypeRegistry, table: string): Promise<RelationInfo> {
  const { rows } = await client.query<{ attname: string; atttypid: string; atttypmod: number; attnotnull: boolean; oid: string }>(
    `select a.attname, a.atttypid::text, a.atttypmod, a.attnotnull, c.oid::text
       from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.oid = $1::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    [table],
  );
  await registry.load(rows.map((r) => Number(r.atttypid)));
  const columns: Column[] = rows.map((r) => ({ name: r.attname, type: registry.get(Number(r.atttypid)), typmod: r.atttypmod, nullable: !r.attnotnull, isKey: r.attname === 'id' }));
  return { oid: Number(rows[0]?.oid), schema: 'public', table, columns, keyColumns: ['id'], replicaIdentity: 'default' };
}

async function convertedRows(relation: RelationInfo, options: ConvertOptions, timezone: string): Promise<Row[]> {
  await client.query(`set timezone = '${timezone}'`);
  const names = relation.columns.map((c) => c.name);
  const res = await client.query({ text: `select ${names.map((n) => `"${n}"`).join(', ')} from ${relation.table} order by id`, rowMode: 'array', types: rawText });
  const convert = compileRowConverter(relation, options);
  return (res.rows as (string | null)[][]).map((r) => convert(r));
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.query(`create database ${DB}`);
  client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  await client.query('create extension citext');
  const { rows } = await client.query<{ n: string }>(`select count(*)::text as n from pg_available_extensions where name = 'hstore'`);
  hasHstore = rows[0]?.n === '1';
  if (hasHstore) await client.query('create extension hstore');
  await client.query(`set lc_monetary = 'C'`);
  await client.query(`create type mood as enum ('sad', 'meh', 'happy')`);
  await client.query('create domain amount as numeric(12,2)');
  await client.query('create domain positive_amount as amount check (value > 0)');
  await client.query('create domain int_list as int[]');
  const all = hasHstore ? [...cases, hstoreCase] : cases;
  await client.query(`create table types_rt (id int primary key, ${all.map((c) => `${c.col} ${c.type}`).join(', ')})`);
  for (const [i, _] of [0, 1].entries()) {
    await client.query(`insert into types_rt (id, ${all.map((c) => c.col).join(', ')}) values (${i + 1}, ${all.map((c) => c.values[i]).join(', ')})`);
  }
  await client.query('insert into types_rt (id) values (3)');
});

afterAll(async () => {
  await client?.end();
  await admin?.query(`drop database if exists ${DB} with (force)`);
  await admin?.end();
});

describe('types round-trip against live Postgres text output', () => {
  it('built-in type table matches pg_type', async () => {
    const oids = [...BUILTIN_TYPES.keys()];
    const { rows } = await client.query<{ oid: string; typname: string; typcategory: string; typdelim: string; typelem: string }>(
      `select oid::text, typname, typcategory, typdelim, (case when typcategory = 'A' then typelem else 0 end)::text as typelem from pg_type where oid = any($1::oid[])`,
      [oids],
    );
    expect(rows).toHaveLength(oids.length);
    for (const r of rows) {
      const t = BUILTIN_TYPES.get(Number(r.oid));
      expect({ name: t?.name, category: t?.category, delimiter: t?.delimiter, elem: t?.element?.oid ?? 0 }, r.typname).toEqual({
        name: r.typname,
        category: r.typcategory,
        delimiter: r.typdelim,
        elem: Number(r.typelem),
      });
    }
  });

  it('TypeRegistry resolves enums, domains (over domains, over arrays), arrays of enums, extension types', async () => {
    const registry = new TypeRegistry(client);
    const rel = await describeTable(registry, 'types_rt');
    const col = (name: string): Column => rel.columns.find((c) => c.name === name) as Column;
    expect(col('c_mood').type).toMatchObject({ kind: 'enum', name: 'mood', enumLabels: ['sad', 'meh', 'happy'] });
    expect(col('c_mood_arr').type.element).toMatchObject({ kind: 'enum', name: 'mood' });
    expect(col('c_amount').type).toMatchObject({ kind: 'numeric', name: 'amount', typmod: ((12 << 16) | 2) + 4, base: { name: 'numeric' } });
    expect(col('c_amount2').type).toMatchObject({ kind: 'numeric', name: 'positive_amount', typmod: ((12 << 16) | 2) + 4, base: { name: 'numeric' } });
    expect(registry.resolve(col('c_amount2').type.oid).name).toBe('numeric');
    expect(col('c_int_list').type).toMatchObject({ kind: 'array', element: { name: 'int4' } });
    expect(col('c_citext').type).toMatchObject({ kind: 'text', name: 'citext' });
    if (hasHstore) expect(col('c_hstore').type).toMatchObject({ kind: 'hstore' });
    await expect(registry.load([4_000_000_000])).rejects.toThrow(/not found in pg_type/);
    expect(() => new TypeRegistry().get(999_999)).toThrow(/not loaded/);
  });

  for (const timezone of ['UTC', 'Asia/Kolkata', 'America/St_Johns']) {
    it(`converts every column exactly (session TimeZone ${timezone})`, async () => {
      const registry = new TypeRegistry(client);
      const rel = await describeTable(registry, 'types_rt');
      const rows = await convertedRows(rel, DEFAULT_CONVERT_OPTIONS, timezone);
      const all = hasHstore ? [...cases, hstoreCase] : cases;
      for (const [i, row] of rows.slice(0, 2).entries()) {
        for (const c of all) if (timezone === 'UTC' || !c.utcOnly) expect(row[c.col], `${c.col} (${c.type}) row ${i + 1}`).toEqual(c.expected[i]);
      }
      for (const c of all) expect(rows[2]?.[c.col], `${c.col} NULL`).toBeNull();
    });
  }

  it('precise / double / string modes on real numeric text', async () => {
    const registry = new TypeRegistry(client);
    const rel = await describeTable(registry, 'types_rt');
    const precise = await convertedRows(rel, { ...DEFAULT_CONVERT_OPTIONS, 'decimal.handling.mode': 'precise' }, 'UTC');
    expect(precise[0]?.c_amount).toBe(Buffer.from([0x04, 0xe2]).toString('base64')); // 1250
    expect(precise[1]?.c_amount).toBe(Buffer.from([0xff]).toString('base64')); // -1
    expect(precise[0]?.c_numeric).toEqual({ scale: 30, value: Buffer.from([1]).toString('base64') });
    expect(precise[1]?.c_numeric).toBeNull(); // NaN has no precise form
    const dbl = await convertedRows(rel, { ...DEFAULT_CONVERT_OPTIONS, 'decimal.handling.mode': 'double', 'interval.handling.mode': 'string', 'time.precision.mode': 'isostring' }, 'UTC');
    expect(dbl[0]?.c_numeric).toBe(1e-30);
    expect(dbl[0]?.c_interval).toBe('P1Y2M-3DT4H5M6.789S');
    expect(dbl[0]?.c_ts).toBe('2024-01-02T03:04:05.123456Z');
    expect(dbl[1]?.c_date).toBe('-0043-03-15');
    if (hasHstore) {
      const map = await convertedRows(rel, { ...DEFAULT_CONVERT_OPTIONS, 'hstore.handling.mode': 'map' }, 'UTC');
      expect(map[0]?.c_hstore).toEqual({ a: '1', 'b c': null, 'q"k': 'v' });
    }
  });
});
