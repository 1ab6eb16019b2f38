/**
 * Streaming PG → Kafka against the real stack: inserts, updates, deletes (tombstones), PK update
 * (delete + create), truncate, logical messages, TOAST placeholder, schema change mid-stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, pgClient, pgConfig, uniq, waitFor, type ConsumedRecord } from './helpers.js';

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
    {
      ...pgConfig(),
      name: id,
      'topic.prefix': prefix,
      'slot.name': slot,
      'publication.name': publication,
      'publication.autocreate.mode': 'filtered',
      'table.include.list': table.replace('.', '\\.'),
      'snapshot.mode': 'never',
    },
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
  });
});
