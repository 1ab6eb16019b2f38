/**
 * TRUNCATE ordered like every other change, on the real stack (issue 20): Postgres → the real
 * source → Kafka topics with 3 partitions → the ClickHouse (delete, mark-deleted) and Redis
 * (write-through, truncate.mode delete) sinks, reconciled row by row against Postgres.
 *
 * The workload has `TRUNCATE a CASCADE` (so b too) in a transaction that also inserts a row before
 * it and rows after it, then 300 more inserts per table and updates. Truncate events have no key
 * and land on partition 0; the other rows spread over all partitions. The sinks are "paused" over
 * all of it (nothing is applied until every event is in Kafka), then each partition is applied
 * whole, in an adversarial order:
 *   - truncate last: partitions 1 and 2 of both topics first (older rows AND newer rows), then
 *     partition 0 — the truncate must keep the newer rows already applied;
 *   - truncate first: partition 0 first, then the others — the older rows arriving late must
 *     stay dropped.
 * Between the two halves the sink is closed and a new instance opened (a restart).
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import type { Row } from '../../src/events/change.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ClickHouseSink, clickhouseSpec } from '../../src/sinks/clickhouse/index.js';
import { RedisSink } from '../../src/sinks/redis/sink.js';
import { redisSinkSpec } from '../../src/sinks/redis/spec.js';
import { redisDbUrl, redisSinkInput } from '../support/redis-config.js';
import { decodeMessage } from '../../src/sinks/runtime/decode.js';
import type { Sink, SinkBatch, SinkRecord } from '../../src/sinks/sink.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, pgClient, pgConfig, uniq, waitFor, type ConsumedRecord } from '../source/helpers.js';

const id = uniq('trunc_order');
const A = `${id}_a`;
const B = `${id}_b`;
const prefix = id.replace(/_/g, '-');
const topicA = `${prefix}.public.${A}`;
const topicB = `${prefix}.public.${B}`;
const ep = endpoints();
const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });
const redis = new Redis(redisDbUrl(ep.redisUrl, 11), { lazyConnect: false });
const redisPrefix = `to-${randomUUID().slice(0, 8)}:`;
const databases: string[] = [];

let source: PostgresSource;
/** Every event of both topics, per topic and partition, in offset order. */
const byPartition = new Map<string, SinkRecord[]>();
/** Postgres state at the end: table → id → row. */
const expected = new Map<string, Map<number, Row>>();

beforeAll(async () => {
  const c = await pgClient();
  await c.query(`CREATE TABLE public.${A} (id int PRIMARY KEY, v text)`);
  await c.query(`CREATE TABLE public.${B} (id int PRIMARY KEY, a_id int REFERENCES public.${A} (id), v text)`);
  source = new PostgresSource(
    {
      ...pgConfig(),
      name: id,
      'topic.prefix': prefix,
      'slot.name': id,
      'publication.name': `${id}_pub`,
      'publication.autocreate.mode': 'filtered',
      'table.include.list': `public\\.${A},public\\.${B}`,
      'snapshot.mode': 'never',
    },
    kafkaConfig,
    silentLogger,
  );
  await source.start();
  await waitFor(() => source.status().state === 'streaming', 30_000, 'streaming');

  let events = 0;
  const insert = async (from: number, to: number, tag: string): Promise<void> => {
    await c.query(`INSERT INTO public.${A} (id, v) SELECT g, '${tag}' || g FROM generate_series($1::int, $2::int) g`, [from, to]);
    await c.query(`INSERT INTO public.${B} (id, a_id, v) SELECT g, g, '${tag}' || g FROM generate_series($1::int, $2::int) g`, [from, to]);
    events += 2 * (to - from + 1);
  };
  await insert(1, 200, 'old');
  await c.query(`UPDATE public.${A} SET v = v || '-u' WHERE id % 5 = 0`);
  events += 40;
  // one transaction: a row before the truncate, TRUNCATE … CASCADE, rows after it
  await c.query('BEGIN');
  await c.query(`INSERT INTO public.${A} (id, v) VALUES (9001, 'same tx, before the truncate')`);
  await c.query(`TRUNCATE public.${A} CASCADE`);
  await c.query(`INSERT INTO public.${A} (id, v) VALUES (9002, 'same tx, after the truncate'), (9003, 'same tx, after')`);
  await c.query(`INSERT INTO public.${B} (id, a_id, v) VALUES (9002, 9002, 'same tx, after the truncate')`);
  await c.query('COMMIT');
  events += 1 + 2 + 2 + 1;
  for (let i = 0; i < 3; i++) await insert(1000 + i * 100, 1099 + i * 100, `new${i}-`);
  await c.query(`UPDATE public.${B} SET v = v || '-u' WHERE id % 7 = 0`);
  events += (await c.query(`SELECT count(*)::int AS n FROM public.${B} WHERE id % 7 = 0`)).rows[0].n as number;

  for (const t of [A, B]) {
    const rows = (await c.query(`SELECT * FROM public.${t} ORDER BY id`)).rows as Row[];
    expected.set(t, new Map(rows.map((r) => [Number(r.id), r])));
  }
  await c.end();

  const records = await consume([topicA, topicB], (r) => r.length >= events, 120_000);
  expect(records.length).toBe(events);
  const sorted = [...records].sort((x, y) => x.topic.localeCompare(y.topic) || x.partition - y.partition || Number(BigInt(x.offset) - BigInt(y.offset)));
  for (const r of sorted) {
    const decoded = decodeMessage(r.topic, r.partition, toRaw(r));
    if (!decoded.ok) throw decoded.rejected.error;
    const k = `${r.topic}:${r.partition}`;
    byPartition.set(k, [...(byPartition.get(k) ?? []), decoded.record]);
  }
}, 240_000);

