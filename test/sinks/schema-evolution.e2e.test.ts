/**
 * Schema evolution per sink on the real stack (issue 20, deliverable 3): Postgres → the real source →
 * Kafka (3 partitions per table) → the real SinkRunner → the sinks, reconciled row by row against
 * Postgres. Each scenario is a row of docs/schema-evolution.md.
 *
 * One table's bad mapping never stops the other tables of the sink: two tables into one
 * Elasticsearch sink (errors.tolerance: none); table A's index maps `n` as integer (a per-table
 * mappings file), then `ALTER COLUMN n TYPE text` and text values. A stops at the first record its
 * index refuses and is reported (status: table, column, remedy); B keeps converging row by row
 * while A is stopped; after the fix (ignore_malformed on the field) a resume re-applies A from
 * where it stopped and A converges too — nothing of A was skipped.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { Client } from '@elastic/elasticsearch';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Row } from '../../src/events/change.js';
import { silentLogger } from '../../src/observability/logger.js';
import { plugin as chPlugin } from '../../src/sinks/clickhouse/index.js';
import { plugin as esPlugin } from '../../src/sinks/elasticsearch/index.js';
import { plugin as redisPlugin } from '../../src/sinks/redis/index.js';
import { resolveSinkConfig, sinkCommonSpec } from '../../src/sinks/runtime/config.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, ep, kafkaConfig, pgClient, pgConfig, uniq, waitFor } from '../source/helpers.js';
import { sinkBatch, sinkRecord } from '../support/records.js';
import { kafka } from './runtime-support.js';
import { redisDbUrl, redisSinkInput } from '../support/redis-config.js';

const es = new Client({ node: ep.elasticsearchUrl });
const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });
const REDIS_DB = 12;
const redis = new Redis(redisDbUrl(ep.redisUrl, REDIS_DB), { lazyConnect: false });
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup failed', e));
  await es.close();
  await ch.close();
  await redis.quit();
}, 120_000);

/** A source capturing `tables` (public schema), streaming only (no snapshot); stopped and cleaned up after the file. */
async function startSource(id: string, tables: readonly string[]): Promise<{ source: PostgresSource; prefix: string }> {
  const prefix = id.replace(/_/g, '-');
  const source = new PostgresSource(
    {
      ...pgConfig(),
      name: id,
      'topic.prefix': prefix,
      'slot.name': id,
      'publication.name': `${id}_pub`,
      'publication.autocreate.mode': 'filtered',
      'table.include.list': tables.map((t) => `public\\.${t}`).join(','),
      'snapshot.mode': 'never',
    },
    kafkaConfig,
    silentLogger,
  );
  cleanups.push(async () => {
    await source.stop();
    await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: tables.map((t) => `public.${t}`) });
  });
  await source.start();
  await waitFor(() => source.status().state === 'streaming', 30_000, 'streaming');
  return { source, prefix };
}

async function pgRows(table: string): Promise<Map<string, Row>> {
  const c = await pgClient();
  try {
    const rows = (await c.query(`SELECT * FROM public.${table} ORDER BY id`)).rows as Row[];
    return new Map(rows.map((r) => [String(r.id), r]));
  } finally {
    await c.end();
  }
}

async function sql(...statements: string[]): Promise<void> {
  const c = await pgClient();
  try {
    for (const s of statements) await c.query(s);
  } finally {
    await c.end();
  }
}

/** Row-by-row differences between Postgres and a sink (id → row); empty when equal. Values compare as text. */
function diff(want: Map<string, Row>, actual: Map<string, Row>): { missing: string[]; extra: string[]; differing: string[] } {
  // sinks differ in representation only: booleans as 1/0 (ClickHouse UInt8), numeric text as numbers
  const text = (v: unknown): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'boolean') return v ? '1' : '0';
    const s = String(v);
    return /^-?\d+(\.\d+)?$/.test(s) ? String(Number(s)) : s;
  };
  return {
    missing: [...want.keys()].filter((k) => !actual.has(k)).slice(0, 10),
    extra: [...actual.keys()].filter((k) => !want.has(k)).slice(0, 10),
    differing: [...want]
      .filter(([k, row]) => actual.has(k) && Object.entries(row).some(([c, v]) => text(actual.get(k)![c]) !== text(v)))
      .map(([k, row]) => `${k}: pg ${JSON.stringify(row)} sink ${JSON.stringify(actual.get(k))}`)
      .slice(0, 5),
  };
}

const equal = (d: ReturnType<typeof diff>): boolean => d.missing.length + d.extra.length + d.differing.length === 0;

