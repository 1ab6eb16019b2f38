/**
 * The webhook sink end to end: the real SinkRunner reading real Kafka topics (Debezium-shaped
 * messages from a transactional producer), the sink built through its registered plugin as the
 * daemon builds it, POSTing to a real local HTTP receiver (test/support/webhook-receiver.ts).
 * Checks: every change delivered in per-key order with valid signatures and offsets stored in the
 * Kafka group store; 5xx and 429 retried, Retry-After waited; a 400 dead-lettered alone while the
 * rest of its POST is delivered, and replayed (`dlq replay`) under its original id once the receiver
 * accepts it; a receiver down for 30 s caught up afterwards.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { DLQ_HEADERS } from '../../src/kafka/dlq-producer.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { loadSinkPlugin } from '../../src/sinks/registry.js';
import { replayDlq } from '../../src/sinks/runtime/dlq-replay.js';
import { KafkaGroupOffsetStore, offsetsGroupOf } from '../../src/sinks/runtime/kafka-group-offsets.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';
import type { Sink } from '../../src/sinks/sink.js';
import { debeziumMessage, pos } from '../support/records.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { createTopic, highWatermarks, kafka, logger, sendTx, sinkConfig, txProducer, waitFor } from './runtime-support.js';

const run = randomUUID().slice(0, 8);
const SECRET = 'webhook-test-secret-0123456789';
const kafkaConfig = kafkaSpec.parse({ 'bootstrap.servers': endpoints().kafkaBrokers.join(',') });
let admin: Admin;
let producer: Producer;
const topics: string[] = [];
const groups: string[] = [];
const runners: SinkRunner[] = [];
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = await txProducer();
});

afterAll(async () => {
  for (const r of runners) await r.stop().catch(() => undefined);
  for (const r of receivers) await r.close();
  await producer?.disconnect();
  await admin?.deleteTopics({ topics }).catch(() => undefined);
  await admin?.deleteGroups([...groups, ...groups.map(offsetsGroupOf)]).catch(() => undefined);
  await admin?.disconnect();
});

async function newTopic(name: string, partitions: number): Promise<string> {
  const topic = `wh-${run}-${name}`;
  await createTopic(admin, topic, partitions);
  topics.push(topic);
  return topic;
}

async function newReceiver(): Promise<WebhookReceiver> {
  const r = new WebhookReceiver(SECRET);
  await r.up();
  receivers.push(r);
  return r;
}

/** A webhook sink built through the registered plugin, as the daemon builds it. */
async function makeSink(name: string, fields: Record<string, unknown>): Promise<Sink> {
  const plugin = await loadSinkPlugin('webhook');
  return plugin.create(plugin.spec.parse({ 'signature.secret': SECRET, 'retry.initial.backoff.ms': 10, 'retry.max.backoff.ms': 200, ...fields }), {
    pipeline: 'wh',
    sinkName: name,
    topicPrefix: 'wh',
    groupId: `wh-${run}-${name}`,
    logger,
    kafka: kafkaConfig,
  });
}

const commonConfig = (name: string, topic: string, common: Record<string, unknown>): ReturnType<typeof sinkConfig> =>
  sinkConfig({ name, type: 'webhook', topics: [topic], 'group.id': `wh-${run}-${name}`, ...common });

/** A runner + webhook sink, as the daemon builds them. */
async function startSink(name: string, topic: string, fields: Record<string, unknown>, common: Record<string, unknown> = {}): Promise<SinkRunner> {
  groups.push(`wh-${run}-${name}`);
  const sink = await makeSink(name, fields);
  const runner = new SinkRunner({ kafka, sink, config: commonConfig(name, topic, common), pipeline: 'wh', logger, sessionTimeoutMs: 6_000 });
  runners.push(runner);
  await runner.start();
  return runner;
}

/** Offsets the group store holds for a topic, against its high watermarks. */
async function storeCaughtUp(name: string, topic: string): Promise<boolean> {
  const store = new KafkaGroupOffsetStore(kafkaConfig, `wh-${run}-${name}`);
  try {
    const highs = await highWatermarks(admin, topic);
    const stored = await store.load([...highs.keys()].map((partition) => ({ topic, partition })));
    return [...highs].every(([p, high]) => high === '0' || stored.find((o) => o.partition === p)?.offset === high);
  } finally {
    await store.close();
  }
}

