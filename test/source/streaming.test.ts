/**
 * Streaming PG → Kafka against the real stack: inserts, updates, deletes (tombstones), PK update
 * (delete + create), truncate, logical messages, TOAST placeholder, schema change mid-stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { metrics } from '../../src/observability/metrics.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafka, kafkaConfig, oneTableSource, pgClient, uniq, waitFor, type ConsumedRecord } from './helpers.js';

const id = uniq('src_stream');
const table = `public.${id}`;
const prefix = id.replace(/_/g, '-');
const slot = id;
const publication = `${id}_pub`;
const topic = `${prefix}.public.${id}`;
let source: PostgresSource;

beforeAll(async () => {
  const c = await pgClient();
  await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text, qty int, big text)`);
  await c.query(`ALTER TABLE ${table} ALTER COLUMN big SET STORAGE EXTERNAL`);
  await c.end();
  source = new PostgresSource(
    oneTableSource(id, {
      'snapshot.mode': 'never',
      // Messages are database-wide: only this test's prefix (also keeps other tests' messages out).
      'message.prefix.include.list': ['outbox'],
    }),
    kafkaConfig,
    silentLogger,
  );
  await source.start();
  await waitFor(() => source.status().state === 'streaming', 30000, 'streaming');
});

afterAll(async () => {
  await source?.stop();
  await cleanup({ slot, publication, topicPrefix: prefix, tables: [table] });
});

const ops = (recs: readonly ConsumedRecord[]): string[] => recs.filter((r) => r.topic === topic).map((r) => (r.json ? String(r.json.op) : 'tombstone'));

describe('streaming source', () => {
  it('publishes inserts, updates, deletes with Debezium envelopes, keys and tombstones', async () => {
    const c = await pgClient();
    await c.query(`INSERT INTO ${table} (id, name, qty) VALUES (1, 'a', 10), (2, 'b', 20)`);
    await c.query(`UPDATE ${table} SET qty = 11 WHERE id = 1`);
    await c.query(`DELETE FROM ${table} WHERE id = 2`);
    await c.end();
    const recs = await consume([topic], (r) => r.length >= 5);
    expect(ops(recs).sort()).toEqual(['c', 'c', 'd', 'tombstone', 'u'].sort());
    const byKey = recs.filter((r) => r.key === '{"id":1}');
    expect(byKey.map((r) => r.json?.op)).toEqual(['c', 'u']);
    const upd = byKey[1]!.json!;
    expect(upd.after).toMatchObject({ id: 1, name: 'a', qty: 11 });
    expect(upd.source).toMatchObject({ connector: 'postgresql', name: prefix, schema: 'public', table: id, snapshot: 'false' });
    const del = recs.filter((r) => r.key === '{"id":2}');
    expect(del.map((r) => (r.json ? r.json.op : null))).toEqual(['c', 'd', null]);
    expect(del[1]!.json!.before).toMatchObject({ id: 2 });
    expect(del[1]!.json!.after).toBeNull();
    // headers carry the position; inside one PG tx seq increases
    expect(BigInt(byKey[1]!.headers['cdc.commit_lsn']!)).toBeGreaterThan(BigInt(byKey[0]!.headers['cdc.commit_lsn']!));
    await waitFor(() => source.status().confirmedLsn !== null, 10000, 'LSN confirmed');
    // events read, per table and op (labels cached per relation in the streaming source)
    const read = (await metrics.sourceEventsRead.get()).values.filter((v) => v.labels.pipeline === id && v.labels.table === table);
    const byOp = Object.fromEntries(read.map((v) => [v.labels.op, v.value]));
    expect(byOp).toEqual({ c: 2, u: 1, d: 1 });
  });

  it('PK update → delete (+tombstone) at the old key and create at the new key', async () => {
    const c = await pgClient();
    await c.query(`INSERT INTO ${table} (id, name) VALUES (100, 'pk')`);
    await c.query(`UPDATE ${table} SET id = 101 WHERE id = 100`);
    await c.end();
    const recs = await consume([topic], (r) => r.some((x) => x.key === '{"id":101}'));
    const old = recs.filter((r) => r.key === '{"id":100}').map((r) => (r.json ? r.json.op : null));
    expect(old).toEqual(['c', 'd', null]);
    const neu = recs.filter((r) => r.key === '{"id":101}');
    expect(neu.map((r) => r.json?.op)).toEqual(['c']);
    expect(neu[0]!.json!.after).toMatchObject({ id: 101, name: 'pk' });
  });

  it('unchanged TOAST → placeholder, never null; a real NULL stays null', async () => {
    const c = await pgClient();
    // > 2 kB, non-compressible (random hex) and STORAGE EXTERNAL → stored out of line
    const big = (await c.query(`SELECT string_agg(md5(random()::text), '') AS s FROM generate_series(1, 200)`)).rows[0].s as string;
    await c.query(`INSERT INTO ${table} (id, name, big) VALUES (200, 'toast', $1)`, [big]);
    await c.query(`UPDATE ${table} SET qty = 1 WHERE id = 200`);
    await c.query(`UPDATE ${table} SET big = NULL, qty = 2 WHERE id = 200`);
    await c.end();
    const recs = await consume([topic], (r) => r.filter((x) => x.key === '{"id":200}').length >= 3);
    const evs = recs.filter((r) => r.key === '{"id":200}').map((r) => r.json!);
    expect((evs[0]!.after as Record<string, unknown>).big).toBe(big);
    expect((evs[1]!.after as Record<string, unknown>).big).toBe('__debezium_unavailable_value');
    expect((evs[1]!.after as Record<string, unknown>).qty).toBe(1);
    expect((evs[2]!.after as Record<string, unknown>).big).toBeNull();
  });

  it('truncate → op t; logical messages → message topic (op m), filtered by message.prefix.include.list', async () => {
    const c = await pgClient();
    await c.query(`BEGIN`);
    await c.query(`SELECT pg_logical_emit_message(true, 'outbox', 'hello-tx')`);
    await c.query(`SELECT pg_logical_emit_message(true, 'outbox-audit', 'filtered: the include entry is anchored')`);
    await c.query(`COMMIT`);
    await c.query(`SELECT pg_logical_emit_message(false, 'noise', 'filtered')`);
    await c.query(`SELECT pg_logical_emit_message(false, 'outbox', 'hello-now')`);
    await c.query(`TRUNCATE ${table}`);
    await c.end();
    const msgTopic = `${prefix}.message`;
    const recs = await consume([topic, msgTopic], (r) => r.some((x) => x.json?.op === 't') && r.filter((x) => x.topic === msgTopic).length >= 2);
    const t = recs.find((r) => r.json?.op === 't')!;
    // The data topic is compacted (topic.cleanup.policy default), which rejects null keys: the
    // truncate carries {} (Debezium: null; README "Guarantees"). The message topic keeps `delete`.
    expect(t.key).toBe('{}');
    const admin = kafka.admin();
    await admin.connect();
    try {
      const res = await admin.describeConfigs({ includeSynonyms: false, resources: [topic, `${prefix}.message`].map((name) => ({ type: 2, name, configNames: ['cleanup.policy', 'min.compaction.lag.ms'] })) });
      const setting = (name: string, key: string): string | undefined => res.resources.find((r) => r.resourceName === name)?.configEntries.find((e) => e.configName === key)?.configValue;
      expect(setting(topic, 'cleanup.policy')).toBe('compact');
      // Compaction spares the last 7 days (topic.creation.min.compaction.lag.ms): a lagging sink
      // never meets an unchanged-TOAST update whose earlier full row was compacted away.
      expect(setting(topic, 'min.compaction.lag.ms')).toBe('604800000');
      expect(setting(`${prefix}.message`, 'cleanup.policy')).toBe('delete');
    } finally {
      await admin.disconnect();
    }
    expect(t.json!.source).toMatchObject({ table: id });
    const msgs = recs.filter((r) => r.topic === msgTopic).map((r) => r.json!.message as { prefix: string; content: string });
    expect(msgs.map((m) => Buffer.from(m.content, 'base64').toString())).toEqual(['hello-tx', 'hello-now']);
    expect(msgs[0]!.prefix).toBe('outbox');
  });

  it('schema change mid-stream: add, rename, retype, drop column — no restart', async () => {
    const c = await pgClient();
    await c.query(`ALTER TABLE ${table} ADD COLUMN extra numeric(10,2)`);
    await c.query(`INSERT INTO ${table} (id, name, extra) VALUES (300, 's1', 12.50)`);
    await c.query(`ALTER TABLE ${table} RENAME COLUMN name TO title`);
    await c.query(`INSERT INTO ${table} (id, title) VALUES (301, 's2')`);
    await c.query(`ALTER TABLE ${table} ALTER COLUMN qty TYPE bigint`);
    await c.query(`INSERT INTO ${table} (id, title, qty) VALUES (302, 's3', 9007199254740993)`);
    await c.query(`ALTER TABLE ${table} DROP COLUMN extra`);
    await c.query(`INSERT INTO ${table} (id, title) VALUES (303, 's4')`);
    await c.end();
    const recs = await consume([topic], (r) => [300, 301, 302, 303].every((k) => r.some((x) => x.key === `{"id":${k}}`)));
    const after = (k: number): Record<string, unknown> => recs.find((r) => r.key === `{"id":${k}}`)!.json!.after as Record<string, unknown>;
    expect(after(300)).toMatchObject({ id: 300, name: 's1', extra: '12.50' });
    expect(after(301)).toMatchObject({ title: 's2' });
    expect(after(301)).not.toHaveProperty('name');
    expect(after(302).qty).toBe('9007199254740993');
    expect(after(303)).not.toHaveProperty('extra');
    expect(source.status().state).toBe('streaming');
  });
});