/** Waits until the sink equals Postgres row by row; on timeout fails with the differences (or the last read error). */
async function converge(what: string, table: string, read: () => Promise<Map<string, Row>>, timeoutMs = 90_000): Promise<void> {
  let last: ReturnType<typeof diff> | string = 'not read yet';
  try {
    await waitFor(
      async () => {
        try {
          last = diff(await pgRows(table), await read());
        } catch (e) {
          last = `read failed: ${(e as Error).message}`;
          return false;
        }
        return equal(last);
      },
      timeoutMs,
      what,
    );
  } catch {
    expect({ what, last }).toEqual({ what, last: { missing: [], extra: [], differing: [] } });
  }
}

async function esDocs(index: string): Promise<Map<string, Row>> {
  const exists = await es.indices.exists({ index });
  if (!exists) return new Map();
  await es.indices.refresh({ index });
  const res = await es.search<Row>({ index, size: 10_000, query: { match_all: {} } });
  return new Map(res.hits.hits.map((h) => [h._id!, h._source!]));
}

describe('Elasticsearch: one table\'s bad mapping never stops the other tables of the sink', () => {
  it('the broken table stops and is reported, the other converges row by row; after the fix it re-applies from where it stopped', async () => {
    const id = uniq('schema_es');
    const A = `${id}_a`;
    const B = `${id}_b`;
    await sql(`CREATE TABLE public.${A} (id int PRIMARY KEY, n int, v text)`, `CREATE TABLE public.${B} (id int PRIMARY KEY, v text)`);
    const { prefix } = await startSource(id, [A, B]);
    const [topicA, topicB] = [`${prefix}.public.${A}`, `${prefix}.public.${B}`];
    const [indexA, indexB] = [topicA.toLowerCase(), topicB.toLowerCase()];
    const dir = mkdtempSync(join(tmpdir(), 'schema-es-'));
    const mappingA = join(dir, 'a.json');
    writeFileSync(mappingA, JSON.stringify({ properties: { id: { type: 'integer' }, n: { type: 'integer' }, v: { type: 'keyword' } } }));
    const checkpointIndex = `cdc-fanout-checkpoints-${prefix}`;
    cleanups.push(async () => {
      await es.indices.delete({ index: [indexA, indexB, checkpointIndex], ignore_unavailable: true });
    });

    // Both tables are written before the sink starts, so their topics exist when it subscribes.
    await sql(
      `INSERT INTO public.${A} SELECT g, g, 'a' || g FROM generate_series(1, 30) g`,
      `INSERT INTO public.${B} SELECT g, 'b' || g FROM generate_series(1, 30) g`,
    );
    const config = resolveSinkConfig(
      sinkCommonSpec.parse({ name: 'search', type: 'elasticsearch', topics: [topicA, topicB], 'batch.max.records': 20, 'batch.max.wait.ms': 20, 'errors.retry.initial.backoff.ms': 50, 'errors.retry.max.backoff.ms': 500 }),
      { pipeline: id, topicPrefix: prefix },
    );
    expect(config['errors.tolerance']).toBe('none');
    const sink = esPlugin.create(esPlugin.spec.parse({ url: ep.elasticsearchUrl, 'checkpoint.index': checkpointIndex, 'table.overrides': { [`public.${A}`]: { 'index.mappings.file': mappingA } } }), {
      pipeline: id,
      sinkName: 'search',
      topicPrefix: prefix,
      groupId: config.groupId,
      logger: silentLogger,
    });
    const runner = new SinkRunner({ kafka, sink, config, pipeline: id, logger: silentLogger, sessionTimeoutMs: 6000 });
    cleanups.push(() => runner.stop());
    let failure: Error | undefined;
    runner.on('failed', (e: Error) => (failure = e));
    await runner.start();
    await converge('A before the type change', A, () => esDocs(indexA));
    await converge('B before the type change', B, () => esDocs(indexB));

    // integer → text; text values the index (n: integer) refuses, on every partition of A
    await sql(
      `ALTER TABLE public.${A} ALTER COLUMN n TYPE text`,
      `UPDATE public.${A} SET n = 'x' || id WHERE id % 3 = 0`,
      `INSERT INTO public.${A} SELECT g, 'y' || g, 'a' || g FROM generate_series(31, 40) g`,
    );
    // B goes on changing, in rounds, while A is stopped: it converges after each round.
    for (let round = 1; round <= 3; round++) {
      await sql(
        `INSERT INTO public.${B} SELECT g, 'b' || g FROM generate_series(${round * 100}, ${round * 100 + 49}) g`,
        `UPDATE public.${B} SET v = v || '-r${round}' WHERE id % ${round + 1} = 0`,
        `DELETE FROM public.${B} WHERE id % 11 = ${round}`,
      );
      await converge(`B after round ${round} (A stopped)`, B, () => esDocs(indexB));
    }
    expect(failure).toBeUndefined();
    expect(runner.state.name).toBe('RUNNING');

    // A is reported: table, column, the mapped type, the remedy; it waits at the record that failed.
    await waitFor(() => runner.failedTables().length > 0, 30_000, 'A reported as failed');
    const failed = runner.failedTables();
    expect(failed.map((t) => [t.table, t.topic])).toEqual([[`public.${A}`, topicA]]);
    const [f] = failed;
    expect(f!.error).toContain(`table public.${A}`);
    expect(f!.error).toContain('column (field) "n"');
    expect(f!.error).toContain('maps it as integer');
    expect(f!.error).toContain('Remedy');
    expect(f!.error).toContain(`POST /pipelines/${id}/sinks/search/resume`);
    expect(BigInt(f!.resumeFrom ?? '0')).toBeLessThanOrEqual(BigInt(f!.offset));
    // nothing of A past the failure: the stored offset of the failed partition is still at resumeFrom
    const stored = await sink.loadOffsets([{ topic: topicA, partition: f!.partition }]);
    expect(stored[0]?.offset ?? null).toBe(f!.resumeFrom);
    const a = await esDocs(indexA);
    expect([...a.values()].filter((d) => typeof d.n === 'string' && /^[xy]/.test(d.n))).toEqual([]);

    // The fix: the field skips values it cannot parse (they stay in _source); then resume.
    await es.indices.putMapping({ index: indexA, properties: { n: { type: 'integer', ignore_malformed: true } } });
    runner.resume();
    await converge('A after the fix and resume', A, () => esDocs(indexA));
    expect(runner.failedTables()).toEqual([]);
    await sql(`UPDATE public.${A} SET v = 'after' WHERE id <= 5`, `UPDATE public.${B} SET v = 'after' WHERE id <= 5`);
    await converge('A after more changes', A, () => esDocs(indexA));
    await converge('B after more changes', B, () => esDocs(indexB));
    expect(runner.state.name).toBe('RUNNING');
  }, 300_000);
});

