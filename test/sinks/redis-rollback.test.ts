/**
 * Redis that loses acknowledged writes: a throwaway redis-server on a free port WITHOUT persistence
 * (`--save "" --appendonly no`, like the machine's system Redis) is killed -9 while the runner applies
 * a steady stream of upserts and deletes, and started again either from an older RDB snapshot (taken
 * with SAVE mid-stream: Redis rolls back, deleted rows come back, the offsets hash goes BEHIND) or
 * EMPTY (the offsets hash is gone with the data). After the restart only a few rows keep changing, so
 * rows lost in the rollback are not simply overwritten. The sink must notice that its stored offsets
 * went behind what it last committed, and the runner must re-seek (to the stored offsets, or the
 * earliest offset when none) and replay: Redis ends equal to the expected state (every live row at
 * its latest value, every deleted row absent). Third case: the daemon is down while Redis comes back
 * empty — a new runner finds no stored offsets although its Kafka group consumed the partitions, and
 * must replay from the earliest offset instead of resuming at Kafka's group offset.
 * The shared Redis on 6379 is never touched.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Admin, Producer } from 'kafkajs';
import { freePort } from '../support/ports.js';
import { afterAll, expect, it } from 'vitest';
import { RedisSink } from '../../src/sinks/redis/sink.js';
import { redisSinkSpec } from '../../src/sinks/redis/spec.js';
import { redisSinkInput } from '../support/redis-config.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';
import { debeziumMessage, pos } from '../support/records.js';
import { createTopic, highWatermarks, kafka, logger, sendTx, sinkConfig, txProducer, waitFor } from './runtime-support.js';

const PORT = await freePort();
const run = randomUUID().slice(0, 8);
const dir = mkdtempSync(join(tmpdir(), 'cdc-redis-rollback-'));
const pidfile = join(dir, 'redis.pid');
let admin: Admin | undefined;
let producer: Producer | undefined;
let runner: SinkRunner | undefined;

const topics: string[] = [];

function startRedis(): void {
  execFileSync('redis-server', ['--port', String(PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', 'dump.rdb', '--daemonize', 'yes', '--pidfile', pidfile]);
}
function killRedis(): void {
  try {
    process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGKILL');
  } catch {
    // already gone
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterAll(async () => {
  await runner?.stop().catch(() => undefined);
  await producer?.disconnect();
  if (topics.length) await admin?.deleteTopics({ topics }).catch(() => undefined);
  await admin?.disconnect();
  killRedis();
  rmSync(dir, { recursive: true, force: true });
});

it.each(['snapshot', 'empty', 'empty-while-stopped'] as const)('converges after Redis restarts from an older state (kill -9, restart %s)', async (restart) => {
  const topic = `rrb-${restart}-${run}`;
  topics.push(topic);
  rmSync(join(dir, 'dump.rdb'), { force: true });
  startRedis();
  const probe = new Redis({ port: PORT, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  probe.on('error', () => undefined);
  await waitFor('throwaway redis', async () => (await probe.ping().catch(() => '')) === 'PONG', 10_000);
  if (!admin) {
    admin = kafka.admin();
    await admin.connect();
  }
  await createTopic(admin, topic, 2);
  producer ??= await txProducer();
  const offsetsKey = `cdc:offsets:rollback-${restart}-${run}`;
  const newRunner = (): SinkRunner => {
    const sink = new RedisSink(
      redisSinkSpec.parse(redisSinkInput(`redis://127.0.0.1:${PORT}`, 2, { 'public.rb': { keys: ['rb:{id}'], mode: 'write-through' }, 'public.inv': { keys: ['inv:{id}'] } })),
      offsetsKey,
      logger,
    );
    return new SinkRunner({ kafka, sink, config: sinkConfig({ name: 'rollback', topics: [topic], 'group.id': `rrb-${restart}-${run}`, 'batch.max.records': 50 }), pipeline: 'rt', logger });
  };
  await runner?.stop();
  runner = newRunner();
  await runner.start();

  // Expected final state: id → latest value (null = deleted).
  const last = new Map<number, number | null>();
  let lsn = 7000;
  let producing = true;
  let ids = 300; // after the restart only ids < 10 change
  const batch = async (): Promise<void> => {
    const msgs = [];
    for (let j = 0; j < 50; j++) {
      const id = Math.floor(Math.random() * ids);
      const v = ++lsn;
      const del = last.get(id) != null && Math.random() < 0.2;
      last.set(id, del ? null : v);
      msgs.push({
        partition: id % 2,
        message: del
          ? debeziumMessage({ table: 'rb', op: 'd', before: { id }, after: null, position: pos(v) })
          : debeziumMessage({ table: 'rb', op: 'u', before: { id }, after: { id, v }, position: pos(v) }),
      });
    }
    // An invalidation-mode table in the same stream (its effect is an UNLINK + publish).
    const inv = Math.floor(Math.random() * 300);
    msgs.push({ partition: inv % 2, message: debeziumMessage({ table: 'inv', op: 'u', before: { id: inv }, after: { id: inv }, position: pos(++lsn) }) });
    await sendTx(producer!, topic, msgs);
  };
  const production = (async () => {
    while (producing) {
      await batch();
      await sleep(20);
    }
  })();

  const db = new Redis({ port: PORT, host: '127.0.0.1', db: 2, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  db.on('error', () => undefined);
  await waitFor('progress before the kill', async () => Object.keys(await db.hgetall(offsetsKey).catch(() => ({}))).length === 2, 30_000);
  if (restart === 'snapshot') await db.save(); // the state Redis will come back with
  await sleep(1500); // acknowledged changes after the snapshot: lost by the kill
  if (restart === 'empty-while-stopped') await runner.stop(); // leaves Kafka's group offsets at the sink's
  killRedis();
  ids = 10;
  if (restart !== 'snapshot') rmSync(join(dir, 'dump.rdb'), { force: true });
  startRedis();
  if (restart === 'empty-while-stopped') {
    runner = newRunner();
    await runner.start();
  }
  await sleep(3000);
  producing = false;
  await production;
  await batch(); // at least one batch after the restart on a caught-up sink

  const expected: Record<string, string> = {};
  for (const [p, high] of await highWatermarks(admin, topic)) expected[`${topic}:${p}`] = high;
  const sorted = (o: Record<string, string>): string => JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  await waitFor('catch-up after the restart', async () => sorted(await db.hgetall(offsetsKey).catch(() => ({}))) === sorted(expected), 60_000, 200);

  const wrong: string[] = [];
  for (const [id, v] of last) {
    const got = (JSON.parse((await db.get(`rb:${id}`)) ?? 'null') as { v: number } | null)?.v ?? null;
    if (got !== v) wrong.push(`rb:${id} expected ${v} got ${got}`);
  }
  expect(wrong).toEqual([]);
  expect(runner.state.name).toBe('RUNNING');
  await db.quit();
  await probe.quit();
  killRedis();
  await waitFor('throwaway redis gone', async () => {
    const c = new Redis({ port: PORT, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null }).on('error', () => undefined);
    const up = await c.connect().then(() => true, () => false);
    c.disconnect();
    return !up;
  }, 10_000);
});