afterAll(async () => {
  await source?.stop();
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [`public.${B}`, `public.${A}`] });
  for (const db of databases) await ch.command({ query: `DROP DATABASE IF EXISTS ${db}` });
  await ch.close();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${redisPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
});

function toRaw(r: ConsumedRecord): Parameters<typeof decodeMessage>[2] {
  return { key: r.key === null ? null : Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value), offset: r.offset, headers: r.headers };
}

type Order = 'truncate-last' | 'truncate-first';

/** Partitions of both topics, in the order to apply them, split in two halves (restart between). */
function plan(order: Order): [string[], string[]] {
  const zero = [`${topicA}:0`, `${topicB}:0`];
  const others = [...byPartition.keys()].filter((k) => !zero.includes(k)).sort();
  return order === 'truncate-last' ? [others, zero] : [zero, others];
}

/** Applies whole partitions as the runtime would (write + commit per chunk of 50), with a restart between the halves. */
async function applyAll(order: Order, make: () => Sink): Promise<void> {
  let sink = make();
  await sink.open();
  const halves = plan(order);
  for (const [h, half] of halves.entries()) {
    if (h === 1) {
      await sink.close();
      sink = make();
      await sink.open();
    }
    for (const tp of half) {
      const records = byPartition.get(tp) ?? [];
      for (let i = 0; i < records.length; i += 50) {
        const chunk = records.slice(i, i + 50);
        const first = chunk[0]!;
        const batch: SinkBatch = { topic: first.topic, partition: first.partition, records: chunk };
        const result = await sink.write(batch);
        expect(result.rejected.map((r) => r.error.message)).toEqual([]);
        await sink.commit([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(chunk[chunk.length - 1]!.offset) + 1n).toString() }]);
      }
    }
  }
  await sink.close();
}

/** Row-by-row comparison: the sink's live rows (id → row) against Postgres. */
function reconcile(table: string, actual: Map<number, Row>): void {
  const want = expected.get(table)!;
  const missing = [...want.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !want.has(k));
  const differing = [...want].filter(([k, row]) => actual.has(k) && Object.entries(row).some(([c, v]) => String(actual.get(k)![c] ?? null) !== String(v ?? null)));
  expect({ table, missing: missing.slice(0, 10), extra: extra.slice(0, 10), differing: differing.slice(0, 5) }).toEqual({ table, missing: [], extra: [], differing: [] });
  expect(actual.size).toBe(want.size);
}

describe.each<Order>(['truncate-last', 'truncate-first'])('TRUNCATE … CASCADE with partitions applied %s', (order) => {
  it('workload sanity: the truncate transaction is in Kafka as expected', () => {
    const truncates = [...byPartition.values()].flat().filter((r) => r.op === 't');
    expect(truncates.map((r) => `${r.source?.table}@${r.partition}`).sort()).toEqual([`${A}@0`, `${B}@0`]);
    // the CASCADE's events share the commit LSN; the rows after it in the same transaction follow it
    const [ta, tb] = truncates;
    expect(ta!.position.commitLsn).toBe(tb!.position.commitLsn);
    const after = [...byPartition.values()].flat().find((r) => r.after?.id === 9002 && r.source?.table === A)!;
    expect(after.position.commitLsn).toBe(ta!.position.commitLsn);
    expect(after.position.seq).toBeGreaterThan(Math.max(ta!.position.seq, tb!.position.seq));
    expect(expected.get(A)!.size).toBe(302);
    expect(expected.get(B)!.size).toBe(301);
  });

  it.each(['delete', 'mark-deleted'] as const)('ClickHouse truncate.mode %s ends equal to Postgres', async (mode) => {
    const database = `cdc_trunc_${randomUUID().slice(0, 8)}`;
    databases.push(database);
    const config = clickhouseSpec.parse({ url: ep.clickhouseUrl, database, 'truncate.mode': mode });
    await applyAll(order, () => new ClickHouseSink({ config, group: 'truncate-order', logger: silentLogger }));
    for (const t of [A, B]) {
      const rs = await ch.query({ query: `SELECT * FROM ${database}.public_${t} FINAL WHERE _deleted = 0`, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
      reconcile(t, new Map((await rs.json<Row>()).map((r) => [Number(r.id), r])));
    }
  });

  it('Redis write-through (truncate.mode delete) ends equal to Postgres', async () => {
    const p = `${redisPrefix}${order}:`;
    const config = redisSinkSpec.parse(
      redisSinkInput(ep.redisUrl, 11, { [`public.${A}`]: { keys: [`${p}a:{id}`], mode: 'write-through' }, [`public.${B}`]: { keys: [`${p}b:{id}`], mode: 'write-through' } }, { 'truncate.mode': 'delete' }),
    );
    await applyAll(order, () => new RedisSink(config, `${p}offsets`, silentLogger));
    for (const [t, letter] of [[A, 'a'], [B, 'b']] as const) {
      const actual = new Map<number, Row>();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${p}${letter}:*`, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) {
          const v = await redis.get(k);
          if (v !== null) actual.set(Number(k.slice(`${p}${letter}:`.length)), JSON.parse(v) as Row);
        }
      } while (cursor !== '0');
      reconcile(t, actual);
    }
  });
});
