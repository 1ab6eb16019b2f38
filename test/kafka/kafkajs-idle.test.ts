/**
 * The kafkajs request-queue fix (src/kafka/kafkajs-request-queue.ts) against the stack's Kafka: an
 * idle connection arms no timer any more (kafkajs 2.2.4 woke up every ~1 ms per connection, and
 * Node 24 warned about the negative delay), while requests that have to queue behind
 * maxInFlightRequests are still all sent and answered.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaClient } from '../../src/kafka/client.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { kafkajsRequestQueuePatched } from '../../src/kafka/kafkajs-request-queue.js';

const require = createRequire(import.meta.url);
const run = randomUUID().slice(0, 8);
const topic = `test-kafkajs-idle-${run}`;
const config = kafkaSpec.parse({ 'bootstrap.servers': [...endpoints().kafkaBrokers].join(','), 'client.id': `test-kafkajs-idle-${run}` });
const kafka = kafkaClient(config);
const admin = kafka.admin();
const producer = kafka.producer({ maxInFlightRequests: 1, allowAutoTopicCreation: false });

const warnings: Error[] = [];
const onWarning = (w: Error): void => void warnings.push(w);
process.on('warning', onWarning);

/** Counts RequestQueue.checkPendingRequests calls (kafkajs' queue check, the loop's body). */
const proto = (require('kafkajs/src/network/requestQueue/index.js') as { prototype: { checkPendingRequests(): void } }).prototype;
const originalCheck = proto.checkPendingRequests;
let checks = 0;
proto.checkPendingRequests = function (this: unknown): void {
  checks++;
  originalCheck.call(this);
};

afterAll(async () => {
  proto.checkPendingRequests = originalCheck;
  process.off('warning', onWarning);
  await producer.disconnect().catch(() => undefined);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

describe('kafkajs request queue (patched)', () => {
  it('is patched for the kafkajs version in package-lock.json', () => {
    expect(kafkajsRequestQueuePatched()).toBe(true);
  });

  it('arms no timer on an idle connection, and still answers afterwards', async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    await admin.fetchTopicMetadata({ topics: [topic] });
    checks = 0;
    // Unpatched, kafkajs re-checks its queue every ~1 ms here (hundreds of calls in this pause).
    await new Promise((r) => setTimeout(r, 500));
    expect(checks).toBe(0);
    expect((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions).toHaveLength(3);
    expect(warnings.filter((w) => w.name === 'TimeoutNegativeWarning')).toEqual([]);
  });

  it('sends every request that had to queue behind maxInFlightRequests: 1', async () => {
    await producer.connect();
    const sends = Array.from({ length: 30 }, (_, i) => producer.send({ topic, messages: [{ key: `k${i}`, value: `v${i}`, partition: i % 3 }] }));
    const results = await Promise.all(sends);
    expect(results.flat()).toHaveLength(30);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBe(30);
  });
});
