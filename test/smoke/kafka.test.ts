/**
 * Smoke: kafkajs 2.2.4 against the stack's Kafka (KRaft, 4.x) — a transactional producer commits one
 * message and aborts another; a read_committed consumer group sees only the committed one.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Producer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { testKafka } from '../support/kafka.js';

const run = randomUUID().slice(0, 8);
const topic = `smoke-kafka-${run}`;
const kafka = testKafka({ clientId: `smoke-${run}` });
const admin = kafka.admin();
let producer: Producer | undefined;
let consumer: Consumer | undefined;

afterAll(async () => {
  await consumer?.disconnect();
  await producer?.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

describe('kafka (kafkajs, transactions, read_committed)', () => {
  it('delivers committed transactional messages and hides aborted ones', async () => {
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);

    producer = kafka.producer({ idempotent: true, transactionalId: `smoke-tx-${run}`, maxInFlightRequests: 1 });
    await producer.connect();

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'k', value: 'aborted' }] });
    await aborted.abort();

    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ key: 'k', value: 'committed-1' }, { key: 'k', value: 'committed-2' }] });
    await committed.commit();

    consumer = kafka.consumer({ groupId: `smoke-group-${run}`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      void consumer!.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value?.toString() ?? '');
          if (seen.length >= 2) resolve();
        },
      });
    });
    await done;
    // Give a straggling aborted record a chance to show up before asserting it never does.
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toEqual(['committed-1', 'committed-2']);
  });
});
