/**
 * SinkRunner end to end against the real Kafka and Redis: Debezium-shaped messages produced with a
 * transactional producer (incl. an aborted transaction), the Redis sink applying them exactly once,
 * offsets in the Redis hash; the error policies (dlq with Connect headers, none stopping only the
 * failing table), retries of
 * retriable errors, and two runners of one sink splitting partitions across rebalances with no
 * batch applied twice.
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
import { SinkRunner } from '../../src/sinks/runtime/runner.js';
import { SinkError, type Sink, type SinkBatch, type WriteResult } from '../../src/sinks/sink.js';
import { debeziumMessage, pos } from '../support/records.js';
import { createTopic, highWatermarks, kafka, logger, sendTx, sinkConfig, txProducer, waitFor } from './runtime-support.js';

const run = randomUUID().slice(0, 8);
const P = `rtr-${run}:`;
const DB = 12;
const url = endpoints().redisUrl;
const redis = new Redis(redisDbUrl(url, DB));
let admin: Admin;
let producer: Producer;
const topics: string[] = [];
const runners: SinkRunner[] = [];

function redisSink(tables: Record<string, unknown>, offsetsKey: string): RedisSink {
  return new RedisSink(redisSinkSpec.parse(redisSinkInput(url, DB, tables)), offsetsKey, logger);
}

async function newTopic(name: string, partitions: number): Promise<string> {
  const topic = `rtr-${run}-${name}`;
  await createTopic(admin, topic, partitions);
  topics.push(topic);
  return topic;
}

const sorted = (o: Record<string, string>): string => JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

async function storedOffsets(key: string): Promise<Record<string, string>> {
  return redis.hgetall(key);
}

/** Offsets the sink should end at: the high watermark (past the final commit marker, which the runner consumes with the data before it). */
async function expectedOffsets(topic: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [p, high] of await highWatermarks(admin, topic)) if (high !== '0') out[`${topic}:${p}`] = high;
  return out;
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = await txProducer();
});

afterAll(async () => {
  for (const r of runners) await r.stop().catch(() => undefined);
  await producer?.disconnect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${P}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
  await admin.disconnect();
});

