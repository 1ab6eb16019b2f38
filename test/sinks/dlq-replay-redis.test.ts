/**
 * DLQ replay through the runtime against the real Kafka and Redis (write-through): records the
 * Redis sink rejects (a write.key template whose column is NULL) are dead-lettered; after the config
 * is fixed, `replayDlq` with `table` applies that table's records and puts the other table's back
 * at the DLQ tail with their original error; a record of another sink sharing the DLQ topic is
 * passed over; records that fail again go back once and the replay ends; the replay position lives
 * in the sink's own offsets hash (same MULTI/EXEC as the effects); a rerun reads nothing.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { DLQ_HEADERS } from '../../src/kafka/dlq-producer.js';
import { RedisSink } from '../../src/sinks/redis/sink.js';
import { redisSinkSpec } from '../../src/sinks/redis/spec.js';
import { redisDbUrl, redisSinkInput } from '../support/redis-config.js';
import { listDlq, replayDlq, type DlqTarget } from '../../src/sinks/runtime/dlq-replay.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';
import { debeziumMessage, pos } from '../support/records.js';
import { createTopic, kafka, logger, sendTx, sinkConfig, txProducer, waitFor } from './runtime-support.js';

const run = randomUUID().slice(0, 8);
const P = `dlqr-${run}:`;
const DB = 12;
const url = endpoints().redisUrl;
const redis = new Redis(redisDbUrl(url, DB));
const topic = `dlqr-${run}-src`;
const dlqTopic = `dlqr-${run}-dlq`;
const offsetsKey = `${P}offsets`;
let admin: Admin;
let producer: Producer;

/** The sink config with write.key templates per table (the "fix" is a new template). */
function tables(itemKey: string, orderKey: string): Record<string, unknown> {
  return {
    'public.items': { keys: [itemKey], mode: 'write-through' },
    'public.orders': { keys: [orderKey], mode: 'write-through' },
  };
}

const config = sinkConfig({ name: 'cache', topics: [topic], 'group.id': `${P}group`, 'errors.tolerance': 'dlq', 'errors.deadletterqueue.topic.name': dlqTopic, 'batch.max.records': 4 });

function target(t: Record<string, unknown>): DlqTarget {
  return {
    kafka,
    config,
    pipeline: 'rt',
    topicPrefix: 'test',
    logger,
    createSink: () => new RedisSink(redisSinkSpec.parse(redisSinkInput(url, DB, t)), offsetsKey, logger),
    sessionTimeoutMs: 6000,
  };
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = await txProducer();
  await createTopic(admin, topic, 2);
});

afterAll(async () => {
  await producer?.disconnect();
  await admin.deleteTopics({ topics: [topic, dlqTopic] }).catch(() => undefined);
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(P));
  if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  const keys = await redis.keys(`*${P}*`);
  if (keys.length) await redis.unlink(...keys);
  await redis.quit();
  await admin.disconnect();
});

describe('DLQ replay, Redis write-through (real Kafka, real Redis)', () => {
  it('replays one table after a config fix, keeps the others, skips other sinks, stores its position in the offsets hash', async () => {
    // items 1-4 have a code, 5-8 not (rejected by "item:{code}"); orders 1-3 have no ref (rejected by "order:{ref}").
    const items = Array.from({ length: 8 }, (_, i) => ({ id: i + 1, code: i < 4 ? `c${i + 1}` : null, n: i }));
    const orders = Array.from({ length: 3 }, (_, i) => ({ id: i + 1, ref: null, total: 10 * (i + 1) }));
    let lsn = 100;
    await sendTx(producer, topic, [
      ...items.map((after) => ({ partition: after.id % 2, message: debeziumMessage({ table: 'items', op: 'c', after, position: pos(lsn++) }) })),
      ...orders.map((after) => ({ partition: after.id % 2, message: debeziumMessage({ table: 'orders', op: 'c', after, position: pos(lsn++) }) })),
    ]);
    const live = new SinkRunner({ kafka, sink: target(tables(`${P}item:{code}`, `${P}order:{ref}`)).createSink(), config, pipeline: 'rt', logger, sessionTimeoutMs: 6000 });
    await live.start();
    try {
      await waitFor('7 dead letters', async () => (await listDlq(target({ 'public.items': { keys: ['x:{id}'] } }))).total === 7, 60_000);
    } finally {
      await live.stop();
    }
    expect(await redis.exists(...[1, 2, 3, 4].map((i) => `${P}item:c${i}`))).toBe(4);
    // Another sink sharing the DLQ topic: its records are not this sink's to replay.
    const other = kafka.producer();
    await other.connect();
    await other.send({ topic: dlqTopic, messages: [{ key: '{"id":99}', value: '{}', headers: { [DLQ_HEADERS.sink]: 'other-sink', [DLQ_HEADERS.topic]: topic, [DLQ_HEADERS.partition]: '0', [DLQ_HEADERS.offset]: '0' } }] });
    await other.disconnect();

    // The fix for items only; replay items only.
    const fixedItems = target(tables(`${P}item:{id}`, `${P}order:{ref}`));
    const l = await listDlq(fixedItems);
    expect(l).toMatchObject({ total: 7, pending: 7 });
    expect(l.tables.map((t) => [t.table, t.pending])).toEqual([
      ['public.items', 4],
      ['public.orders', 3],
    ]);
    const first = await replayDlq(fixedItems, { table: 'public.items' });
    expect(first).toMatchObject({ read: 8, replayed: 4, applied: 4, stale: 0, failedAgain: 0, keptOtherTables: 3, otherSinks: 1, interrupted: false });
    for (const it of items.slice(4)) expect(JSON.parse((await redis.get(`${P}item:${it.id}`)) ?? 'null')).toEqual(it);
    // The replay position is in the sink's own offsets hash: the DLQ end when the replay started (8).
    expect(await redis.hget(offsetsKey, `${dlqTopic}:0`)).toBe('8');
    // The orders went back to the tail with their original error.
    const after1 = await listDlq(fixedItems);
    expect(after1).toMatchObject({ total: 10, pending: 3 });
    expect(after1.tables.find((t) => t.table === 'public.orders')!.errors[0]!.message).toContain('write.key template');

    // Replay everything before orders are fixed: they fail again, once, and the replay ends.
    const again = await replayDlq(fixedItems);
    expect(again).toMatchObject({ read: 3, replayed: 3, applied: 0, failedAgain: 3 });
    expect(again.failures.map((f) => f.table)).toEqual(['public.orders', 'public.orders', 'public.orders']);
    expect(await redis.hget(offsetsKey, `${dlqTopic}:0`)).toBe('11');

    // The fix for orders: applied; a rerun reads nothing.
    const fixedAll = target(tables(`${P}item:{id}`, `${P}order:{id}`));
    const last = await replayDlq(fixedAll);
    expect(last).toMatchObject({ read: 3, replayed: 3, applied: 3, failedAgain: 0 });
    for (const o of orders) expect(JSON.parse((await redis.get(`${P}order:${o.id}`)) ?? 'null')).toEqual(o);
    expect(await replayDlq(fixedAll)).toMatchObject({ read: 0, replayed: 0, partitions: [] });
    expect(await listDlq(fixedAll)).toMatchObject({ total: 13, pending: 0 });

  }, 240_000);
});