async function chRows(database: string, table: string): Promise<Map<string, Row>> {
  const rs = await ch.query({
    query: `SELECT * FROM ${database}.public_${table} FINAL WHERE _deleted = 0`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  return new Map((await rs.json<Row>()).map((r) => [String(r.id), r]));
}

async function chColumns(database: string, table: string): Promise<string[]> {
  const rs = await ch.query({ query: `SELECT name FROM system.columns WHERE database = '${database}' AND table = 'public_${table}'`, format: 'JSONEachRow' });
  return (await rs.json<{ name: string }>()).map((r) => r.name).filter((n) => !n.startsWith('_')).sort();
}

/** Postgres → source → Kafka → runner → ClickHouse sink (catalog from the source database), for one table. */
async function clickhouseStack(what: string, ddl: string): Promise<{ T: string; database: string; runner: SinkRunner }> {
  const id = uniq(what);
  const T = id;
  await sql(`CREATE TABLE public.${T} ${ddl}`);
  const { prefix } = await startSource(id, [T]);
  const topic = `${prefix}.public.${T}`;
  const database = `cdc_${id}`;
  await ch.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  cleanups.push(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  });
  return { T, database, runner: await startClickhouseRunner(id, prefix, topic, database) };
}

async function startClickhouseRunner(id: string, prefix: string, topic: string, database: string): Promise<SinkRunner> {
  // the topic must exist before the sink subscribes: the caller inserts first
  const config = resolveSinkConfig(
    sinkCommonSpec.parse({ name: 'warehouse', type: 'clickhouse', topics: [topic], 'batch.max.records': 25, 'batch.max.wait.ms': 20, 'errors.retry.initial.backoff.ms': 50, 'errors.retry.max.backoff.ms': 500 }),
    { pipeline: id, topicPrefix: prefix },
  );
  const sink = chPlugin.create(chPlugin.spec.parse({ url: ep.clickhouseUrl, database }), {
    pipeline: id,
    sinkName: 'warehouse',
    topicPrefix: prefix,
    groupId: config.groupId,
    logger: silentLogger,
    sourceDatabaseUrl: ep.postgresUrl,
  });
  const runner = new SinkRunner({ kafka, sink, config, pipeline: id, logger: silentLogger, sessionTimeoutMs: 6000 });
  cleanups.push(() => runner.stop());
  return runner;
}

describe('ClickHouse: RENAME COLUMN and ADD COLUMN … DEFAULT', () => {
  it('RENAME COLUMN (same attnum) becomes a rename: every row has its value under the new name, no second column', async () => {
    const { T, database, runner } = await clickhouseStack('schema_chr', '(id int PRIMARY KEY, a text, n int)');
    await sql(`INSERT INTO public.${T} SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'a' || g END, g FROM generate_series(1, 60) g`);
    await runner.start();
    await converge('before the rename', T, () => chRows(database, T));
    expect(await chColumns(database, T)).toEqual(['a', 'id', 'n']);

    await sql(
      `ALTER TABLE public.${T} RENAME COLUMN a TO b`,
      `UPDATE public.${T} SET b = 'renamed' || id WHERE id % 5 = 0`,
      `UPDATE public.${T} SET b = NULL WHERE id = 3`,
      `INSERT INTO public.${T} SELECT g, 'b' || g, g FROM generate_series(61, 80) g`,
    );
    await converge('after the rename', T, () => chRows(database, T));
    expect(await chColumns(database, T)).toEqual(['b', 'id', 'n']);
    expect(runner.failedTables()).toEqual([]);
    await sql(`UPDATE public.${T} SET b = b || '-later', n = n + 1 WHERE id % 3 = 0`);
    await converge('later changes', T, () => chRows(database, T));
  }, 300_000);

  it('ADD COLUMN … DEFAULT: rows not changed since read the default; a NULL written later stays NULL', async () => {
    const { T, database, runner } = await clickhouseStack('schema_chd', '(id int PRIMARY KEY, v text)');
    await sql(`INSERT INTO public.${T} SELECT g, 'v' || g FROM generate_series(1, 60) g`);
    await runner.start();
    await converge('before the ADD COLUMN', T, () => chRows(database, T));

    await sql(
      `ALTER TABLE public.${T} ADD COLUMN d int DEFAULT 7, ADD COLUMN e text DEFAULT 'x y', ADD COLUMN f numeric(6,2) DEFAULT 1.5, ADD COLUMN g boolean DEFAULT true`,
      `UPDATE public.${T} SET v = v || '-u' WHERE id % 10 = 0`,
      `UPDATE public.${T} SET d = NULL, e = NULL WHERE id = 4`,
      `UPDATE public.${T} SET d = 8 WHERE id = 5`,
      `INSERT INTO public.${T} (id, v, d) VALUES (61, 'new', NULL), (62, 'new', 9)`,
      `INSERT INTO public.${T} (id, v) VALUES (63, 'default')`,
    );
    await converge('after the ADD COLUMN … DEFAULT', T, () => chRows(database, T));
    expect(runner.failedTables()).toEqual([]);
  }, 300_000);

  it('an older change applied after the rename and the ADD COLUMN … DEFAULT (a lagging partition) lands in the new column and gets the default', async () => {
    // Partitions are ordered only within themselves: the sink applies them here by hand, the older
    // change last, to pin what a lagging partition does. The Postgres side runs the same changes.
    const T = uniq('schema_chl');
    const database = `cdc_${T}`;
    await ch.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
    cleanups.push(async () => {
      await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
      await sql(`DROP TABLE IF EXISTS public.${T}`);
    });
    await sql(`CREATE TABLE public.${T} (id int PRIMARY KEY, a text)`, `INSERT INTO public.${T} VALUES (1, 'x'), (2, 'old')`);
    const sink = chPlugin.create(chPlugin.spec.parse({ url: ep.clickhouseUrl, database }), {
      pipeline: T,
      sinkName: 'warehouse',
      topicPrefix: 'test',
      logger: silentLogger,
      sourceDatabaseUrl: ep.postgresUrl,
    });
    await sink.open();
    cleanups.push(() => sink.close());
    const apply = async (partition: number, records: ReturnType<typeof sinkRecord>[]): Promise<void> => {
      const result = await sink.write(sinkBatch(records, { partition }));
      expect(result.rejected.map((r) => r.error.message)).toEqual([]);
    };
    // partition 0: id 1 inserted before the DDL
    await apply(0, [sinkRecord({ table: T, op: 'c', after: { id: 1, a: 'x' }, position: 100 })]);
    await sql(`ALTER TABLE public.${T} RENAME COLUMN a TO b`, `ALTER TABLE public.${T} ADD COLUMN d int DEFAULT 7`, `UPDATE public.${T} SET b = 'y', d = NULL WHERE id = 1`);
    // partition 0 again: the change after the DDL (new names, d NULL on purpose)
    await apply(0, [sinkRecord({ table: T, op: 'u', after: { id: 1, b: 'y', d: null }, position: 300 })]);
    // partition 1, lagging: id 2's insert from before the DDL (old name, no d)
    await apply(1, [sinkRecord({ table: T, op: 'c', after: { id: 2, a: 'old' }, position: 200 })]);
    expect(await chColumns(database, T)).toEqual(['b', 'd', 'id']);
    const want = await pgRows(T);
    expect(want.get('2')).toEqual({ id: 2, b: 'old', d: 7 });
    expect(diff(want, await chRows(database, T))).toEqual({ missing: [], extra: [], differing: [] });
  }, 120_000);
});

/** Postgres → source → Kafka → runner → Elasticsearch sink (catalog from the source database), for one table. */
async function elasticsearchStack(what: string, ddl: string): Promise<{ T: string; index: string; start: () => Promise<SinkRunner> }> {
  const id = uniq(what);
  const T = id;
  await sql(`CREATE TABLE public.${T} ${ddl}`);
  const { prefix } = await startSource(id, [T]);
  const topic = `${prefix}.public.${T}`;
  const index = topic.toLowerCase();
  const checkpointIndex = `cdc-fanout-checkpoints-${prefix}`;
  cleanups.push(async () => {
    await es.indices.delete({ index: [index, checkpointIndex], ignore_unavailable: true });
  });
  // the topic must exist before the sink subscribes: the caller inserts first
  const start = async (): Promise<SinkRunner> => {
    const config = resolveSinkConfig(
      sinkCommonSpec.parse({ name: 'search', type: 'elasticsearch', topics: [topic], 'batch.max.records': 25, 'batch.max.wait.ms': 20, 'errors.retry.initial.backoff.ms': 50, 'errors.retry.max.backoff.ms': 500 }),
      { pipeline: id, topicPrefix: prefix },
    );
    const sink = esPlugin.create(esPlugin.spec.parse({ url: ep.elasticsearchUrl, 'checkpoint.index': checkpointIndex }), {
      pipeline: id,
      sinkName: 'search',
      topicPrefix: prefix,
      groupId: config.groupId,
      logger: silentLogger,
      sourceDatabaseUrl: ep.postgresUrl,
    });
    const runner = new SinkRunner({ kafka, sink, config, pipeline: id, logger: silentLogger, sessionTimeoutMs: 6000 });
    cleanups.push(() => runner.stop());
    await runner.start();
    return runner;
  };
  return { T, index, start };
}

/** Versions of every document (id → _version). */
async function esVersions(index: string): Promise<Map<string, number>> {
  await es.indices.refresh({ index });
  const res = await es.search({ index, size: 10_000, version: true, _source: false, query: { match_all: {} } });
  return new Map(res.hits.hits.map((h) => [h._id!, h._version!]));
}

describe('Elasticsearch: RENAME COLUMN and ADD COLUMN … DEFAULT', () => {
  it('ADD COLUMN … DEFAULT: documents not changed since read the default, with their versions kept; a NULL written later stays NULL', async () => {
    const { T, index, start } = await elasticsearchStack('schema_esd', '(id int PRIMARY KEY, v text)');
    await sql(`INSERT INTO public.${T} SELECT g, 'v' || g FROM generate_series(1, 60) g`);
    const runner = await start();
    await converge('before the ADD COLUMN', T, () => esDocs(index));
    const versionsBefore = await esVersions(index);

    await sql(
      `ALTER TABLE public.${T} ADD COLUMN d int DEFAULT 7, ADD COLUMN e text DEFAULT 'x y', ADD COLUMN f numeric(6,2) DEFAULT 1.5, ADD COLUMN g boolean DEFAULT true`,
      `UPDATE public.${T} SET v = v || '-u' WHERE id % 10 = 0`,
      `UPDATE public.${T} SET d = NULL, e = NULL WHERE id = 4`,
      `UPDATE public.${T} SET d = 8 WHERE id = 5`,
      `INSERT INTO public.${T} (id, v, d) VALUES (61, 'new', NULL), (62, 'new', 9)`,
      `INSERT INTO public.${T} (id, v) VALUES (63, 'default')`,
    );
    await converge('after the ADD COLUMN … DEFAULT', T, () => esDocs(index));
    const docs = await esDocs(index);
    // the default is in _source (what readers get), not only a query-time default
    expect(docs.get('1')).toEqual({ id: 1, v: 'v1', d: 7, e: 'x y', f: '1.50', g: true });
    expect(docs.get('4')).toMatchObject({ d: null, e: null });
    // untouched documents keep the version (commit LSN) the exactly-once check compares with
    const versionsAfter = await esVersions(index);
    const untouched = [...versionsBefore.keys()].filter((k) => !['4', '5'].includes(k) && Number(k) % 10 !== 0);
    expect(untouched.filter((k) => versionsAfter.get(k) !== versionsBefore.get(k))).toEqual([]);
    expect(runner.failedTables()).toEqual([]);
    await sql(`UPDATE public.${T} SET d = d + 1 WHERE id % 3 = 0`);
    await converge('later changes', T, () => esDocs(index));
  }, 300_000);

  it('RENAME COLUMN (same attnum) becomes a rename: every document has its value under the new name and none keeps the old one', async () => {
    const { T, index, start } = await elasticsearchStack('schema_esr', '(id int PRIMARY KEY, a text, n int)');
    await sql(`INSERT INTO public.${T} SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'a' || g END, g FROM generate_series(1, 60) g`);
    const runner = await start();
    await converge('before the rename', T, () => esDocs(index));

    await sql(
      `ALTER TABLE public.${T} RENAME COLUMN a TO b`,
      `UPDATE public.${T} SET b = 'renamed' || id WHERE id % 5 = 0`,
      `UPDATE public.${T} SET b = NULL WHERE id = 3`,
      `INSERT INTO public.${T} SELECT g, 'b' || g, g FROM generate_series(61, 80) g`,
    );
    await converge('after the rename', T, () => esDocs(index));
    const docs = [...(await esDocs(index)).values()];
    expect(docs.filter((d) => 'a' in d)).toEqual([]);
    expect(docs.filter((d) => !('b' in d))).toEqual([]);
    expect(runner.failedTables()).toEqual([]);
    await sql(`UPDATE public.${T} SET b = b || '-later', n = n + 1 WHERE id % 3 = 0`);
    await converge('later changes', T, () => esDocs(index));
  }, 300_000);

  it('an older change applied after the rename and the ADD COLUMN … DEFAULT (a lagging partition) lands under the new name and gets the default', async () => {
    // As the ClickHouse case: the sink applies the partitions by hand, the older change last.
    const T = uniq('schema_esl');
    const index = `test.public.${T}`.toLowerCase();
    const checkpointIndex = `cdc-fanout-checkpoints-${T.replace(/_/g, '-')}`;
    cleanups.push(async () => {
      await es.indices.delete({ index: [index, checkpointIndex], ignore_unavailable: true });
      await sql(`DROP TABLE IF EXISTS public.${T}`);
    });
    await sql(`CREATE TABLE public.${T} (id int PRIMARY KEY, a text)`, `INSERT INTO public.${T} VALUES (1, 'x'), (2, 'old'), (3, 'z')`);
    const sink = esPlugin.create(esPlugin.spec.parse({ url: ep.elasticsearchUrl, 'checkpoint.index': checkpointIndex, refresh: 'true' }), {
      pipeline: T,
      sinkName: 'search',
      topicPrefix: 'test',
      logger: silentLogger,
      sourceDatabaseUrl: ep.postgresUrl,
    });
    await sink.open();
    cleanups.push(() => sink.close());
    const apply = async (partition: number, records: ReturnType<typeof sinkRecord>[]): Promise<void> => {
      const result = await sink.write(sinkBatch(records, { partition }));
      expect(result.rejected.map((r) => r.error.message)).toEqual([]);
    };
    // partition 0: ids 1 and 3 inserted before the DDL
    await apply(0, [sinkRecord({ table: T, op: 'c', after: { id: 1, a: 'x' }, position: 100 }), sinkRecord({ table: T, op: 'c', after: { id: 3, a: 'z' }, position: 110 })]);
    await sql(`ALTER TABLE public.${T} RENAME COLUMN a TO b`, `ALTER TABLE public.${T} ADD COLUMN d int DEFAULT 7`, `UPDATE public.${T} SET b = 'y', d = NULL WHERE id = 1`);
    // partition 0 again: the change after the DDL (new names, d NULL on purpose)
    await apply(0, [sinkRecord({ table: T, op: 'u', after: { id: 1, b: 'y', d: null }, position: 300 })]);
    // partition 1, lagging: id 2's insert from before the DDL (old name, no d)
    await apply(1, [sinkRecord({ table: T, op: 'c', after: { id: 2, a: 'old' }, position: 200 })]);
    const want = await pgRows(T);
    expect(want.get('2')).toEqual({ id: 2, b: 'old', d: 7 });
    const docs = await esDocs(index);
    expect(diff(want, docs)).toEqual({ missing: [], extra: [], differing: [] });
    expect([...docs.values()].filter((d) => 'a' in d)).toEqual([]);
    // id 3 (not changed since) was rewritten with its version kept; a replay of its insert (an equal
    // version, which external_gte accepts) is adapted as well and leaves the same document
    expect((await esVersions(index)).get('3')).toBe(110);
    const replay = await sink.write(sinkBatch([sinkRecord({ table: T, op: 'c', after: { id: 3, a: 'z' }, position: 110 })], { partition: 0 }));
    expect(replay.rejected).toEqual([]);
    expect((await esDocs(index)).get('3')).toEqual({ id: 3, b: 'z', d: 7 });
  }, 120_000);
});

/** The cached rows of a write-through table (id → row), keys `<prefix><id>`. */
async function redisRows(prefix: string): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const v = await redis.get(k);
      if (v !== null) out.set(k.slice(prefix.length), JSON.parse(v) as Row);
    }
  } while (cursor !== '0');
  return out;
}

