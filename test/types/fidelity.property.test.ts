/**
 * Type fidelity, property-based (issue 14): random rows over the whole type matrix (random NULLs)
 * are written before the daemon starts (snapshot path), then random edits while it runs (streaming
 * path): inserts, updates of random column subsets that leave the out-of-line TOASTed column
 * unchanged, primary-key changes, deletes. The real daemon (`cdc-fanout run`) fans out to
 * Elasticsearch, ClickHouse and Redis write-through; then every sink is compared with Postgres.
 *
 * The readers share no code with the sinks' encoders: Postgres rows are read as server text and
 * turned into the documented event values by the events layer (itself pinned by
 * test/events/types-roundtrip.test.ts); Redis must hold exactly that JSON text, Elasticsearch's
 * `_source` the same JSON; ClickHouse is read as TSV and decoded here (own TSV / array-literal
 * parsing; dates and timestamps formatted by Postgres' to_char), `<col>__raw` taking precedence.
 * ClickHouse is checked on every target of test/support/clickhouse-targets.ts — the stack's 18.16
 * and a current engine (chdb 26.x) — one ClickHouse sink per target in the same daemon.
 *
 * Seeds are printed; replay with CDC_TYPES_SEED=<seed>. Size: CDC_TYPES_ROWS (default 25 snapshot
 * rows) and CDC_TYPES_OPS (default 60 streamed edits); `npm run verify:types` runs a long round.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { Client as EsClient } from '@elastic/elasticsearch';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import type { JsonValue, Row } from '../../src/events/change.js';
import { DEFAULT_CONVERT_OPTIONS } from '../../src/events/config.js';
import { compileRowConverter } from '../../src/events/row.js';
import { TypeRegistry } from '../../src/events/type-registry.js';
import type { Column, RelationInfo } from '../../src/events/types.js';
import { startDaemon, type DaemonProcess } from '../daemon/helpers.js';
import { clickhouseTargets, stopTargets, type ClickHouseTarget } from '../support/clickhouse-targets.js';
import { insertSql, matrixFor, matrixTableSql, MATRIX_SETUP, rowArb, type MatrixColumn } from '../support/type-matrix.js';
import { cleanup } from '../source/helpers.js';
import { redisDbUrl } from '../support/redis-config.js';

const ep = endpoints();
const run = Date.now().toString(36);
const name = `tfp_${run}`;
const dbName = name;
const seed = Number(process.env.CDC_TYPES_SEED ?? Date.now() % 2 ** 31);
const ROWS = Number(process.env.CDC_TYPES_ROWS ?? 25);
const OPS = Number(process.env.CDC_TYPES_OPS ?? 60);
const targets = await clickhouseTargets();
/** One ClickHouse sink per target: its database and a client for the reader. */
const warehouses: { target: ClickHouseTarget; db: string; ch: ClickHouseClient }[] = targets.map((target) => ({
  target,
  db: `cdc_tfp_${run}_${target.tag}`,
  ch: createClient({ url: target.url, log: { level: 127 }, clickhouse_settings: target.readSettings }),
}));
const esIndex = `${name}.public.${name}`;
const redisPrefix = `${name}:row:`;
const REDIS_DB = 12;
const pgUrl = new URL(ep.postgresUrl);
const dbUrl = (() => {
  const u = new URL(ep.postgresUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

let admin: pg.Client;
let db: pg.Client;
let cols: MatrixColumn[];
let dir: string;
let daemon: DaemonProcess | undefined;
const es = new EsClient({ node: ep.elasticsearchUrl });
const redis = new Redis(redisDbUrl(ep.redisUrl, REDIS_DB));

const rawText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: ep.postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  db = new pg.Client({ connectionString: dbUrl, options: '-c TimeZone=UTC' });
  await db.connect();
  const available = new Set((await db.query<{ name: string }>(`SELECT name FROM pg_available_extensions WHERE name IN ('citext', 'hstore')`)).rows.map((r) => r.name));
  for (const e of available) await db.query(`CREATE EXTENSION ${e}`);
  for (const s of MATRIX_SETUP) await db.query(s);
  cols = matrixFor(available);
  for (const s of matrixTableSql(name, cols)) await db.query(s);
  dir = mkdtempSync(join(tmpdir(), 'cdc-types-'));
  mkdirSync(join(dir, 'connectors'));
  writeFileSync(
    join(dir, 'connectors', `${name}.yaml`),
    `name: ${name}
source:
  topic.prefix: ${name}
  database.hostname: ${pgUrl.hostname}
  database.port: ${pgUrl.port || 5432}
  database.user: ${decodeURIComponent(pgUrl.username || 'postgres')}
${pgUrl.password ? `  database.password: ${decodeURIComponent(pgUrl.password)}\n` : ''}  database.dbname: ${dbName}
  slot.name: ${name}
  publication.name: ${name}_pub
  publication.autocreate.mode: filtered
  table.include.list: public.${name}
  max.batch.wait.ms: 20
kafka:
  bootstrap.servers: ${ep.kafkaBrokers.join(',')}
sinks:
  - name: search
    type: elasticsearch
    url: ${ep.elasticsearchUrl}
    tables: [public.${name}]
    batch.max.wait.ms: 50
${warehouses.map((w) => `  - name: warehouse-${w.target.tag}
    type: clickhouse
    url: ${w.target.url}
    database: ${w.db}
    tables: [public.${name}]
    batch.max.wait.ms: 50
`).join('')}  - name: cache
    type: redis
    url: ${ep.redisUrl.replace(/\/\d*$/, '')}/${REDIS_DB}
    batch.max.wait.ms: 50
    tables: [public.${name}]
    table.overrides:
      public.${name}: { keys: ["${redisPrefix}{id}"], mode: write-through }
`,
  );
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await db?.end();
  await cleanup({ slot: name, slotWaitTries: 40 });
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
  await admin.end();
  await es.indices.delete({ index: esIndex }, { ignore: [404] }).catch(() => undefined);
  await es.close();
  for (const w of warehouses) {
    await w.ch.command({ query: `DROP DATABASE IF EXISTS ${w.db}` }).catch(() => undefined);
    await w.ch.close();
  }
  await stopTargets(targets);
  const keys = await redis.keys(`*${name}*`);
  if (keys.length) await redis.unlink(...keys);
  await redis.quit();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---- edits --------------------------------------------------------------------------------------

type Edit =
  | { kind: 'insert'; row: (string | null)[] }
  | { kind: 'update'; pick: number; cols: number[]; row: (string | null)[] }
  | { kind: 'move'; pick: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'big'; pick: number; row: (string | null)[] };

function editArb(all: readonly MatrixColumn[]): fc.Arbitrary<Edit> {
  const row = rowArb(all);
  const pick = fc.nat();
  const notBig = all.map((c, i) => (c.col === 'c_big' ? -1 : i)).filter((i) => i >= 0);
  return fc.oneof(
    { weight: 3, arbitrary: row.map((r) => ({ kind: 'insert' as const, row: r })) },
    { weight: 4, arbitrary: fc.record({ pick, cols: fc.subarray(notBig, { minLength: 1, maxLength: 4 }), row }).map((e) => ({ kind: 'update' as const, ...e })) },
    { weight: 1, arbitrary: pick.map((p) => ({ kind: 'move' as const, pick: p })) },
    { weight: 1, arbitrary: pick.map((p) => ({ kind: 'delete' as const, pick: p })) },
    { weight: 1, arbitrary: fc.record({ pick, row }).map((e) => ({ kind: 'big' as const, ...e })) },
  );
}

async function applyEdits(edits: readonly Edit[], firstId: number): Promise<void> {
  const insert = insertSql(name, cols);
  let next = firstId;
  const ids = async (): Promise<number[]> => (await db.query<{ id: number }>(`SELECT id FROM ${name} ORDER BY id`)).rows.map((r) => r.id);
  for (let i = 0; i < edits.length; i += 3) {
    await db.query('BEGIN');
    for (const e of edits.slice(i, i + 3)) {
      const live = await ids();
      const target = live.length > 0 && 'pick' in e ? live[e.pick % live.length] : undefined;
      if (e.kind === 'insert') await db.query(insert, [next++, ...e.row]);
      else if (target === undefined) continue;
      else if (e.kind === 'update') {
        const set = e.cols.map((ci, j) => `${cols[ci]?.col} = $${j + 2}::${cols[ci]?.sql}`).join(', ');
        await db.query(`UPDATE ${name} SET ${set} WHERE id = $1`, [target, ...e.cols.map((ci) => e.row[ci] ?? null)]);
      } else if (e.kind === 'move') {
        // c_big is rewritten with the move: a key change of a row whose TOASTed value is unchanged
        // needs REPLICA IDENTITY FULL (README "Guarantees"; the new key's event has no old value)
        await db.query(`UPDATE ${name} SET id = $2, c_big = c_big || '' WHERE id = $1`, [target, next++]);
      }
      else if (e.kind === 'delete') await db.query(`DELETE FROM ${name} WHERE id = $1`, [target]);
      else {
        const bi = cols.findIndex((c) => c.col === 'c_big');
        await db.query(`UPDATE ${name} SET c_big = $2 WHERE id = $1`, [target, e.row[bi] ?? null]);
      }
    }
    await db.query('COMMIT');
  }
}

// ---- expected values (Postgres) -------------------------------------------------------------------

interface Expected {
  readonly rows: Map<number, Row>;
  /** Postgres-formatted ClickHouse text of date/timestamp columns, per id. */
  readonly temporal: Map<number, Record<string, string | null>>;
}

async function relation(): Promise<RelationInfo> {
  const { rows } = await db.query<{ attname: string; atttypid: string; atttypmod: number; attnotnull: boolean; oid: string }>(
    `SELECT a.attname, a.atttypid::text, a.atttypmod, a.attnotnull, c.oid::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.oid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [name],
  );
  const registry = new TypeRegistry(db);
  await registry.load(rows.map((r) => Number(r.atttypid)));
  const columns: Column[] = rows.map((r) => ({ name: r.attname, type: registry.get(Number(r.atttypid)), typmod: r.atttypmod, nullable: !r.attnotnull, isKey: r.attname === 'id' }));
  return { oid: Number(rows[0]?.oid), schema: 'public', table: name, columns, keyColumns: ['id'], replicaIdentity: 'default' };
}

const TEMPORAL: Record<string, string> = {
  date: `CASE WHEN isfinite(%) THEN to_char(%, 'YYYY-MM-DD') ELSE %::text END`,
  timestamp: `CASE WHEN isfinite(%) THEN to_char(%, 'YYYY-MM-DD HH24:MI:SS.US') ELSE %::text END`,
  'timestamp(3)': `CASE WHEN isfinite(%) THEN to_char(%, 'YYYY-MM-DD HH24:MI:SS.US') ELSE %::text END`,
  timestamptz: `CASE WHEN isfinite(%) THEN to_char(% AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') ELSE %::text END`,
};

async function expected(rel: RelationInfo): Promise<Expected> {
  const convert = compileRowConverter(rel, DEFAULT_CONVERT_OPTIONS);
  const names = rel.columns.map((c) => `"${c.name}"`).join(', ');
  const res = await db.query({ text: `SELECT ${names} FROM ${name} ORDER BY id`, rowMode: 'array', types: rawText });
  const rows = new Map<number, Row>();
  for (const r of res.rows as (string | null)[][]) {
    const row = convert(r);
    rows.set(Number(row.id), row);
  }
  const temporalCols = cols.filter((c) => TEMPORAL[c.sql]);
  const t = await db.query<Record<string, string | null>>(`SELECT id::text AS id, ${temporalCols.map((c) => `${TEMPORAL[c.sql]?.replaceAll('%', c.col)} AS ${c.col}`).join(', ')} FROM ${name}`);
  const temporal = new Map(t.rows.map((r) => [Number(r.id), r]));
  return { rows, temporal };
}

// ---- readers (independent of the sinks' code) ------------------------------------------------------

/** One TabSeparated field as ClickHouse escapes it → its text (null for \N). */
function tsvField(s: string): string | null {
  if (s === '\\N') return null;
  return s.replace(/\\(.)/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f', a: '\x07', v: '\v' })[c] ?? c);
}

/**
 * A ClickHouse array literal (`[1,NULL,'a\'b']`) → JSON values (numbers stay text). In TSV output an
 * array field is not TSV-escaped again: its quoted elements carry the escapes.
 */
function chArray(s: string): (string | null)[] {
  const out: (string | null)[] = [];
  let i = 1;
  if (s === '[]') return out;
  while (i < s.length) {
    if (s[i] === "'") {
      let v = '';
      i++;
      while (s[i] !== "'") {
        if (i >= s.length) throw new Error(`unterminated string in array literal ${s.slice(0, 200)}`);
        if (s[i] === '\\') {
          const c = s[i + 1] ?? '';
          v += ({ t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f' } as Record<string, string>)[c] ?? c;
          i += 2;
        } else v += s[i++];
      }
      out.push(v);
      i++;
    } else {
      const end = s.slice(i).search(/[,\]]/);
      const tok = s.slice(i, i + end);
      out.push(tok === 'NULL' ? null : tok);
      i += end;
    }
    i++; // ',' or ']'
  }
  return out;
}

const sameNumber = (a: number, b: number): boolean => (Number.isNaN(a) && Number.isNaN(b)) || a === b;
const chFloat = (s: string): number => (s === 'nan' || s === '-nan' ? NaN : s === 'inf' || s === '+inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));
const eventFloat = (v: JsonValue): number => (v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : Number(v));

/** Why a ClickHouse value differs from the expected event value (undefined when it matches). */
function chDiff(type: string, text: string | null, raw: string | null | undefined, ev: JsonValue | undefined, temporal: string | null | undefined): string | undefined {
  const base = type.replace(/^Nullable\((.*)\)$/, '$1');
  const show = (): string => `${type} ${JSON.stringify(text)} raw ${JSON.stringify(raw)} vs event ${JSON.stringify(ev)}${temporal !== undefined ? ` / pg ${JSON.stringify(temporal)}` : ''}`;
  if (base.startsWith('Array(')) {
    const value: JsonValue = raw != null ? (JSON.parse(raw) as JsonValue) : chArray(text ?? '[]').map((x) => (x === null ? null : base.includes('Int') ? Number(x) : x));
    return JSON.stringify(value) === JSON.stringify(ev ?? null) ? undefined : show();
  }
  if (temporal !== undefined) return (raw ?? text) === temporal ? undefined : show();
  const actual = raw ?? text;
  if (ev === null || ev === undefined) return actual === null ? undefined : show();
  if (actual === null) return show();
  if (/^Float/.test(base) && raw == null) {
    const a = chFloat(actual);
    const e = eventFloat(ev);
    return sameNumber(base === 'Float32' ? Math.fround(a) : a, base === 'Float32' ? Math.fround(e) : e) ? undefined : show();
  }
  if (base === 'UInt8') return actual === (ev === true ? '1' : ev === false ? '0' : String(ev)) ? undefined : show();
  const want = typeof ev === 'string' ? ev : JSON.stringify(ev);
  return actual === want ? undefined : show();
}

async function compare(exp: Expected): Promise<string[]> {
  const problems: string[] = [];
  const ids = [...exp.rows.keys()];
  // Redis: exactly the event row's JSON text, no extra keys
  const stored = ids.length ? await redis.mget(...ids.map((id) => `${redisPrefix}${id}`)) : [];
  ids.forEach((id, i) => {
    const want = JSON.stringify(exp.rows.get(id));
    if (stored[i] !== want) problems.push(`redis ${id}: ${stored[i]?.slice(0, 300)} != ${want.slice(0, 300)}`);
  });
  const redisKeys = await redis.keys(`${redisPrefix}*`);
  if (redisKeys.length !== ids.length) problems.push(`redis: ${redisKeys.length} keys, Postgres has ${ids.length} rows`);
  // Elasticsearch: _source is the event row
  const exists = await es.indices.exists({ index: esIndex });
  if (!exists) problems.push('elasticsearch: index missing');
  else {
    await es.indices.refresh({ index: esIndex });
    const res = await es.search<Row>({ index: esIndex, size: 10_000, query: { match_all: {} } });
    const docs = new Map(res.hits.hits.map((h) => [Number(h._id), h._source]));
    for (const id of ids) {
      const want = JSON.stringify(exp.rows.get(id));
      const got = JSON.stringify(docs.get(id));
      if (got !== want) problems.push(`elasticsearch ${id}: ${got?.slice(0, 300)} != ${want.slice(0, 300)}`);
    }
    if (docs.size !== ids.length) problems.push(`elasticsearch: ${docs.size} docs, Postgres has ${ids.length} rows`);
  }
  // ClickHouse (every target): FINAL state, typed column or its __raw companion
  for (const w of warehouses) problems.push(...(await compareClickHouse(w, exp, ids)));
  return problems;
}

async function compareClickHouse({ target, db, ch }: (typeof warehouses)[number], exp: Expected, ids: number[]): Promise<string[]> {
  const problems: string[] = [];
  const label = `clickhouse ${target.name}`;
  const table = `${db}.public_${name}`;
  const present = (await (await ch.query({ query: `EXISTS TABLE ${table}`, format: 'TabSeparated' })).text()).trim() === '1';
  if (!present) problems.push('clickhouse: table missing');
  else {
    const types = new Map(
      (await (await ch.query({ query: `SELECT name, type FROM system.columns WHERE database = '${db}' AND table = 'public_${name}'`, format: 'TabSeparated' })).text())
        .split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]),
    );
    const text = await (await ch.query({ query: `SELECT * FROM ${table} FINAL WHERE _deleted = 0 ORDER BY id`, format: 'TabSeparatedWithNames' })).text();
    const lines = text.split('\n').filter((l) => l !== '');
    const header = (lines.shift() ?? '').split('\t');
    const chRows = new Map(lines.map((l) => {
      const f = l.split('\t');
      return [Number(f[header.indexOf('id')]), Object.fromEntries(header.map((h, i) => [h, f[i] ?? '']))] as const;
    }));
    for (const id of ids) {
      const got = chRows.get(id);
      if (!got) {
        problems.push(`clickhouse ${id}: missing`);
        continue;
      }
      const ev = exp.rows.get(id) ?? {};
      for (const c of cols) {
        const type = types.get(c.col) ?? '?';
        const rawField = got[`${c.col}__raw`];
        const isTemporal = TEMPORAL[c.sql] !== undefined;
        const field = got[c.col] ?? '\\N';
        const why = chDiff(type, type.startsWith('Array(') ? field : tsvField(field), rawField === undefined ? undefined : tsvField(rawField), ev[c.col], isTemporal ? (exp.temporal.get(id)?.[c.col] ?? null) : undefined);
        if (why) problems.push(`clickhouse ${id}.${c.col}: ${why}`);
      }
    }
    if (chRows.size !== ids.length) problems.push(`clickhouse: ${chRows.size} live rows, Postgres has ${ids.length} rows`);
  }
  return problems.map((p) => p.replace(/^clickhouse/, label));
}

describe('type fidelity across all sinks (property test)', () => {
  it(`random rows and edits over the whole type matrix (seed ${seed}; replay: CDC_TYPES_SEED=${seed})`, { timeout: 420_000 }, async () => {
    console.log(`type fidelity property test: seed ${seed}, ${ROWS} snapshot rows, ${OPS} streamed edits (replay: CDC_TYPES_SEED=${seed} CDC_TYPES_ROWS=${ROWS} CDC_TYPES_OPS=${OPS})`);
    const [snapshotRows, edits] = fc.sample(fc.tuple(fc.array(rowArb(cols), { minLength: ROWS, maxLength: ROWS }), fc.array(editArb(cols), { minLength: OPS, maxLength: OPS })), { seed, numRuns: 1 })[0] ?? [[], []];
    const insert = insertSql(name, cols);
    for (const [i, r] of snapshotRows.entries()) await db.query(insert, [i + 1, ...r]);

    daemon = await startDaemon(join(dir, 'connectors'), { CDC_LOG_LEVEL: 'info' });
    await applyEdits(edits, 100_000);
    // at least one unchanged-TOAST update in every run, whatever the seed: c_big stored out of line
    await db.query(`INSERT INTO ${name} (id, c_big, c_float8) VALUES (999999, repeat('toast ', 2000), 0.30000000000000004)`);
    await db.query(`UPDATE ${name} SET c_int4 = 7 WHERE id = 999999`);
    expect((await db.query<{ n: number }>(`SELECT pg_column_size(c_big) AS n FROM ${name} WHERE id = 999999`)).rows[0]?.n).toBeGreaterThan(8000);
    const rel = await relation();
    const exp = await expected(rel);
    expect(exp.rows.size).toBeGreaterThan(0);

    let problems: string[] = [];
    const deadline = Date.now() + 240_000;
    do {
      await new Promise((r) => setTimeout(r, 2000));
      problems = await compare(exp).catch((e: unknown) => [`reader failed: ${String(e)}`]);
    } while (problems.length > 0 && Date.now() < deadline && daemon.proc.exitCode === null);
    expect(daemon.output()).not.toMatch(/"level":(50|60)/);
    expect(problems.slice(0, 15), `seed ${seed}: ${problems.length} differences between Postgres and the sinks`).toEqual([]);
  });
});
