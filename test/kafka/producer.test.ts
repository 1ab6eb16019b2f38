/**
 * The source's TransactionalProducer (src/kafka/producer.ts) against the stack's Kafka, read back
 * with kafkajs (the sinks' client): records land in the partition the Java client (and Debezium)
 * would pick for their key, tombstones stay null, headers survive, aborted records are never
 * visible to read_committed, and a second instance fences the first at connect, aborting its open
 * transaction.
 */
import { randomUUID } from 'node:crypto';
import { Partitioners, type Consumer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { ProducerFencedError, TransactionalProducer, type KafkaRecord } from '../../src/kafka/producer.js';
import { testKafka } from '../support/kafka.js';

const run = randomUUID().slice(0, 8);
const topic = `test-producer-${run}`;
const PARTITIONS = 7;
const brokers = [...endpoints().kafkaBrokers];
const config = kafkaSpec.parse({ 'bootstrap.servers': brokers.join(',') });
const kafka = testKafka({ clientId: `test-producer-${run}`, brokers });
const admin = kafka.admin();
const producers: TransactionalProducer[] = [];
let consumer: Consumer | undefined;

afterAll(async () => {
  await consumer?.disconnect();
  for (const p of producers) await p.close();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

function producer(transactionalId: string): TransactionalProducer {
  const p = new TransactionalProducer(config, { transactionalId, transactionTimeoutMs: 30_000 });
  producers.push(p);
  return p;
}

interface Seen {
  partition: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

async function readAll(count: number): Promise<Seen[]> {
  consumer = kafka.consumer({ groupId: `test-producer-${run}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: Seen[] = [];
  await new Promise<void>((resolve) => {
    void consumer!.run({
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        seen.push({ partition, key: message.key?.toString() ?? null, value: message.value === null ? null : message.value.toString(), headers });
        if (seen.length >= count) resolve();
      },
    });
  });
  // A straggler (an aborted record wrongly visible) would arrive now.
  await new Promise((r) => setTimeout(r, 500));
  return seen;
}

describe('TransactionalProducer', () => {
  it('partitions like the Java client, keeps tombstones null and headers, hides aborted records', async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    const p = producer(`test-producer-${run}`);
    await p.connect();

    await p.send([{ topic, key: '{"id":"aborted"}', value: '{"op":"c"}' }]);
    await p.abort();

    const records: KafkaRecord[] = [];
    for (let i = 0; i < 300; i++) records.push({ topic, key: JSON.stringify({ id: i }), value: JSON.stringify({ op: 'c', id: i }) });
    records.push({ topic, key: '{"id":0}', value: null, headers: { 'cdc-fanout-test': 'tombstone' } });
    await p.send(records.slice(0, 150));
    await p.send(records.slice(150));
    await p.commit();

    const seen = await readAll(records.length);
    expect(seen).toHaveLength(records.length);
    expect(seen.some((s) => s.key === '{"id":"aborted"}')).toBe(false);

    // kafkajs' DefaultPartitioner is the Java client's murmur2(key) mod partitions.
    const java = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
    const used = new Set<number>();
    for (const s of seen) {
      expect(s.partition, `key ${s.key}`).toBe(java({ topic, partitionMetadata, message: { key: s.key, value: s.value } }));
      used.add(s.partition);
    }
    expect(used.size).toBe(PARTITIONS);

    const tombstone = seen.find((s) => s.value === null);
    expect(tombstone).toEqual({ partition: expect.any(Number), key: '{"id":0}', value: null, headers: { 'cdc-fanout-test': 'tombstone' } });
    // Per key, order is kept: the create of id 0 comes before its tombstone.
    expect(seen.filter((s) => s.key === '{"id":0}').map((s) => s.value)).toEqual(['{"op":"c","id":0}', null]);
  });

  it('a second instance with the same transactionalId fences the first at connect', async () => {
    const id = `test-producer-fence-${run}`;
    const first = producer(id);
    await first.connect();
    await first.send([{ topic, key: '{"id":"zombie"}', value: '{}' }]);
    const second = producer(id);
    await second.connect();
    await expect(first.commit()).rejects.toBeInstanceOf(ProducerFencedError);
    // The fenced one stays refused; the new one works.
    await expect(first.send([{ topic, key: '{"id":"zombie-2"}', value: '{}' }])).rejects.toBeInstanceOf(ProducerFencedError);
    await second.send([{ topic, key: '{"id":"new"}', value: '{}' }]);
    await second.commit();

    // The zombie's open transaction was aborted by the new instance's InitProducerId (daemon HA:
    // a taken-over daemon's half-written transaction): read_committed sees the new record only.
    const reader = kafka.consumer({ groupId: `test-producer-fence-${run}`, readUncommitted: false });
    await reader.connect();
    try {
      await reader.subscribe({ topic, fromBeginning: true });
      const keys: string[] = [];
      await new Promise<void>((resolve) => {
        void reader.run({
          eachMessage: async ({ message }) => {
            keys.push(message.key?.toString() ?? '');
            if (keys.includes('{"id":"new"}')) resolve();
          },
        });
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(keys.filter((k) => k.includes('zombie'))).toEqual([]);
      expect(keys.filter((k) => k === '{"id":"new"}')).toHaveLength(1);
    } finally {
      await reader.disconnect();
    }
  });
});
