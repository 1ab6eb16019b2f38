/** Helpers for the runtime tests: topics, a transactional producer of Debezium-shaped messages, waits. */
import { randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { silentLogger } from '../../src/observability/logger.js';
import { resolveSinkConfig, sinkCommonSpec, type ResolvedSinkConfig } from '../../src/sinks/runtime/config.js';
import { testKafka } from '../support/kafka.js';
import type { KafkaTestMessage } from '../support/records.js';

export const kafka = testKafka({ clientId: 'runtime-test' });

export async function createTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
}

export async function txProducer(): Promise<Producer> {
  const p = kafka.producer({ idempotent: true, transactionalId: `runtime-test-${randomUUID()}`, maxInFlightRequests: 1 });
  await p.connect();
  return p;
}

/** Sends messages in one Kafka transaction; `partition` chosen per message. */
export async function sendTx(producer: Producer, topic: string, messages: { partition: number; message: KafkaTestMessage }[], abort = false): Promise<void> {
  const tx = await producer.transaction();
  await tx.send({ topic, messages: messages.map(({ partition, message }) => ({ partition, key: message.key, value: message.value, headers: message.headers })) });
  if (abort) await tx.abort();
  else await tx.commit();
}

/** High watermarks per partition. With a transactional producer the last record is a commit marker. */
export async function highWatermarks(admin: Admin, topic: string): Promise<Map<number, string>> {
  const offs = await admin.fetchTopicOffsets(topic);
  return new Map(offs.map((o) => [o.partition, o.high]));
}

export function sinkConfig(fields: Record<string, unknown>): ResolvedSinkConfig {
  return resolveSinkConfig(sinkCommonSpec.parse({ type: 'redis', 'errors.retry.initial.backoff.ms': 50, 'errors.retry.max.backoff.ms': 500, 'batch.max.wait.ms': 20, ...fields }), {
    pipeline: 'rt',
    topicPrefix: 'rt',
  });
}

export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 100): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const logger = silentLogger;