/** Per key, the versions (commit LSNs) in the order they were first delivered. */
function firstDeliveryOrder(r: WebhookReceiver): Map<string, number[]> {
  const seen = new Set<string>();
  const out = new Map<string, number[]>();
  for (const e of r.delivered) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const k = JSON.stringify(e.key);
    out.set(k, [...(out.get(k) ?? []), Number(e.commit_lsn)]);
  }
  return out;
}

const isSorted = (xs: readonly number[]): boolean => xs.every((x, i) => i === 0 || xs[i - 1]! < x);

describe('webhook sink through the runner', () => {
  it('delivers every change, per-key order kept across lanes, each request signed, offsets stored after delivery', async () => {
    const topic = await newTopic('order', 3);
    const receiver = await newReceiver();
    let lsn = 1000;
    const last = new Map<number, number>();
    for (let tx = 0; tx < 10; tx++) {
      const msgs = [];
      for (let j = 0; j < 30; j++) {
        const id = (tx * 7 + j) % 25;
        const v = ++lsn;
        last.set(id, v);
        msgs.push({ partition: id % 3, message: debeziumMessage({ table: 'order', op: 'u', before: { id }, after: { id, v }, position: pos(v, j) }) });
      }
      await sendTx(producer, topic, msgs);
    }
    await startSink('order', topic, { url: receiver.url, 'request.concurrency': 4, 'request.max.events': 7 });
    await waitFor('all 300 events', () => receiver.seen.size === 300, 60_000);
    await waitFor('offsets stored up to the end of each partition', () => storeCaughtUp('order', topic), 30_000, 200);

    for (const [k, versions] of firstDeliveryOrder(receiver)) expect(isSorted(versions), `key ${k}: ${versions.join(',')}`).toBe(true);
    const state = receiver.state('public.order');
    for (const [id, v] of last) expect(state.get(JSON.stringify({ id }))).toEqual({ id, v });
    // The signature is HMAC-SHA256 over the exact body bytes, computed independently here.
    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const req of receiver.requests) {
      expect(req.headers['x-cdc-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(req.body).digest('hex')}`);
      expect(req.events.length).toBeLessThanOrEqual(7);
    }
    // Idempotency keys are the records' Kafka positions.
    for (const e of receiver.delivered) expect(e.id).toBe(`${e.topic}/${e.partition}/${e.offset}`);
  });

  it('a tampered body does not verify', async () => {
    const { verifySignature, signBody } = await import('../../src/sinks/webhook/index.js');
    const body = Buffer.from('{"events":[]}');
    expect(verifySignature(SECRET, body, signBody(SECRET, body))).toBe(true);
    expect(verifySignature(SECRET, Buffer.from('{"events":[1]}'), signBody(SECRET, body))).toBe(false);
    expect(verifySignature('another-secret-xxxxxxxx', body, signBody(SECRET, body))).toBe(false);
  });

  it('retries a 500 and a 429, waiting at least the Retry-After the receiver asked for', async () => {
    const topic = await newTopic('retry', 1);
    const receiver = await newReceiver();
    const answers = [{ status: 500, body: 'boom' }, { status: 429, headers: { 'retry-after': '2' } }];
    receiver.respond = () => answers.shift() ?? { status: 200 };
    await sendTx(producer, topic, [1, 2, 3].map((id) => ({ partition: 0, message: debeziumMessage({ table: 'retry', op: 'c', after: { id }, position: pos(100 + id) }) })));
    await startSink('retry', topic, { url: receiver.url });
    await waitFor('the 3 events', () => receiver.seen.size === 3, 60_000);
    const statuses = receiver.requests.map((r) => r.status);
    expect(statuses.slice(0, 3)).toEqual([500, 429, 200]);
    // The backoff alone is ≤ 200 ms here; the request after the 429 came no sooner than its Retry-After.
    const after429 = receiver.requests[2]!.at - receiver.requests[1]!.at;
    expect(after429).toBeGreaterThanOrEqual(2000);
    // The same events, byte for byte, in every attempt.
    expect(receiver.requests[0]!.body.equals(receiver.requests[2]!.body)).toBe(true);
  });

  it('a 400 for one event sends that event (alone) to the dead-letter topic; the rest of its POST is delivered; dlq replay re-sends it under its original id', async () => {
    const topic = await newTopic('dlq', 1);
    const dlqTopic = `wh-${run}-dlq-out`;
    topics.push(dlqTopic);
    const receiver = await newReceiver();
    receiver.respond = ({ events }) => (events.some((e) => (e.after as { id?: number } | null)?.id === 13) ? { status: 400, body: 'field "id" must not be 13' } : { status: 200 });
    await sendTx(producer, topic, [11, 12, 13, 14, 15].map((id) => ({ partition: 0, message: debeziumMessage({ table: 'dlq', op: 'c', after: { id }, position: pos(200 + id) }) })));
    await startSink('dlq', topic, { url: receiver.url }, { 'errors.tolerance': 'dlq', 'errors.deadletterqueue.topic.name': dlqTopic });
    await waitFor('offsets past the refused event', () => storeCaughtUp('dlq', topic), 60_000, 200);
    expect([...receiver.state('public.dlq').keys()].sort()).toEqual([11, 12, 14, 15].map((id) => JSON.stringify({ id })));

    const consumer = kafka.consumer({ groupId: `wh-${run}-dlq-reader` });
    groups.push(`wh-${run}-dlq-reader`);
    await consumer.connect();
    await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
    const got: { value: string; headers: Record<string, string> }[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        got.push({ value: message.value?.toString() ?? '', headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])) });
      },
    });
    await waitFor('the DLQ record', () => got.length >= 1, 30_000);
    await consumer.disconnect();
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0]!.value).after).toEqual({ id: 13 });
    expect(got[0]!.headers[DLQ_HEADERS.offset]).toBe('2');
    expect(got[0]!.headers[DLQ_HEADERS.className]).toBe('WebhookRejectedError');
    expect(got[0]!.headers[DLQ_HEADERS.message]).toContain('receiver answered 400: field "id" must not be 13');

    // The receiver is fixed: `dlq replay` re-sends the event through the same sink, under its original id.
    receiver.respond = () => ({ status: 200 });
    groups.push(`wh-${run}-dlq.dlq-replay`);
    const sink = await makeSink('dlq', { url: receiver.url });
    const report = await replayDlq({
      kafka,
      config: commonConfig('dlq', topic, { 'errors.tolerance': 'dlq', 'errors.deadletterqueue.topic.name': dlqTopic }),
      pipeline: 'wh',
      topicPrefix: 'wh',
      logger,
      createSink: () => sink,
      sessionTimeoutMs: 6_000,
    });
    expect(report).toMatchObject({ replayed: 1, applied: 1, failedAgain: 0 });
    expect(receiver.state('public.dlq').get(JSON.stringify({ id: 13 }))).toEqual({ id: 13 });
    expect(receiver.delivered.filter((e) => (e.after as { id: number }).id === 13).map((e) => e.id)).toEqual([`${topic}/0/2`]);
  });

  it('catches up after the receiver was down for 30 s, nothing lost, order kept', async () => {
    const topic = await newTopic('down', 2);
    const receiver = await newReceiver();
    const send = async (from: number, to: number): Promise<void> => {
      const msgs = [];
      for (let v = from; v < to; v++) msgs.push({ partition: v % 2, message: debeziumMessage({ table: 'down', op: 'u', before: { id: v % 10 }, after: { id: v % 10, v }, position: pos(v) }) });
      await sendTx(producer, topic, msgs);
    };
    await send(1000, 1050);
    const runner = await startSink('down', topic, { url: receiver.url, 'request.timeout.ms': 2000 }, { 'errors.retry.max.backoff.ms': 2000 });
    await waitFor('the first 50 events', () => receiver.seen.size === 50, 60_000);
    await receiver.down();
    await send(1050, 1150);
    await new Promise((r) => setTimeout(r, 30_000));
    expect(receiver.seen.size).toBe(50);
    expect(runner.state.name).not.toBe('FAILED');
    expect(runner.lastError?.message).toMatch(/ECONNREFUSED|request failed/);
    await receiver.up();
    await waitFor('the 100 events sent while it was down', () => receiver.seen.size === 150, 90_000);
    await waitFor('offsets stored up to the end', () => storeCaughtUp('down', topic), 30_000, 200);
    for (const [k, versions] of firstDeliveryOrder(receiver)) expect(isSorted(versions), `key ${k}`).toBe(true);
    const state = receiver.state('public.down');
    for (let id = 0; id < 10; id++) expect(state.get(JSON.stringify({ id }))).toEqual({ id, v: 1140 + id });
  }, 180_000);
});
