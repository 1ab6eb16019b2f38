/**
 * kill -9 of a child process running the SinkRunner + Redis sink (write-through) at random moments
 * while changes keep arriving, ≥ 10 cycles, then a final run to the end of the topic: every row key
 * holds the row's latest version, every dependent key of a changed row is gone, untouched keys stay,
 * and the offsets hash equals the end of each partition.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { debeziumMessage, pos } from '../support/records.js';
import { testRng } from '../support/seed.js';
import { createTopic, highWatermarks, kafka, sendTx, txProducer, waitFor } from './runtime-support.js';
import { redisDbUrl } from '../support/redis-config.js';

const run = randomUUID().slice(0, 8);
const P = `rtc-${run}:`;
const DB = 13;
const topic = `rtc-${run}`;
const offsetsKey = `${P}offsets`;
const redis = new Redis(redisDbUrl(endpoints().redisUrl, DB));
let admin: Admin | undefined;
let producer: Producer | undefined;
let child: ChildProcess | undefined;

afterAll(async () => {
  child?.kill('SIGKILL');
  await producer?.disconnect();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${P}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
});

function startChild(): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['--import', 'tsx', 'test/sinks/runtime-child.ts'], {
    env: { ...process.env, CHILD_TOPIC: topic, CHILD_GROUP: `${P}group`, CHILD_OFFSETS_KEY: offsetsKey, CHILD_PREFIX: P, CHILD_DB: String(DB) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child = c;
  return new Promise((resolve, reject) => {
    c.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('running')) resolve(c);
    });
    c.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

it('survives kill -9 at random points: rows current, changed keys gone, offsets match', async () => {
  const random = testRng('sink runtime crash');
  admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, topic, 3);
  producer = await txProducer();
  const ids = 300;
  for (let id = 0; id < ids + 20; id++) await redis.set(`${P}inv:${id}`, 'cached');
  const last = new Map<number, number>();
  let lsn = 1_000_000;
  let producing = true;
  let sent = 0;
  const production = (async () => {
    let cursor = 0;
    while (producing) {
      const msgs = [];
      for (let j = 0; j < 30; j++) {
        const id = cursor < ids ? cursor++ : Math.floor(random.next() * ids);
        const v = ++lsn;
        last.set(id, v);
        msgs.push({ partition: id % 3, message: debeziumMessage({ table: 'crash', op: 'u', before: { id }, after: { id, v, pad: 'x'.repeat(200) }, position: pos(v, j) }) });
      }
      await sendTx(producer!, topic, msgs);
      sent += msgs.length;
      await sleep(15);
    }
  })();

  const cycles = 10;
  let killedWithProgress = 0;
  for (let cycle = 0; cycle < cycles; cycle++) {
    const before = JSON.stringify(await redis.hgetall(offsetsKey));
    const c = await startChild();
    // The new member joins once the killed one's session expired; kill it at a random point after it made progress.
    await waitFor('the child to commit something', async () => JSON.stringify(await redis.hgetall(offsetsKey)) !== before, 60_000, 20);
    await sleep(random.next() * 700);
    c.removeAllListeners('exit');
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
    if (JSON.stringify(await redis.hgetall(offsetsKey)) !== before) killedWithProgress++;
  }
  producing = false;
  await production;

  const final = await startChild();
  const expected: Record<string, string> = {};
  for (const [p, high] of await highWatermarks(admin, topic)) expected[`${topic}:${p}`] = high; // the end of the topic: the runner also consumes the final commit marker
  const sorted = (o: Record<string, string>): string => JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  await waitFor('the final run to reach the end of the topic', async () => sorted(await redis.hgetall(offsetsKey)) === sorted(expected), 90_000, 200);
  final.removeAllListeners('exit');
  final.kill('SIGTERM');
  await new Promise((r) => final.once('exit', r));

  expect(sent).toBeGreaterThan(1000);
  expect(killedWithProgress).toBe(cycles);
  let stale = 0;
  for (const [id, v] of last) {
    const row = JSON.parse((await redis.get(`${P}row:${id}`)) ?? 'null') as { v: number } | null;
    if (row?.v !== v) stale++;
    if ((await redis.exists(`${P}inv:${id}`)) === 1) stale++;
  }
  expect(stale).toBe(0);
  for (let id = ids; id < ids + 20; id++) expect(await redis.get(`${P}inv:${id}`)).toBe('cached');
}, 300_000);
