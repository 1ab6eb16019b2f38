/**
 * ClickHouse sink against real ClickHouse — the stack's server (18.16) and a current engine (chdb
 * 26.x behind test/support/chdb-front.ts; see clickhouse-targets.ts), every test once per target —
 * and the real Postgres (source catalog): type matrix, insert/update/delete/PK update/truncate modes,
 * replay, schema evolution, poison rows, changelog mode, user DDL, server down. One database and one
 * set of Postgres tables per target, dropped at the end.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient } from '@clickhouse/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { UNAVAILABLE_VALUE, type Row } from '../../src/events/change.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ClickHouseSink, clickhouseSpec } from '../../src/sinks/clickhouse/index.js';
import { SinkError, type SinkRecord } from '../../src/sinks/sink.js';
import { clickhouseTargets, stopTargets, type ClickHouseTarget } from '../support/clickhouse-targets.js';
import { nextOffset, pos, sinkBatch, sinkRecord, type ChangeSpec } from '../support/records.js';

const targets = await clickhouseTargets();
afterAll(() => stopTargets(targets));

for (const server of targets) describe(`clickhouse ${server.name}`, () => suite(server));

function suite(server: ClickHouseTarget): void {
  const run = `${randomUUID().slice(0, 8)}_${server.tag}`;
  const database = `cdc_ch_${run}`;
  const url = server.url;
  const admin = createClient({ url, log: { level: 127 }, clickhouse_settings: server.readSettings });
  const pgClient = new pg.Client({ connectionString: endpoints().postgresUrl });
  const pgTable = `ch_types_${run}`;
  let dt64 = false;

  function makeSink(extra: Record<string, unknown> = {}, group = 'test'): ClickHouseSink {
    return new ClickHouseSink({ config: clickhouseSpec.parse({ url: url, database, 'source.url': endpoints().postgresUrl, ...extra }), group, logger: silentLogger });
  }

  async function tsv(query: string): Promise<Record<string, string>[]> {
    const rs = await admin.query({ query, format: 'TabSeparatedWithNames' });
    const lines = (await rs.text()).split('\n').filter((l) => l !== '');
    const names = (lines.shift() ?? '').split('\t');
    return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [names[i] ?? `c${i}`, v])));
  }

  const rec = (spec: Omit<ChangeSpec, 'table'> & { table?: string }): SinkRecord => sinkRecord({ table: pgTable, ...spec });

  async function apply(sink: ClickHouseSink, records: SinkRecord[], first = 0) {
    const batch = sinkBatch(records, { firstOffset: first });
    const res = await sink.write(batch);
    await sink.commit([{ topic: batch.topic, partition: batch.partition, offset: nextOffset(batch) }]);
    return res;
  }

  beforeAll(async () => {
    await pgClient.connect();
    await pgClient.query(`DROP TYPE IF EXISTS mood_${run}; CREATE TYPE mood_${run} AS ENUM ('sad', 'happy')`);
    await pgClient.query(`CREATE TABLE ${pgTable} (
      id bigint PRIMARY KEY, i2 smallint, i4 integer NOT NULL, i8 bigint, n numeric(12,3), nu numeric, f4 real, f8 double precision,
      b boolean, t text, vc varchar(20), u uuid, e mood_${run}, j jsonb, d date, ts timestamp, tstz timestamptz, by bytea,
      ai integer[], at text[], tm time, iv interval)`);
    const v = await tsv('SELECT version() AS v');
    const [major = 0, minor = 0] = (v[0]?.v ?? '0.0').split('.').map(Number);
    dt64 = major > 20 || (major === 20 && minor >= 1);
  });

  afterAll(async () => {
    await pgClient.query(`DROP TABLE IF EXISTS ${pgTable}; DROP TYPE IF EXISTS mood_${run}`).catch(() => undefined);
    await pgClient.end();
    await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await admin.close();
  });

  const fullRow: Row = {
    id: 1, i2: -32768, i4: 2147483647, i8: '9223372036854775807', n: '123456789.123', nu: '3.14159265358979323846264338327950288419716939937510',
    f4: 1.5, f8: 'NaN', b: true, t: "tab\there\nnew 'quote' \\ back", vc: 'x', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', e: 'happy', j: '{"a": [1, 2]}',
    d: 19000, ts: 1700000000123456, tstz: '2023-11-14T22:13:20.123456Z', by: '3q2+7w==', ai: [1, null, 3], at: ['a', "b'c", null], tm: 3600000000, iv: 86400000000,
  };

  describe('clickhouse sink: tables, types, operations', () => {
    const sink = makeSink();
    const target = `${database}.public_${pgTable}`;
    beforeAll(() => sink.open());
    afterAll(() => sink.close());

    it('creates the table from the Postgres catalog with the documented type mapping', async () => {
      const r = await apply(sink, [rec({ op: 'c', after: fullRow, position: pos(100) })]);
      expect(r.rejected).toEqual([]);
      const cols = Object.fromEntries((await tsv(`SELECT name, type FROM system.columns WHERE database = '${database}' AND table = 'public_${pgTable}'`)).map((c) => [c.name, c.type]));
      const ts = dt64 ? "Nullable(DateTime64(6, \\'UTC\\'))" : 'Nullable(String)';
      expect(cols).toEqual({
        id: 'Int64', i2: 'Nullable(Int16)', i4: 'Int32', i8: 'Nullable(Int64)', n: 'Nullable(Decimal(12, 3))', nu: 'Nullable(String)', f4: 'Nullable(Float32)', f8: 'Nullable(Float64)',
        b: 'Nullable(UInt8)', t: 'Nullable(String)', vc: 'Nullable(String)', u: 'Nullable(String)', e: 'Nullable(String)', j: 'Nullable(String)', d: 'Nullable(Date)', ts, tstz: ts,
        by: 'Nullable(String)', ai: 'Array(Nullable(Int32))', at: 'Array(Nullable(String))', tm: 'Nullable(String)', iv: 'Nullable(String)',
        // companions of the range-limited columns (exact text of what the typed column cannot hold)
        n__raw: 'Nullable(String)', f4__raw: 'Nullable(String)', f8__raw: 'Nullable(String)', d__raw: 'Nullable(String)', ai__raw: 'Nullable(String)', at__raw: 'Nullable(String)',
        ...(dt64 ? { ts__raw: 'Nullable(String)', tstz__raw: 'Nullable(String)' } : {}),
        _deleted: 'UInt8', _version: 'UInt64', _seq: 'UInt32', _op: 'String', _lsn: 'UInt64', _synced_at: "DateTime(\\'UTC\\')",
      });
      const engine = await tsv(`SELECT engine_full FROM system.tables WHERE database = '${database}' AND name = 'public_${pgTable}'`);
      // the modern path (23.2+): deletes are the engine's is_deleted column; 22.2+: insert dedup window
      const modern = !server.version.startsWith('18.');
      expect(engine[0]?.engine_full).toMatch(modern ? /^ReplacingMergeTree\(_version, _deleted\) ORDER BY \(?id\)? SETTINGS .*non_replicated_deduplication_window = \d+/ : /^ReplacingMergeTree\(_version\) ORDER BY id/);
    });

    it('stores every type exactly (values as Debezium JSON)', async () => {
      const [row] = await tsv(`SELECT * FROM ${target} FINAL WHERE id = 1`);
      expect(row).toMatchObject({
        id: '1', i2: '-32768', i4: '2147483647', i8: '9223372036854775807', n: '123456789.123', nu: '3.14159265358979323846264338327950288419716939937510',
        f4: '1.5', f8: 'nan', b: '1', t: "tab\\there\\nnew \\'quote\\' \\\\ back", vc: 'x', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', e: 'happy', j: '{"a": [1, 2]}',
        d: '2022-01-08', ts: '2023-11-14 22:13:20.123456', tstz: '2023-11-14 22:13:20.123456', by: '3q2+7w==', ai: '[1,NULL,3]', at: "['a','b\\'c',NULL]",
        tm: '3600000000', iv: '86400000000', _deleted: '0', _version: '100', _op: 'c',
      });
    });

    it('applies update, delete, PK update (as delete + insert) and keeps TOAST values across a key move', async () => {
      const base = { ...fullRow, ai: [], at: [] };
      const r = await apply(sink, [
        rec({ op: 'c', after: { ...base, id: 2, t: 'long toast text' }, position: pos(200, 0) }),
        rec({ op: 'u', before: null, after: { ...base, id: 2, t: UNAVAILABLE_VALUE, vc: 'updated' }, position: pos(200, 1) }),
        rec({ op: 'c', after: { ...base, id: 3 }, position: pos(210, 0) }),
        rec({ op: 'd', before: { id: 3 }, after: null, position: pos(220, 0) }),
      ], 1);
      expect(r.rejected).toEqual([]);
      const r2 = await apply(sink, [rec({ op: 'u', before: { id: 2 }, after: { ...base, id: 20, t: UNAVAILABLE_VALUE, vc: 'moved' }, position: pos(230, 0) })], 5);
      expect(r2.rejected).toEqual([]);
      const live = await tsv(`SELECT id, t, vc FROM ${target} FINAL WHERE _deleted = 0 ORDER BY id`);
      expect(live).toEqual([{ id: '1', t: "tab\\there\\nnew \\'quote\\' \\\\ back", vc: 'x' }, { id: '20', t: 'long toast text', vc: 'moved' }]);
      const view = await tsv(`SELECT id FROM ${target}_current ORDER BY id`);
      expect(view.map((x) => x.id)).toEqual(['1', '20']);
      // deleted rows, read without FINAL: on 23.2+ (is_deleted engine column) FINAL hides them
      const deleted = await tsv(`SELECT id, v AS _version FROM (SELECT id, max(_version) AS v, argMax(_deleted, _version) AS d FROM ${target} GROUP BY id) WHERE d = 1 ORDER BY id`);
      expect(deleted).toEqual([{ id: '2', _version: '230' }, { id: '3', _version: '220' }]);
    });

    it('replays a batch to the same FINAL state', async () => {
      const before = await tsv(`SELECT * EXCEPT _synced_at FROM ${target} FINAL ORDER BY id`).catch(() => tsv(`SELECT id, t, vc, _deleted, _version FROM ${target} FINAL ORDER BY id`));
      const base = { ...fullRow, ai: [], at: [] };
      const records = [
        rec({ op: 'c', after: { ...base, id: 2, t: 'long toast text' }, position: pos(200, 0) }),
        rec({ op: 'u', before: null, after: { ...base, id: 2, t: UNAVAILABLE_VALUE, vc: 'updated' }, position: pos(200, 1) }),
        rec({ op: 'c', after: { ...base, id: 3 }, position: pos(210, 0) }),
        rec({ op: 'd', before: { id: 3 }, after: null, position: pos(220, 0) }),
      ];
      const r = await apply(sink, records, 1);
      expect(r.rejected).toEqual([]);
      // rows 2 and 3 are stored deleted at 230 / 220: the three older changes are skipped, the delete at 220 (equal version) re-applies
      expect(r.staleSkipped).toBe(3);
      const after = await tsv(`SELECT * EXCEPT _synced_at FROM ${target} FINAL ORDER BY id`).catch(() => tsv(`SELECT id, t, vc, _deleted, _version FROM ${target} FINAL ORDER BY id`));
      expect(after).toEqual(before);
    });

    it('adds a column that appears mid-stream (ALTER TABLE ADD COLUMN, type from the catalog)', async () => {
      await pgClient.query(`ALTER TABLE ${pgTable} ADD COLUMN extra numeric(8,2), ADD COLUMN note text`);
      const r = await apply(sink, [rec({ op: 'c', after: { ...fullRow, id: 4, ai: [], at: [], extra: '12.50', note: 'new' }, position: pos(300) })], 6);
      expect(r.rejected).toEqual([]);
      const cols = Object.fromEntries((await tsv(`SELECT name, type FROM system.columns WHERE database = '${database}' AND table = 'public_${pgTable}'`)).map((c) => [c.name, c.type]));
      expect(cols.extra).toBe('Nullable(Decimal(8, 2))');
      expect(cols.note).toBe('Nullable(String)');
      expect(await tsv(`SELECT id, extra, note FROM ${target} FINAL WHERE id IN (1, 4) ORDER BY id`)).toEqual([
        { id: '1', extra: '\\N', note: '\\N' },
        { id: '4', extra: '12.50', note: 'new' },
      ]);
      // the view sees the new column too
      expect(await tsv(`SELECT note FROM ${target}_current WHERE id = 4`)).toEqual([{ note: 'new' }]);
    });

    it('rejects poison rows with a clear message, keeps values the typed columns cannot hold in __raw, applies the rest', async () => {
      const r = await apply(sink, [
        rec({ op: 'c', after: { ...fullRow, id: 5, ai: [], at: [], i4: 'not a number' }, position: pos(400, 0) }),
        rec({ op: 'c', after: { ...fullRow, id: 6, ai: [[1, 2], [3, null]], at: [], d: -1, ts: '-62135596800000000', tstz: 'infinity' }, position: pos(400, 1) }),
        rec({ op: 'c', after: { ...fullRow, id: 7, ai: null, at: [], n: '1234567890123.5', d: 2147483647 }, position: pos(400, 2) }),
        rec({ op: 'u', before: null, after: { ...fullRow, id: 99, ai: [], at: [], t: UNAVAILABLE_VALUE }, position: pos(400, 3) }),
        rec({ op: 'c', after: { ...fullRow, id: 8, ai: [], at: [], n: 'NaN' }, position: pos(400, 4) }),
      ], 7);
      expect(r.rejected.map((x) => (x.record.after as Row).id)).toEqual([5, 99]);
      // a wrong-shaped value (the source column's type changed) → the ALTER hint
      expect(r.rejected[0]?.error.message).toMatch(/column i4: expected an integer for Int32, got "not a number".*ALTER the ClickHouse column yourself/);
      expect(r.rejected[1]?.error.message).toMatch(/unchanged TOAST value .* REPLICA IDENTITY FULL/);
      const rows = await tsv(`SELECT id, d, d__raw, n, n__raw, ai, ai__raw FROM ${target} FINAL WHERE id IN (5, 6, 7, 8, 99) ORDER BY id`);
      expect(rows).toEqual([
        { id: '6', d: '\\N', d__raw: '1969-12-31', n: '123456789.123', n__raw: '\\N', ai: '[]', ai__raw: '[[1,2],[3,null]]' },
        { id: '7', d: '\\N', d__raw: 'infinity', n: '\\N', n__raw: '1234567890123.5', ai: '[]', ai__raw: 'null' },
        { id: '8', d: '2022-01-08', d__raw: '\\N', n: '\\N', n__raw: 'NaN', ai: '[]', ai__raw: '\\N' },
      ]);
      // year 0001 and infinity (issue 14: "not an integer number of microseconds" / "not an ISO-8601 timestamp")
      const ts = await tsv(`SELECT ${dt64 ? 'ts, ts__raw, tstz, tstz__raw' : 'ts, tstz'} FROM ${target} FINAL WHERE id = 6`);
      expect(ts).toEqual([dt64 ? { ts: '\\N', ts__raw: '0001-01-01 00:00:00.000000', tstz: '\\N', tstz__raw: 'infinity' } : { ts: '0001-01-01 00:00:00.000000', tstz: 'infinity' }]);
    });

    it('a range-limited column without a __raw companion rejects with a range hint, not an ALTER-type hint', async () => {
      const strict = `${database}.strict_${run}`;
      await admin.command({ query: `CREATE TABLE ${strict} (id Int64, d Date COMMENT 'pg:date', _deleted UInt8, _version UInt64, _op String, _lsn UInt64, _synced_at DateTime('UTC')) ENGINE = ReplacingMergeTree(_version) ORDER BY id` });
      const own = makeSink({ 'table.create': false, 'source.url': undefined, 'table.overrides': { [`public.${pgTable}`]: { 'table.name': `strict_${run}` } } });
      await own.open();
      try {
        const r = await own.write(sinkBatch([rec({ op: 'c', after: { id: 1, d: -719162 }, position: pos(100) }), rec({ op: 'c', after: { id: 2, d: 19000 }, position: pos(100, 1) })]));
        expect(r.rejected).toHaveLength(1);
        expect(r.rejected[0]?.error.message).toMatch(/column d: date 0001-01-01 is outside ClickHouse Date's range.*ADD COLUMN d__raw Nullable\(String\) COMMENT 'raw:d'/);
        expect(r.rejected[0]?.error.message).not.toMatch(/type changed/);
      } finally {
        await own.close();
      }
    });

    it('truncate: mark-deleted marks every live row deleted at the truncate version; ignore keeps them', async () => {
      const ignore = makeSink({ 'truncate.mode': 'ignore' });
      await ignore.open();
      await apply(ignore, [rec({ op: 't', key: null, position: pos(500) })], 12);
      await ignore.close();
      expect((await tsv(`SELECT count() AS n FROM ${target}_current`))[0]?.n).toBe('6');
      const mark = makeSink({ 'truncate.mode': 'mark-deleted' });
      await mark.open();
      await apply(mark, [rec({ op: 't', key: null, position: pos(600) }), rec({ op: 'c', after: { ...fullRow, id: 9, ai: [], at: [] }, position: pos(700) })], 13);
      await mark.close();
      expect(await tsv(`SELECT id FROM ${target}_current ORDER BY id`)).toEqual([{ id: '9' }]);
      // latest row per key without FINAL (on 23.2+ FINAL hides deleted rows)
      const latest = `SELECT id, max(_version) AS v, argMax(_deleted, _version) AS d, argMax(_op, _version) AS op FROM ${target} GROUP BY id`;
      expect((await tsv(`SELECT uniqExact(v) AS v, count() AS n FROM (${latest}) WHERE d = 1 AND op = 't'`))[0]).toEqual({ v: '1', n: '6' });
    });

    it('stores offsets per group in the checkpoint table (argMax of updated_at)', async () => {
      const other = makeSink({}, 'other-group');
      await other.open();
      const topic = `test.public.${pgTable}`;
      expect(await other.loadOffsets([{ topic, partition: 0 }])).toEqual([]);
      expect(await sink.loadOffsets([{ topic, partition: 0 }])).toEqual([{ topic, partition: 0, offset: '15' }]);
      await other.close();
    });
  });

  describe('clickhouse sink: changelog mode and user DDL', () => {
    it('appends every change to the changelog table; replays collapse by position (FINAL)', async () => {
      const sink = makeSink({ mode: 'both', 'source.url': undefined });
      await sink.open();
      const records = [
        rec({ table: 'logged', op: 'c', after: { id: 1, v: 'a' }, position: pos(10, 0) }),
        rec({ table: 'logged', op: 'u', before: { id: 1, v: 'a' }, after: { id: 1, v: 'b' }, position: pos(10, 1) }),
        rec({ table: 'logged', op: 'd', before: { id: 1, v: 'b' }, after: null, position: pos(11, 0) }),
      ];
      await apply(sink, records);
      await apply(sink, records);
      await sink.close();
      const log = await tsv(`SELECT _lsn, _seq, _op, _key, _before, _after FROM ${database}.public_logged_changelog FINAL ORDER BY _lsn, _seq`);
      expect(log).toEqual([
        { _lsn: '10', _seq: '0', _op: 'c', _key: '{"id":1}', _before: '\\N', _after: '{"id":1,"v":"a"}' },
        { _lsn: '10', _seq: '1', _op: 'u', _key: '{"id":1}', _before: '{"id":1,"v":"a"}', _after: '{"id":1,"v":"b"}' },
        { _lsn: '11', _seq: '0', _op: 'd', _key: '{"id":1}', _before: '{"id":1,"v":"b"}', _after: '\\N' },
      ]);
      expect(await tsv(`SELECT count() AS n FROM ${database}.public_logged_current`)).toEqual([{ n: '0' }]);
    });

    it('writes into a user-provided table (migrations/clickhouse/example.sql), mapping columns by name', async () => {
      const ddl = readFileSync(new URL('../../migrations/clickhouse/example.sql', import.meta.url), 'utf8').replace(/\banalytics\b/g, database);
      for (const stmt of ddl.replace(/--.*$/gm, '').split(';').map((s) => s.trim()).filter(Boolean)) await admin.command({ query: stmt });
      const sink = makeSink({ 'table.create': false, 'source.url': undefined, 'table.overrides': { 'public.customers': { 'table.name': 'customers' } } });
      await sink.open();
      const r = await apply(sink, [
        rec({ table: 'customers', op: 'c', after: { id: 1, email: 'a@x.io', created_at: 1700000000000000, balance: '10.25', unknown_field: 'dropped?' }, position: pos(5) }),
        rec({ table: 'missing_table', op: 'c', after: { id: 1 }, position: pos(6) }),
      ]);
      await sink.close();
      expect(r.rejected.map((x) => x.record.source?.table)).toEqual(['missing_table']);
      expect(r.rejected[0]?.error.message).toMatch(/does not exist and table.create is false/);
      const rows = await tsv(`SELECT id, email, created_at, balance, unknown_field FROM ${database}.customers FINAL`);
      expect(rows).toEqual([{ id: '1', email: 'a@x.io', created_at: '2023-11-14 22:13:20', balance: '10.25', unknown_field: 'dropped?' }]);
    });
  });

  describe('clickhouse sink: insert deduplication token (22.2+)', () => {
    const dedups = !server.version.startsWith('18.');
    it('drops an identical retry on servers with insert_deduplication_token, keeps other changes at the same offsets', async () => {
      const sink = makeSink({ 'source.url': undefined, 'stale.check': false });
      await sink.open();
      const first = sinkBatch([rec({ table: 'dedup', op: 'c', after: { id: 1, a: 'x' }, position: pos(10) })], { firstOffset: 7 });
      await sink.write(first);
      await sink.write(first); // a retry of the same changes (e.g. after a timeout)
      // different changes at the same topic/partition/offsets (a re-created topic): never dropped
      const reused = await sink.write(sinkBatch([rec({ table: 'dedup', op: 'c', after: { id: 2, a: 'y' }, position: pos(20) })], { firstOffset: 7 }));
      await sink.close();
      expect(reused.rejected).toEqual([]);
      expect(await tsv(`SELECT id, count() AS n FROM ${database}.public_dedup GROUP BY id ORDER BY id`)).toEqual([
        { id: '1', n: dedups ? '1' : '2' },
        { id: '2', n: '1' },
      ]);
    });
  });

  describe('clickhouse sink: concurrent partitions', () => {
    it('adds a new column once when two partitions see it at the same time', async () => {
      const sink = makeSink({ 'source.url': undefined });
      await sink.open();
      await apply(sink, [rec({ table: 'evo', op: 'c', after: { id: 1, a: 'x' }, position: pos(10) })]);
      const batch = (p: number, id: number) => ({ ...sinkBatch([rec({ table: 'evo', op: 'c', after: { id, a: 'y', fresh: `f${id}`, more: id }, position: pos(20 + id) })], { partition: p }) });
      const results = await Promise.all([sink.write(batch(0, 2)), sink.write(batch(1, 3)), sink.write(batch(2, 4))]);
      await sink.close();
      expect(results.flatMap((r) => r.rejected)).toEqual([]);
      expect(await tsv(`SELECT id, fresh, more FROM ${database}.public_evo_current ORDER BY id`)).toEqual([
        { id: '1', fresh: '\\N', more: '\\N' },
        { id: '2', fresh: 'f2', more: '2' },
        { id: '3', fresh: 'f3', more: '3' },
        { id: '4', fresh: 'f4', more: '4' },
      ]);
    });
  });

  describe('clickhouse sink: checkpoint part hygiene', () => {
    it('writes the commits of concurrent partitions in one checkpoint INSERT, each durable when commit() returns', async () => {
      const group = `hygiene-${run}`;
      const sink = makeSink({ 'source.url': undefined, 'checkpoint.interval.ms': 300 }, group);
      await sink.open();
      const topic = 'test.public.hygiene';
      await sink.commit([{ topic, partition: 0, offset: '5' }]);
      expect(sink.checkpointInsertCount).toBe(1);
      // within the interval: the three partitions' commits wait together for one INSERT
      await Promise.all([1, 2, 3].map((p) => sink.commit([{ topic, partition: p, offset: String(10 * p) }])));
      expect(sink.checkpointInsertCount).toBe(2);
      // a later commit of a partition wins (argMax of updated_at), also when it shares an INSERT
      await Promise.all([sink.commit([{ topic, partition: 0, offset: '7' }]), sink.commit([{ topic, partition: 1, offset: '11' }])]);
      expect(sink.checkpointInsertCount).toBe(3);
      await sink.close();
      // durable: a fresh sink (another process) reads them back
      const reader = makeSink({ 'source.url': undefined }, group);
      await reader.open();
      const partitions = [0, 1, 2, 3].map((partition) => ({ topic, partition }));
      expect(await reader.loadOffsets(partitions)).toEqual([
        { topic, partition: 0, offset: '7' },
        { topic, partition: 1, offset: '11' },
        { topic, partition: 2, offset: '20' },
        { topic, partition: 3, offset: '30' },
      ]);
      await reader.close();
    });

    it('a failed checkpoint INSERT rejects every commit waiting for it and stores none of them', async () => {
      const sink = makeSink({ 'source.url': undefined, 'checkpoint.table': 'cp_gone' }, `gone-${run}`);
      await sink.open();
      await admin.command({ query: `DROP TABLE ${database}.cp_gone` });
      const errs = await Promise.all([0, 1].map((p) => sink.commit([{ topic: 't', partition: p, offset: '1' }]).catch((e: unknown) => e)));
      for (const e of errs) expect(e).toBeInstanceOf(SinkError);
      expect(sink.checkpointInsertCount).toBe(0);
      await sink.close();
    });
  });

  describe('clickhouse sink: truncate across partitions', () => {
    it('drops rows older than a truncate that a lagging partition delivers after it', async () => {
      const sink = makeSink({ 'source.url': undefined });
      await sink.open();
      const at = (p: number, records: SinkRecord[]) => sink.write(sinkBatch(records, { partition: p }));
      await at(0, [rec({ table: 'trunc', op: 'c', after: { id: 1, a: 'x' }, position: pos(100) })]);
      await at(0, [rec({ table: 'trunc', op: 't', key: null, position: pos(300) })]);
      // partition 1 lags: a change committed before the truncate (200) arrives after it, and one after (400)
      const late = await at(1, [rec({ table: 'trunc', op: 'c', after: { id: 2, a: 'before truncate' }, position: pos(200) }), rec({ table: 'trunc', op: 'c', after: { id: 3, a: 'after' }, position: pos(400) })]);
      await sink.close();
      expect(late.rejected).toEqual([]);
      expect(late.staleSkipped).toBe(1);
      expect(await tsv(`SELECT id FROM ${database}.public_trunc_current ORDER BY id`)).toEqual([{ id: '3' }]);
      // a new sink instance (another process) knows the watermark too
      const other = makeSink({ 'source.url': undefined });
      await other.open();
      const again = await other.write(sinkBatch([rec({ table: 'trunc', op: 'u', before: null, after: { id: 2, a: 'still before' }, position: pos(250) })], { partition: 2 }));
      await other.close();
      expect(again.staleSkipped).toBe(1);
      expect(await tsv(`SELECT id FROM ${database}.public_trunc_current ORDER BY id`)).toEqual([{ id: '3' }]);
    });
  });

  describe('clickhouse sink: source column types widen (schema.evolution basic, catalog)', () => {
    const wide = `ch_widen_${run}`;
    afterAll(async () => {
      await pgClient.query(`DROP TABLE IF EXISTS ${wide}`);
    });

    it('int → bigint, numeric precision/scale, int → text: widens the columns instead of rejecting every later change', async () => {
      await pgClient.query(`CREATE TABLE ${wide} (id integer PRIMARY KEY, n integer, amount numeric(6,2), label integer, name varchar(5))`);
      const sink = makeSink();
      await sink.open();
      const w = (spec: Omit<ChangeSpec, 'table'>): SinkRecord => sinkRecord({ table: wide, ...spec });
      const first = await apply(sink, [w({ op: 'c', after: { id: 1, n: 7, amount: '1234.50', label: 42, name: 'abc' }, position: pos(100) }), w({ op: 'c', after: { id: 2, n: 8, amount: '1.00', label: 43, name: 'x' }, position: pos(100, 1) })]);
      expect(first.rejected).toEqual([]);
      await pgClient.query(`ALTER TABLE ${wide} ALTER COLUMN n TYPE bigint, ALTER COLUMN amount TYPE numeric(14,4), ALTER COLUMN label TYPE text, ALTER COLUMN name TYPE varchar(50)`);
      const big = 2 ** 40;
      const r = await apply(sink, [
        w({ op: 'u', before: null, after: { id: 1, n: big, amount: '1234567890.1234', label: 'forty-two', name: 'a much longer name' }, position: pos(200) }),
        w({ op: 'c', after: { id: 3, n: 9, amount: '0.5000', label: 'new', name: 'y' }, position: pos(200, 1) }),
      ], 2);
      await sink.close();
      expect(r.rejected.map((x) => x.error.message)).toEqual([]);
      const cols = Object.fromEntries((await tsv(`SELECT name, type FROM system.columns WHERE database = '${database}' AND table = 'public_${wide}'`)).map((c) => [c.name, c.type]));
      expect({ n: cols.n, amount: cols.amount, label: cols.label, name: cols.name }).toEqual({ n: 'Nullable(Int64)', amount: 'Nullable(Decimal(14, 4))', label: 'Nullable(String)', name: 'Nullable(String)' });
      expect(await tsv(`SELECT id, n, amount, label, name FROM ${database}.public_${wide}_current ORDER BY id`)).toEqual([
        { id: '1', n: String(big), amount: '1234567890.1234', label: 'forty-two', name: 'a much longer name' },
        { id: '2', n: '8', amount: '1.0000', label: '43', name: 'x' },
        { id: '3', n: '9', amount: '0.5000', label: 'new', name: 'y' },
      ]);
    });
  });

  describe('clickhouse sink: truncate before the table exists', () => {
    it('stores the watermark when the truncate is the first event seen of its table (nothing to infer the table from)', async () => {
      const sink = makeSink({ 'source.url': undefined });
      await sink.open();
      const t = await sink.write(sinkBatch([rec({ table: 'first_trunc', op: 't', key: null, position: pos(500, 2) })], { partition: 0 }));
      expect(t.rejected).toEqual([]);
      await sink.close();
      // restart; partition 1 delivers rows committed before the truncate and after it
      const again = makeSink({ 'source.url': undefined });
      await again.open();
      const r = await again.write(sinkBatch([
        rec({ table: 'first_trunc', op: 'c', after: { id: 1, a: 'older' }, position: pos(400) }),
        rec({ table: 'first_trunc', op: 'c', after: { id: 2, a: 'same tx, before' }, position: pos(500, 1) }),
        rec({ table: 'first_trunc', op: 'c', after: { id: 3, a: 'same tx, after' }, position: pos(500, 3) }),
      ], { partition: 1 }));
      await again.close();
      expect(r.rejected).toEqual([]);
      expect(r.staleSkipped).toBe(2);
      expect(await tsv(`SELECT id FROM ${database}.public_first_trunc_current ORDER BY id`)).toEqual([{ id: '3' }]);
    });
  });

  describe('clickhouse sink: truncate stored by another process while a batch is written', () => {
    it('re-applies the truncate over rows older than it that were inserted after its effects ran (post-insert check)', async () => {
      const sink = makeSink({ 'source.url': undefined });
      await sink.open(); // reads the (empty) watermarks now; the pre-insert check then uses them for 5 s
      await apply(sink, [rec({ table: 'race', op: 'c', after: { id: 1, a: 'x' }, position: pos(100) })], 0);
      // another process (a partition owned elsewhere) stores a truncate at (500, 3) and runs its
      // effects: the row above goes; this sink's cached watermarks do not know it yet
      await admin.command({ query: `INSERT INTO ${database}.cdc_fanout_checkpoints_truncate_marks (\`table\`, version, seq) VALUES ('\`${database}\`.\`public_race\`', 500, 3)` });
      await admin.command({ query: `ALTER TABLE ${database}.public_race DELETE WHERE _version < 500 OR (_version = 500 AND _seq < 3)` });
      // this sink's partition delivers rows committed before that truncate, and after it
      const r = await sink.write(sinkBatch([
        rec({ table: 'race', op: 'c', after: { id: 2, a: 'older' }, position: pos(400) }),
        rec({ table: 'race', op: 'c', after: { id: 3, a: 'same tx, before' }, position: pos(500, 1) }),
        rec({ table: 'race', op: 'c', after: { id: 4, a: 'same tx, after' }, position: pos(500, 4) }),
        rec({ table: 'race', op: 'c', after: { id: 5, a: 'later' }, position: pos(600) }),
      ], { partition: 1 }));
      await sink.close();
      expect(r.rejected).toEqual([]);
      expect(await tsv(`SELECT id FROM ${database}.public_race_current ORDER BY id`)).toEqual([{ id: '4' }, { id: '5' }]);
    });
  });

  describe('clickhouse sink: server unavailable', () => {
    it('throws a retriable SinkError when the server cannot be reached', async () => {
      const sink = new ClickHouseSink({ config: clickhouseSpec.parse({ url: 'http://127.0.0.1:1', database, 'request.timeout.ms': 2000 }), group: 'down', logger: silentLogger });
      const err = await sink.open().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SinkError);
      expect((err as SinkError).retriable).toBe(true);
      await sink.close();
    });
  });
}
