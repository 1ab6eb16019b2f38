/**
 * Why keyless records stay off compacted topics (README "Guarantees", docs/rebuild.md), on the
 * stack's broker: a record with a null key is refused (INVALID_RECORD) by a topic whose
 * cleanup.policy compacts — `compact` and `compact,delete` alike — and accepted by `delete`; the
 * key `{}` that truncate events carry on compacted data topics is accepted everywhere.
 */
import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafka } from '../support/kafka.js';

const run = randomUUID().slice(0, 8);
const kafka = testKafka({ clientId: `test-compacted-${run}`, retry: { retries: 2 } });
const admin = kafka.admin();
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 2 } });
const policies = ['compact', 'compact,delete', 'delete'] as const;
const topicOf = (p: string): string => `compacted-keys-${run}-${p.replace(',', '-')}`;

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: policies.map((p) => ({ topic: topicOf(p), numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: p }] })) });
  await producer.connect();
  // Metadata of the new topics (the first send to a just-created topic may miss its leader).
  await admin.fetchTopicMetadata({ topics: policies.map(topicOf) });
}, 60_000);

afterAll(async () => {
  await producer.disconnect().catch(() => undefined);
  await admin.deleteTopics({ topics: policies.map(topicOf) }).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
});

const send = async (topic: string, key: string | null): Promise<string> => {
  for (let attempt = 0; ; attempt++) {
    try {
      await producer.send({ topic, messages: [{ key, value: '{"op":"t"}' }] });
      return 'accepted';
    } catch (e) {
      const type = (e as { type?: string }).type ?? (e as { cause?: { type?: string } }).cause?.type;
      // A just-created topic's leader may not be known yet: that is not the answer we look for.
      if (type !== 'INVALID_RECORD' && attempt < 5) {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      return type ?? (e as Error).message;
    }
  }
};

describe('null keys and compacted topics (the broker decides)', () => {
  it.each(policies)('cleanup.policy=%s', async (policy) => {
    const topic = topicOf(policy);
    expect(await send(topic, null)).toBe(policy.includes('compact') ? 'INVALID_RECORD' : 'accepted');
    expect(await send(topic, '{}')).toBe('accepted');
  }, 60_000);
});