describe('SinkRunner + Redis sink (real Kafka, real Redis)', () => {
  it('applies committed transactions exactly once, skips aborted ones, stores offsets with the effects', async () => {
    const topic = await newTopic('e2e', 3);
    const offsetsKey = `${P}offsets:e2e`;
    // pre-cached entries the changes must invalidate
    for (let id = 0; id < 60; id++) await redis.set(`${P}e2e:inv:${id}`, 'cached');
    await redis.set(`${P}e2e:inv:untouched`, 'cached');
    let lsn = 1000;
    const last = new Map<number, number>();
    for (let tx = 0; tx < 10; tx++) {
      const msgs = [];
      for (let j = 0; j < 30; j++) {
        const id = (tx * 7 + j) % 60;
        const v = ++lsn;
        last.set(id, v);
        msgs.push({ partition: id % 3, message: debeziumMessage({ table: 'e2e', op: 'u', before: { id }, after: { id, v }, position: pos(v, j) }, { schemas: j % 2 === 0 }) });
      }
      await sendTx(producer, topic, msgs);
      if (tx === 4) await sendTx(producer, topic, [{ partition: 0, message: debeziumMessage({ table: 'e2e', op: 'c', after: { id: 999, v: 1 }, position: pos(99_999) }) }], true);
    }
    const sink = redisSink({ 'public.e2e': { keys: [`${P}e2e:row:{id}`, `${P}e2e:inv:{id}`], mode: 'write-through' } }, offsetsKey);
    const runner = new SinkRunner({ kafka, sink, config: sinkConfig({ name: 'e2e', topics: [topic], 'group.id': `${P}e2e`, 'batch.max.records': 17 }), pipeline: 'rt', logger });
    runners.push(runner);
    await runner.start();
    const expected = await expectedOffsets(topic);
    await waitFor('offsets to reach the end of the topic', async () => sorted(await storedOffsets(offsetsKey)) === sorted(expected), 60_000).catch(async (e: Error) => {
      throw new Error(`${e.message}: stored ${JSON.stringify(await storedOffsets(offsetsKey))}, expected ${JSON.stringify(expected)}, runner ${JSON.stringify(runner.state)}`);
    });
    for (const [id, v] of last) {
      expect(JSON.parse((await redis.get(`${P}e2e:row:${id}`))!)).toEqual({ id, v });
      expect(await redis.exists(`${P}e2e:inv:${id}`)).toBe(0);
    }
    expect(await redis.exists(`${P}e2e:row:999`)).toBe(0);
    expect(await redis.get(`${P}e2e:inv:untouched`)).toBe('cached');
    expect(runner.state.name).toBe('RUNNING');
    const mine = Object.fromEntries(runner.offsets().map((o) => [`${o.topic}:${o.partition}`, o.offset]));
    expect(sorted(mine)).toEqual(sorted(expected));
    await runner.stop();
    expect(runner.state.name).toBe('STOPPED');
  });

  it('waits for a topic the source has not created yet, then consumes it from the start', async () => {
    const topic = `rtr-${run}-late`;
    topics.push(topic);
    const offsetsKey = `${P}offsets:late`;
    const sink = redisSink({ 'public.late': { keys: [`${P}late:row:{id}`], mode: 'write-through' } }, offsetsKey);
    const runner = new SinkRunner({ kafka, sink, config: sinkConfig({ name: 'late', topics: [topic], 'group.id': `${P}late` }), pipeline: 'rt', logger });
    runners.push(runner);
    let started = false;
    const starting = runner.start().then(() => (started = true));
    await waitFor('the runner to report the missing topic', () => runner.state.reason?.includes(topic) === true, 10_000);
    expect(runner.state.name).toBe('STARTING');
    expect(started).toBe(false);
    // The topic appears (as when the source first sees the table) with a committed change.
    await createTopic(admin, topic, 2);
    await sendTx(producer, topic, [{ partition: 1, message: debeziumMessage({ table: 'late', op: 'c', after: { id: 5, v: 1 }, position: pos(500) }) }]);
    await starting;
    expect(runner.state.name).toBe('RUNNING');
    await waitFor('the change to be applied', async () => (await redis.get(`${P}late:row:5`)) !== null, 30_000);
    expect(JSON.parse((await redis.get(`${P}late:row:5`))!)).toEqual({ id: 5, v: 1 });
    await runner.stop();
  });

  it('errors.tolerance=dlq: a poison record goes to the dead-letter topic with Connect headers, the partition proceeds', async () => {
    const topic = await newTopic('dlq', 1);
    const dlqTopic = `rtr-${run}-dlq-out`;
    topics.push(dlqTopic);
    const offsetsKey = `${P}offsets:dlq`;
    await sendTx(producer, topic, [
      { partition: 0, message: debeziumMessage({ table: 'dlq', op: 'c', after: { id: 1 }, position: pos(10) }) },
      { partition: 0, message: { key: Buffer.from('{"id":2}'), value: Buffer.from('{not json'), headers: {} } },
      { partition: 0, message: debeziumMessage({ table: 'dlq', op: 'c', after: { id: 3 }, position: pos(11) }) },
    ]);
    for (const id of [1, 3]) await redis.set(`${P}dlq:${id}`, 'cached');
    const sink = redisSink({ 'public.dlq': { keys: [`${P}dlq:{id}`] } }, offsetsKey);
    const runner = new SinkRunner({
      kafka,
      sink,
      config: sinkConfig({ name: 'dlq', topics: [topic], 'group.id': `${P}dlq`, 'errors.tolerance': 'dlq', 'errors.deadletterqueue.topic.name': dlqTopic }),
      pipeline: 'rt',
      logger,
    });
    runners.push(runner);
    await runner.start();
    await waitFor('offsets past the poison record', async () => (await storedOffsets(offsetsKey))[`${topic}:0`] === '4');
    expect(await redis.exists(`${P}dlq:1`, `${P}dlq:3`)).toBe(0);
    await runner.stop();

    const consumer = kafka.consumer({ groupId: `${P}dlq-reader` });
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
    expect(got[0]!.value).toBe('{not json');
    expect(got[0]!.headers[DLQ_HEADERS.topic]).toBe(topic);
    expect(got[0]!.headers[DLQ_HEADERS.partition]).toBe('0');
    expect(got[0]!.headers[DLQ_HEADERS.offset]).toBe('1');
    expect(got[0]!.headers[DLQ_HEADERS.className]).toBe('DecodeError');
    expect(got[0]!.headers[DLQ_HEADERS.message]).toContain('value is not JSON');
  });

  it('errors.tolerance=none: a poison record stops its table with a clear error, nothing past it is committed, the other tables go on', async () => {
    const topic = await newTopic('none', 1);
    const other = await newTopic('none-other', 1);
    const offsetsKey = `${P}offsets:none`;
    await sendTx(producer, topic, [
      { partition: 0, message: debeziumMessage({ table: 'none', op: 'c', after: { id: 1 }, position: pos(10) }) },
    ]);
    await sendTx(producer, topic, [
      { partition: 0, message: { key: Buffer.from('{"id":2}'), value: Buffer.from('{"op":"x"}'), headers: {} } },
      { partition: 0, message: debeziumMessage({ table: 'none', op: 'c', after: { id: 3 }, position: pos(11) }) },
    ]);
    await sendTx(producer, other, [{ partition: 0, message: debeziumMessage({ table: 'other', op: 'c', after: { id: 1 }, position: pos(10) }) }]);
    await redis.set(`${P}none:3`, 'cached');
    await redis.set(`${P}other:1`, 'cached');
    await redis.set(`${P}other:2`, 'cached');
    const sink = redisSink({ 'public.none': { keys: [`${P}none:{id}`] }, 'public.other': { keys: [`${P}other:{id}`] } }, offsetsKey);
    const runner = new SinkRunner({ kafka, sink, config: sinkConfig({ name: 'none', topics: [topic, other], 'group.id': `${P}none`, 'batch.max.records': 1 }), pipeline: 'rt', logger });
    runners.push(runner);
    let failed: Error | undefined;
    runner.once('failed', (e: Error) => (failed = e));
    await runner.start();
    await waitFor('the poison record\'s table reported', () => runner.failedTables().length > 0);
    const [t] = runner.failedTables();
    expect(t).toMatchObject({ topic, partition: 0, offset: '2', resumeFrom: '1', table: null });
    expect(t!.error).toContain(`${topic}/0@2`);
    expect(t!.error).toContain('errors.tolerance');
    expect(t!.error).toContain('POST /pipelines/rt/sinks/none/resume');
    // the other table goes on, before and after the failure
    await waitFor('the other table applied', async () => (await redis.exists(`${P}other:1`)) === 0);
    await sendTx(producer, other, [{ partition: 0, message: debeziumMessage({ table: 'other', op: 'c', after: { id: 2 }, position: pos(12) }) }]);
    await waitFor('the other table applied after the failure', async () => (await redis.exists(`${P}other:2`)) === 0);
    expect(runner.state.name).toBe('RUNNING');
    expect(failed).toBeUndefined();
    // offset 0 = id 1, offset 1 = its commit marker, offset 2 = the poison record
    expect((await storedOffsets(offsetsKey))[`${topic}:0`]).toBe('1');
    expect(await redis.get(`${P}none:3`)).toBe('cached');
    // a retry re-applies from the stored offset: the same record stops the table again, nothing skipped
    runner.resume();
    expect(runner.failedTables()).toEqual([]);
    await waitFor('the table stopped again at the same record', () => runner.failedTables().length > 0);
    expect(runner.failedTables()[0]).toMatchObject({ topic, offset: '2', resumeFrom: '1' });
    expect((await storedOffsets(offsetsKey))[`${topic}:0`]).toBe('1');
    expect(await redis.get(`${P}none:3`)).toBe('cached');
  });

  it('errors.tolerance=skip counts and passes a poison record; pause() holds the partition and resume() continues', async () => {
    const topic = await newTopic('skip', 1);
    const offsetsKey = `${P}offsets:skip`;
    await sendTx(producer, topic, [
      { partition: 0, message: { key: Buffer.from('{"id":1}'), value: Buffer.from('[1,2]'), headers: {} } },
      { partition: 0, message: debeziumMessage({ table: 'skip', op: 'c', after: { id: 2 }, position: pos(10) }) },
    ]);
    await redis.set(`${P}skip:2`, 'cached');
    await redis.set(`${P}skip:3`, 'cached');
    const sink = redisSink({ 'public.skip': { keys: [`${P}skip:{id}`] } }, offsetsKey);
    const runner = new SinkRunner({ kafka, sink, config: sinkConfig({ name: 'skip', topics: [topic], 'group.id': `${P}skip`, 'errors.tolerance': 'skip' }), pipeline: 'rt', logger });
    runners.push(runner);
    await runner.start();
    await waitFor('offsets past the poison record', async () => (await storedOffsets(offsetsKey))[`${topic}:0`] === '3');
    expect(await redis.exists(`${P}skip:2`)).toBe(0);
    runner.pause();
    expect(runner.state.name).toBe('PAUSED');
    await sendTx(producer, topic, [{ partition: 0, message: debeziumMessage({ table: 'skip', op: 'c', after: { id: 3 }, position: pos(11) }) }]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await redis.get(`${P}skip:3`)).toBe('cached');
    runner.resume();
    expect(runner.state.name).toBe('RUNNING');
    await waitFor('the record produced while paused', async () => (await redis.exists(`${P}skip:3`)) === 0);
    await runner.stop();
  });

  it('retries a retriable sink error with backoff and applies the batch once it succeeds', async () => {
    const topic = await newTopic('retry', 1);
    const offsetsKey = `${P}offsets:retry`;
    await sendTx(producer, topic, [{ partition: 0, message: debeziumMessage({ table: 'retry', op: 'c', after: { id: 1 }, position: pos(10) }) }]);
    await redis.set(`${P}retry:1`, 'cached');
    const inner = redisSink({ 'public.retry': { keys: [`${P}retry:{id}`] } }, offsetsKey);
    let failures = 0;
    const states: string[] = [];
    const flaky: Sink = {
      open: () => inner.open(),
      close: () => inner.close(),
      loadOffsets: (p) => inner.loadOffsets(p),
      commit: (o) => inner.commit(o),
      resetOffsets: (o) => inner.resetOffsets(o),
      async write(batch: SinkBatch): Promise<WriteResult> {
        if (failures < 3) {
          failures++;
          throw new SinkError('server said 429', { retriable: true });
        }
        return inner.write(batch);
      },
    };
    const runner = new SinkRunner({ kafka, sink: flaky, config: sinkConfig({ name: 'retry', topics: [topic], 'group.id': `${P}retry` }), pipeline: 'rt', logger });
    runner.on('state', (s: { name: string }) => states.push(s.name));
    runners.push(runner);
    await runner.start();
    await waitFor('the batch to be applied', async () => (await storedOffsets(offsetsKey))[`${topic}:0`] === '2');
    expect(failures).toBe(3);
    expect(await redis.exists(`${P}retry:1`)).toBe(0);
    expect(states).toContain('RESTARTING');
    expect(runner.state.name).toBe('RUNNING');
    expect(runner.lastError?.message).toBe('server said 429');
    await runner.stop();
  });

  it('two runners of one sink split the partitions, survive a join and a leave mid-stream, and apply every record exactly once', async () => {
    const partitions = 4;
    const topic = await newTopic('pair', partitions);
    const offsetsKey = `${P}offsets:pair`;
    const channel = `${P}pair-chan`;
    const published = new Map<string, number>();
    const sub = new Redis(redisDbUrl(url, DB));
    await sub.subscribe(channel);
    sub.on('message', (_c: string, m: string) => {
      for (const k of (JSON.parse(m) as { keys: string[] }).keys) published.set(k, (published.get(k) ?? 0) + 1);
    });
    const make = (name: string): SinkRunner => {
      const r = new SinkRunner({
        kafka,
        sink: redisSink({ 'public.pair': { keys: [`${P}pair:{id}`], mode: 'publish', 'publish.channel': channel } }, offsetsKey),
        config: sinkConfig({ name: 'pair', topics: [topic], 'group.id': `${P}pair`, 'batch.max.records': 20 }),
        pipeline: name,
        logger,
        sessionTimeoutMs: 6_000,
      });
      runners.push(r);
      return r;
    };
    let nextId = 0;
    let producing = true;
    const production = (async () => {
      while (producing) {
        const msgs = [];
        for (let j = 0; j < 40; j++) {
          const id = nextId++;
          msgs.push({ partition: id % partitions, message: debeziumMessage({ table: 'pair', op: 'c', after: { id }, position: pos(10_000 + id) }) });
        }
        await sendTx(producer, topic, msgs);
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    const a = make('a');
    await a.start();
    await waitFor('runner a to make progress', () => published.size > 200);
    const b = make('b');
    await b.start();
    await waitFor('runner b to get partitions and make progress', () => b.offsets().length > 0 && a.offsets().length < partitions, 60_000);
    const progress = published.size;
    await waitFor('both to make progress', () => published.size > progress + 400);
    await a.stop();
    await waitFor('runner b to take all partitions', () => b.offsets().length === partitions, 60_000);
    producing = false;
    await production;
    const expected = await expectedOffsets(topic);
    await waitFor('runner b to drain the topic', async () => sorted(await storedOffsets(offsetsKey)) === sorted(expected), 60_000);
    await new Promise((r) => setTimeout(r, 300));
    await b.stop();
    await sub.quit();
    const counts = [...published.values()];
    expect(published.size).toBe(nextId);
    expect(counts.filter((c) => c !== 1)).toEqual([]);
  });
});