async function deleteRedis(pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * A write-through cache against Postgres: every cached row equals its Postgres row exactly (the same
 * columns, the same values, as text), no key for a row Postgres does not have; `present` must be cached.
 * Rows that are not cached are reloaded from Postgres by readers (a cache miss is correct).
 */
function cacheDiff(want: Map<string, Row>, cached: Map<string, Row>, present: readonly string[]): { stale: string[]; extra: string[]; absent: string[] } {
  const text = (v: unknown): string => (v === null || v === undefined ? 'null' : /^-?\d+(\.\d+)?$/.test(String(v)) ? String(Number(v)) : String(v));
  const same = (a: Row, b: Row): boolean => Object.keys(a).sort().join() === Object.keys(b).sort().join() && Object.keys(a).every((c) => text(a[c]) === text(b[c]));
  return {
    stale: [...cached].filter(([k, row]) => want.has(k) && !same(want.get(k)!, row)).map(([k, row]) => `${k}: pg ${JSON.stringify(want.get(k))} cache ${JSON.stringify(row)}`).slice(0, 5),
    extra: [...cached.keys()].filter((k) => !want.has(k)).slice(0, 10),
    absent: present.filter((k) => !cached.has(k)).slice(0, 10),
  };
}

async function cacheConverges(what: string, table: string, prefix: string, present: () => Promise<string[]>): Promise<void> {
  let last: ReturnType<typeof cacheDiff> | string = 'not read yet';
  try {
    await waitFor(
      async () => {
        last = cacheDiff(await pgRows(table), await redisRows(prefix), await present());
        return last.stale.length + last.extra.length + last.absent.length === 0;
      },
      90_000,
      what,
    );
  } catch {
    expect({ what, last }).toEqual({ what, last: { stale: [], extra: [], absent: [] } });
  }
}

async function pgIds(query: string): Promise<string[]> {
  const c = await pgClient();
  try {
    return (await c.query<{ id: number }>(query)).rows.map((r) => String(r.id));
  } finally {
    await c.end();
  }
}

describe('Redis write-through: ADD COLUMN … DEFAULT and RENAME COLUMN', () => {
  for (const [name, ddl, change] of [
    ['ADD COLUMN … DEFAULT', 'ALTER TABLE public.%T ADD COLUMN d int DEFAULT 7, ADD COLUMN e text DEFAULT \'x y\'', 'UPDATE public.%T SET d = NULL WHERE id % 10 = 0'],
    ['RENAME COLUMN', 'ALTER TABLE public.%T RENAME COLUMN a TO b', 'UPDATE public.%T SET b = \'renamed\' || id WHERE id % 10 = 0'],
  ] as const) {
    it(`${name}: keys in the old shape are invalidated (readers reload from Postgres), rows written since stay cached`, async () => {
      const id = uniq('schema_rd');
      const T = id;
      await sql(`CREATE TABLE public.${T} (id int PRIMARY KEY, a text, n int)`);
      const { prefix } = await startSource(id, [T]);
      // written after the source started (no snapshot), before the sink subscribes (the topic must exist)
      await sql(`INSERT INTO public.${T} SELECT g, 'a' || g, g FROM generate_series(1, 60) g`);
      const topic = `${prefix}.public.${T}`;
      const keyPrefix = `${id}:row:`;
      const offsetsKey = `${id}:offsets`;
      cleanups.push(async () => {
        await deleteRedis(`${id}:*`);
        await deleteRedis(`cdc:ver@*${id}:*`);
      });
      const config = resolveSinkConfig(
        sinkCommonSpec.parse({ name: 'cache', type: 'redis', topics: [topic], 'batch.max.records': 25, 'batch.max.wait.ms': 20, 'errors.retry.initial.backoff.ms': 50, 'errors.retry.max.backoff.ms': 500 }),
        { pipeline: id, topicPrefix: prefix },
      );
      const sink = redisPlugin.create(
        redisPlugin.spec.parse(redisSinkInput(ep.redisUrl, REDIS_DB, { [`public.${T}`]: { keys: [`${keyPrefix}{id}`], mode: 'write-through' } }, { 'offsets.key': offsetsKey })),
        { pipeline: id, sinkName: "cache", topicPrefix: prefix, groupId: config.groupId, logger: silentLogger },
      );
      const runner = new SinkRunner({ kafka, sink, config, pipeline: id, logger: silentLogger, sessionTimeoutMs: 6000 });
      cleanups.push(() => runner.stop());
      await runner.start();
      const all = (): Promise<string[]> => pgIds(`SELECT id FROM public.${T}`);
      await cacheConverges('before the change', T, keyPrefix, all);

      await sql(
        ddl.replace('%T', T),
        change.replace('%T', T),
        `INSERT INTO public.${T} SELECT g, 'new' || g, g FROM generate_series(61, 70) g`,
        `DELETE FROM public.${T} WHERE id = 30`,
      );
      // rows changed since the ALTER are cached in the new shape; the others are not cached at all
      const changed = (): Promise<string[]> => pgIds(`SELECT id FROM public.${T} WHERE id % 10 = 0 OR id > 60`);
      await cacheConverges('after the change', T, keyPrefix, changed);
      const cached = await redisRows(keyPrefix);
      expect([...cached.keys()].sort()).toEqual((await changed()).sort());
      expect(runner.failedTables()).toEqual([]);
      // later changes are cached again, in the new shape
      await sql(`UPDATE public.${T} SET n = n + 1 WHERE id % 3 = 0`);
      await cacheConverges('later changes', T, keyPrefix, () => pgIds(`SELECT id FROM public.${T} WHERE id % 10 = 0 OR id > 60 OR id % 3 = 0`));
    }, 300_000);
  }

  it('an older change in the old shape applied after the new shape was seen (a lagging partition) is not cached', async () => {
    const T = uniq('schema_rdl');
    const keyPrefix = `${T}:row:`;
    const offsetsKey = `${T}:offsets`;
    cleanups.push(async () => {
      await deleteRedis(`${T}:*`);
      await deleteRedis(`cdc:ver@*${T}:*`);
    });
    const sink = redisPlugin.create(
      redisPlugin.spec.parse(redisSinkInput(ep.redisUrl, REDIS_DB, { [`public.${T}`]: { keys: [`${keyPrefix}{id}`], mode: 'write-through' } }, { 'offsets.key': offsetsKey })),
      { pipeline: T, sinkName: 'cache', topicPrefix: 'test', logger: silentLogger },
    );
    await sink.open();
    cleanups.push(() => sink.close());
    let offset = 0;
    const apply = async (partition: number, records: ReturnType<typeof sinkRecord>[]): Promise<void> => {
      const batch = sinkBatch(records, { partition, firstOffset: offset });
      offset += records.length;
      const result = await sink.write(batch);
      expect(result.rejected.map((r) => r.error.message)).toEqual([]);
      await sink.commit([{ topic: batch.topic, partition, offset: String(offset) }]);
    };
    // partition 0: ids 1 and 3 in the old shape
    await apply(0, [sinkRecord({ table: T, op: 'c', after: { id: 1, a: 'x' }, position: 100 }), sinkRecord({ table: T, op: 'c', after: { id: 3, a: 'z' }, position: 110 })]);
    expect([...(await redisRows(keyPrefix)).keys()].sort()).toEqual(['1', '3']);
    // partition 0: id 1 in the new shape (RENAME a TO b, ADD d DEFAULT 7)
    await apply(0, [sinkRecord({ table: T, op: 'u', after: { id: 1, b: 'y', d: null }, position: 300 })]);
    // partition 1, lagging: id 2's insert from before the ALTER, in the old shape
    await apply(1, [sinkRecord({ table: T, op: 'c', after: { id: 2, a: 'old' }, position: 200 })]);
    const cached = await redisRows(keyPrefix);
    expect(Object.fromEntries(cached)).toEqual({ 1: { id: 1, b: 'y', d: null } });
    // the shape is stored with the offsets; a restarted sink (watermark stored too) does not cache an old-shape change either
    expect(JSON.parse((await redis.hget(`${offsetsKey}:shapes`, `public.${T}`)) ?? '{}')).toMatchObject({ columns: JSON.stringify(['b', 'd', 'id']) });
    const again = redisPlugin.create(
      redisPlugin.spec.parse(redisSinkInput(ep.redisUrl, REDIS_DB, { [`public.${T}`]: { keys: [`${keyPrefix}{id}`], mode: 'write-through' } }, { 'offsets.key': offsetsKey })),
      { pipeline: T, sinkName: 'cache', topicPrefix: 'test', logger: silentLogger },
    );
    await again.open();
    cleanups.push(() => again.close());
    const replay = sinkBatch([sinkRecord({ table: T, op: 'c', after: { id: 4, a: 'w' }, position: 250 })], { partition: 2, firstOffset: 0 });
    await again.write(replay);
    await again.commit([{ topic: replay.topic, partition: 2, offset: '1' }]);
    expect(Object.fromEntries(await redisRows(keyPrefix))).toEqual({ 1: { id: 1, b: 'y', d: null } });
  }, 120_000);
});
