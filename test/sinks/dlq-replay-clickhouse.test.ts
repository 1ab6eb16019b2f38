/**
 * DLQ replay through the runtime against the real Kafka and ClickHouse (upsert table): a column
 * narrowed by hand (qty Int8) makes the sink reject the changes whose value does not fit; they are
 * dead-lettered; one of those rows then gets a newer change that fits and is applied live. After
 * the fix (the column widened again) `replayDlq` applies the dead-lettered changes through the
 * sink's write path with their original versions: the one older than the row's live change is
 * skipped, the table (read with FINAL) matches the model row by row, and a rerun reads nothing.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { ClickHouseSink, clickhouseSpec } from '../../src/sinks/clickhouse/index.js';
import { listDlq, replayDlq, type DlqTarget } from '../../src/sinks/runtime/dlq-replay.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';
import { debeziumMessage, pos } from '../support/records.js';
import { createTopic, kafka, logger, sendTx, sinkConfig, txProducer, waitFor } from './runtime-support.js';

const run = randomUUID().slice(0, 8);
const database = `cdc_dlqch_${run}`;
const chUrl = endpoints().clickhouseUrl;
const ch = createClient({ url: chUrl, log: { level: 127 } });
const topic = `dlqch-${run}-src`;
const dlqTopic = `dlqch-${run}-dlq`;
let admin: Admin;
let producer: Producer;

const config = sinkConfig({ name: 'analytics', type: 'clickhouse', topics: [topic], 'group.id': `dlqch-${run}`, 'errors.tolerance': 'dlq', 'errors.deadletterqueue.topic.name': dlqTopic, 'batch.max.records': 2 });
const target: DlqTarget = {
  kafka,
  config,
  pipeline: 'rt',
  topicPrefix: 'test',
  logger,
  createSink: () => new ClickHouseSink({ config: clickhouseSpec.parse({ url: chUrl, database }), group: config.groupId, logger }),
  sessionTimeoutMs: 6000,
};

async function rows(): Promise<Record<number, number>> {
  const rs = await ch.query({ query: `SELECT id, qty FROM ${database}.public_items FINAL WHERE _deleted = 0 ORDER BY id`, format: 'JSONEachRow' });
  const out: Record<number, number> = {};
  for (const r of await rs.json<{ id: string | number; qty: string | number }>()) out[Number(r.id)] = Number(r.qty);
  return out;
}

async function runLive(until: () => Promise<boolean>): Promise<void> {
  const runner = new SinkRunner({ kafka, sink: target.createSink(), config, pipeline: 'rt', logger, sessionTimeoutMs: 6000 });
  await runner.start();
  try {
    await waitFor('the live sink caught up', until, 90_000, 200);
  } finally {
    await runner.stop();
  }
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = await txProducer();
  await createTopic(admin, topic, 1);
});

afterAll(async () => {
  await producer?.disconnect();
  await admin.deleteTopics({ topics: [topic, dlqTopic] }).catch(() => undefined);
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`dlqch-${run}`));
  if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
  await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await ch.close();
});

describe('DLQ replay, ClickHouse (real Kafka, real ClickHouse)', () => {
  it('values that did not fit a narrowed column are replayed after widening it; the one older than a live change is stale', async () => {
    const item = (id: number, qty: number, lsn: number) => ({ partition: 0, message: debeziumMessage({ table: 'items', op: id > 5 && qty > 100 ? 'c' : 'u', after: { id, qty }, position: pos(lsn) }) });
    await sendTx(producer, topic, [1, 2, 3, 4, 5].map((id) => ({ partition: 0, message: debeziumMessage({ table: 'items', op: 'c', after: { id, qty: id }, position: pos(100 + id) }) })));
    await runLive(async () => Object.keys(await rows().catch(() => ({}))).length === 5);

    // The cause: qty narrowed to Int8 by hand; changes with qty > 127 are rejected and dead-lettered.
    await ch.command({ query: `ALTER TABLE ${database}.public_items MODIFY COLUMN qty Int8` });
    await sendTx(producer, topic, [item(1, 301, 200), item(2, 302, 201), item(3, 303, 202), item(6, 406, 203)]);
    // Row 2 changes again, with a value that fits: applied live, newer than its dead-lettered change.
    await sendTx(producer, topic, [item(2, 7, 300)]);
    await runLive(async () => (await rows())[2] === 7 && (await listDlq(target)).total === 4);
    expect(await rows()).toEqual({ 1: 1, 2: 7, 3: 3, 4: 4, 5: 5 });
    const l = await listDlq(target);
    expect(l.tables[0]!.errors[0]!.message).toContain('out of range for Int8');

    // The fix, then the replay.
    await ch.command({ query: `ALTER TABLE ${database}.public_items MODIFY COLUMN qty Int32` });
    const r = await replayDlq(target);
    expect(r).toMatchObject({ read: 4, replayed: 4, applied: 3, stale: 1, failedAgain: 0 });
    expect(await rows()).toEqual({ 1: 301, 2: 7, 3: 303, 4: 4, 5: 5, 6: 406 });
    expect(await replayDlq(target)).toMatchObject({ read: 0, partitions: [] });
    expect(await rows()).toEqual({ 1: 301, 2: 7, 3: 303, 4: 4, 5: 5, 6: 406 });
  }, 300_000);
});
