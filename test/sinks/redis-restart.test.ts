/**
 * Redis restarted under load: a throwaway redis-server on a free port (AOF with fsync always, so the
 * restart keeps what was acknowledged — like a production Redis with persistence) is killed -9 while
 * the runner applies a steady stream, and started again 3 s later. The sink retries with backoff,
 * nothing is lost: every row ends current and the offsets hash reaches the end of the topic.
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
import { testRng } from '../support/seed.js';
import { createTopic, highWatermarks, kafka, logger, sendTx, sinkConfig, txProducer, waitFor } from './runtime-support.js';

// A free port picked at load time, so a server leaked by an earlier run can't answer instead.
const PORT = await freePort();
const run = randomUUID().slice(0, 8);
const topic = `rtx-${run}`;
const dir = mkdtempSync(join(tmpdir(), 'cdc-redis-restart-'));
const pidfile = join(dir, 'redis.pid');
let admin: Admin | undefined;
let producer: Producer | undefined;
let runner: SinkRunner | undefined;

function startRedis(): void {
  execFileSync('redis-server', ['--port', String(PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--daemonize', 'yes', '--pidfile', pidfile]);
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
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  killRedis();
  rmSync(dir, { recursive: true, force: true });
});

it('keeps every change across a Redis kill -9 and restart under load', async () => {
  const random = testRng('redis restart');
  startRedis();
  const probe = new Redis({ port: PORT, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  probe.on('error', () => undefined);
  await waitFor('throwaway redis', async () => (await probe.connect().then(() => true, () => false)) && (await probe.ping()) === 'PONG', 10_000);
  admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, topic, 2);
  producer = await txProducer();
  const offsetsKey = 'cdc:offsets:restart';
  const sink = new RedisSink(redisSinkSpec.parse(redisSinkInput(`redis://127.0.0.1:${PORT}`, 3, { 'public.rs': { keys: ['rs:{id}'], mode: 'write-through' } })), offsetsKey, logger);
  runner = new SinkRunner({ kafka, sink, config: sinkConfig({ name: 'restart', topics: [topic], 'group.id': `rtx-${run}`, 'batch.max.records': 50 }), pipeline: 'rt', logger });
  const states: string[] = [];
  runner.on('state', (s: { name: string }) => states.push(s.name));
  await runner.start();

  const last = new Map<number, number>();
  let lsn = 5000;
  let producing = true;
  const production = (async () => {
    while (producing) {
      const msgs = [];
      for (let j = 0; j < 50; j++) {
        const id = random.int(0, 499);
        const v = ++lsn;
        last.set(id, v);
        msgs.push({ partition: id % 2, message: debeziumMessage({ table: 'rs', op: 'u', before: { id }, after: { id, v }, position: pos(v) }) });
      }
      await sendTx(producer!, topic, msgs);
      await sleep(20);
    }
  })();

  const db3 = new Redis({ port: PORT, host: '127.0.0.1', db: 3, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  db3.on('error', () => undefined);
  await waitFor('progress before the restart', async () => Object.keys(await db3.hgetall(offsetsKey)).length === 2, 30_000);
  killRedis();
  await sleep(3000);
  startRedis();
  await sleep(2000);
  producing = false;
  await production;
  const expected: Record<string, string> = {};
  for (const [p, high] of await highWatermarks(admin, topic)) expected[`${topic}:${p}`] = high; // the end of the topic: the runner also consumes the final commit marker
  const sorted = (o: Record<string, string>): string => JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  await waitFor('catch-up after the restart', async () => sorted(await db3.hgetall(offsetsKey).catch(() => ({}))) === sorted(expected), 60_000, 200);

  let wrong = 0;
  for (const [id, v] of last) if ((JSON.parse((await db3.get(`rs:${id}`)) ?? 'null') as { v: number } | null)?.v !== v) wrong++;
  expect(wrong).toBe(0);
  expect(states).toContain('RESTARTING');
  expect(runner.state.name).toBe('RUNNING');
  await db3.quit();
  await probe.quit();
});
