/**
 * Record sizes against the stack's Kafka: the transactional producer splits sends below a topic's
 * max.message.bytes and names the broker code (MESSAGE_TOO_LARGE) and the fix when a record cannot
 * fit; the dead-letter producer creates its topic with max.message.bytes, respects an existing
 * topic's value, and cuts an oversize record (header cdc.truncated) instead of failing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { DLQ_HEADERS, DlqProducer } from '../../src/kafka/dlq-producer.js';
import { KafkaOperationError } from '../../src/kafka/errors.js';
import { TransactionalProducer, type KafkaRecord } from '../../src/kafka/producer.js';
import type { RejectedRecord, SinkRecord } from '../../src/sinks/sink.js';
import { testKafka } from '../support/kafka.js';

const run = randomUUID().slice(0, 8);
const brokers = [...endpoints().kafkaBrokers];
const config = kafkaSpec.parse({ 'bootstrap.servers': brokers.join(',') });
const kafka = testKafka({ clientId: `test-oversize-${run}`, brokers });
const topics: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of closers) await c().catch(() => undefined);
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
});

async function createTopic(maxMessageBytes: number, partitions = 1): Promise<string> {
  const topic = `test-oversize-${run}-${topics.length}`;
  topics.push(topic);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, configEntries: [{ name: 'max.message.bytes', value: String(maxMessageBytes) }] }] });
  await admin.disconnect();
  return topic;
}

async function maxMessageBytes(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['max.message.bytes'] }] });
    return Number(r.resources[0]?.configEntries[0]?.configValue);
  } finally {
    await admin.disconnect();
  }
}

interface Read {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

async function readAll(topic: string, count: number): Promise<Read[]> {
  const consumer = kafka.consumer({ groupId: `test-oversize-${run}-${randomUUID().slice(0, 6)}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: Read[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${count} records from ${topic}`)), 60_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        out.push({ key: message.key?.toString() ?? null, value: message.value, headers });
        if (out.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return out;
}

describe('transactional producer and record size', () => {
  it('splits one transaction into requests below the topic limit', async () => {
    const topic = await createTopic(10_000, 2);
    const p = new TransactionalProducer(config, { transactionalId: `test-oversize-split-${run}`, transactionTimeoutMs: 30_000, batchLimit: () => 10_000 });
    closers.push(() => p.close());
    await p.connect();
    const records: KafkaRecord[] = Array.from({ length: 300 }, (_, i) => ({ topic, key: `k${i}`, value: `${i}:${'v'.repeat(1000)}` }));
    await p.send(records);
    await p.commit();
    const read = await readAll(topic, 300);
    expect(new Set(read.map((r) => r.key)).size).toBe(300);
  }, 90_000);

  it('a record the topic cannot take fails with the broker code and the fix, not only "Producing messages failed."', async () => {
    const topic = await createTopic(10_000);
    // No batchLimit: the producer believes max.request.size (1 MiB); the broker says no.
    const p = new TransactionalProducer(config, { transactionalId: `test-oversize-fail-${run}`, transactionTimeoutMs: 30_000 });
    closers.push(() => p.close());
    await p.connect();
    // A pipelined send returns before the broker answers: the refusal fails the commit at the latest.
    const err = await p.send([{ topic, key: 'big', value: 'x'.repeat(50_000) }]).then(() => p.commit()).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(KafkaOperationError);
    expect((err as KafkaOperationError).brokerCode).toBe('MESSAGE_TOO_LARGE');
    expect(err?.message).toContain('MESSAGE_TOO_LARGE');
    expect(err?.message).toContain('max.message.bytes');
    expect(err?.message).toContain('event.oversize.handling.mode');
  }, 90_000);
});

describe('dead-letter producer and record size', () => {
  const rejected = (topic: string, i: number, value: Buffer, message = 'mapping failed'): RejectedRecord => ({
    record: { topic, partition: 0, offset: String(i), raw: { key: Buffer.from(`{"id":${i}}`), value } } as unknown as SinkRecord,
    error: Object.assign(new Error(message), { name: 'MapperError' }),
  });

  it('respects an existing topic\'s small max.message.bytes: splits, and cuts an oversize record with a header', async () => {
    const topic = await createTopic(20_000);
    const dlq = new DlqProducer(kafka, topic, 'es-sink', { maxRequestSize: config['max.request.size'] });
    closers.push(() => dlq.stop());
    await dlq.start();
    expect(dlq.batchLimit).toBe(20_000);
    const batch = Array.from({ length: 60 }, (_, i) => rejected('data', i, Buffer.from(JSON.stringify({ i, pad: 'p'.repeat(1000) }))));
    batch.push(rejected('data', 60, Buffer.from(JSON.stringify({ i: 60, pad: 'ü'.repeat(50_000) })), 'E'.repeat(100_000)));
    await dlq.send(batch);
    const read = await readAll(topic, 61);
    expect(read).toHaveLength(61);
    const big = read.find((r) => r.key === '{"id":60}') as Read;
    expect(big.headers['cdc.truncated']).toBe(`${DLQ_HEADERS.message},value`);
    expect(big.value!.length).toBeLessThan(20_000);
    expect(big.value!.toString('utf8')).toMatch(/^\{"i":60,"pad":"ü+…\[truncated \d+ bytes\]$/);
    expect(big.headers[DLQ_HEADERS.message]!.length).toBeLessThan(9000);
    expect(read.filter((r) => r.headers['cdc.truncated'] !== undefined)).toHaveLength(1);
  }, 90_000);

  it('creates its topic with max.message.bytes = max.request.size', async () => {
    const topic = `test-oversize-${run}-dlq-new`;
    topics.push(topic);
    const dlq = new DlqProducer(kafka, topic, 'ch-sink', { maxRequestSize: 2 * 1024 * 1024 });
    closers.push(() => dlq.stop());
    await dlq.start();
    expect(await maxMessageBytes(topic)).toBe(2 * 1024 * 1024);
    await dlq.send([rejected('data', 1, Buffer.alloc(3 * 1024 * 1024, 'a')), rejected('data', 2, Buffer.alloc(1024 * 1024, 'b'))]);
    const read = await readAll(topic, 2);
    expect(read.map((r) => r.headers['cdc.truncated'])).toEqual(['value', undefined]);
    expect(read[0]!.value!.length).toBeLessThan(2 * 1024 * 1024);
    expect(read[1]!.value!.length).toBe(1024 * 1024);
  }, 90_000);
});
