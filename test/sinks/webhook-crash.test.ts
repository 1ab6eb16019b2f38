/**
 * kill -9 of a child process running the SinkRunner + webhook sink at random moments while changes
 * keep arriving, ≥ 10 cycles, then a final run to the end of the topic. The receiver lives in this
 * (parent) process and records every delivery. Checks: every change delivered; duplicates occur
 * only with the same idempotency key (same id ⇒ the same event, and no event under two ids); per
 * key, first deliveries are in version order and the applied state holds each key's latest version;
 * the Kafka group store ends at the end of each partition.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { KafkaGroupOffsetStore, offsetsGroupOf } from '../../src/sinks/runtime/kafka-group-offsets.js';
import { debeziumMessage, pos } from '../support/records.js';
import { testRng } from '../support/seed.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { createTopic, highWatermarks, kafka, sendTx, txProducer, waitFor } from './runtime-support.js';

const run = randomUUID().slice(0, 8);
const topic = `whc-${run}`;
const group = `whc-${run}-group`;
const SECRET = 'crash-test-secret-0123456789';
const receiver = new WebhookReceiver(SECRET);
let admin: Admin | undefined;
let producer: Producer | undefined;
let child: ChildProcess | undefined;

afterAll(async () => {
  child?.kill('SIGKILL');
  await producer?.disconnect();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.deleteGroups([group, offsetsGroupOf(group)]).catch(() => undefined);
  await admin?.disconnect();
  await receiver.close();
});

function startChild(): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['--import', 'tsx', 'test/sinks/webhook-child.ts'], {
    env: { ...process.env, CHILD_TOPIC: topic, CHILD_GROUP: group, CHILD_URL: receiver.url, CHILD_SECRET: SECRET },
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

it('survives kill -9 at random points: every change delivered, duplicates only under the same id, per-key order kept', async () => {
  const random = testRng('webhook crash');
  await receiver.up();
  admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, topic, 3);
  producer = await txProducer();
  const ids = 200;
  const last = new Map<number, number>();
  const produced = new Set<string>();
  let lsn = 5_000_000;
  let producing = true;
  const production = (async () => {
    let cursor = 0;
    while (producing) {
      const msgs = [];
      for (let j = 0; j < 30; j++) {
        const id = cursor < ids ? cursor++ : Math.floor(random.next() * ids);
        const v = ++lsn;
        last.set(id, v);
        produced.add(`${id}:${v}`);
        msgs.push({ partition: id % 3, message: debeziumMessage({ table: 'crash', op: 'u', before: { id }, after: { id, v, pad: 'x'.repeat(100) }, position: pos(v, j) }) });
      }
      await sendTx(producer!, topic, msgs);
      await sleep(15);
    }
  })();

  const cycles = 10;
  let killedWithProgress = 0;
  for (let cycle = 0; cycle < cycles; cycle++) {
    const before = receiver.seen.size;
    const c = await startChild();
    // The new member joins once the killed one's session expired; kill it at a random point after it delivered something.
    await waitFor('the child to deliver something', () => receiver.seen.size > before, 60_000, 20);
    await sleep(random.next() * 700);
    c.removeAllListeners('exit');
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
    if (receiver.seen.size > before) killedWithProgress++;
  }
  producing = false;
  await production;

  const final = await startChild();
  const store = new KafkaGroupOffsetStore(kafkaSpec.parse({ 'bootstrap.servers': endpoints().kafkaBrokers.join(',') }), group);
  const highs = await highWatermarks(admin, topic);
  await waitFor(
    'the final run to store the end of the topic',
    async () => {
      const stored = await store.load([...highs.keys()].map((partition) => ({ topic, partition })));
      return [...highs].every(([p, high]) => stored.find((o) => o.partition === p)?.offset === high);
    },
    120_000,
    250,
  );
  await store.close();
  final.removeAllListeners('exit');
  final.kill('SIGTERM');
  await new Promise((r) => final.once('exit', r));

  expect(produced.size).toBeGreaterThan(1000);
  expect(killedWithProgress).toBe(cycles);
  // every change delivered
  const delivered = new Set(receiver.delivered.map((e) => `${(e.after as { id: number }).id}:${(e.after as { v: number }).v}`));
  expect([...produced].filter((x) => !delivered.has(x))).toEqual([]);
  // duplicates only with the same idempotency key: one id ⇒ one event, one event ⇒ one id
  const byId = new Map<string, string>();
  const idOfChange = new Map<string, string>();
  for (const e of receiver.delivered) {
    const body = JSON.stringify(e);
    expect(byId.get(e.id) ?? body).toBe(body);
    byId.set(e.id, body);
    const change = `${(e.after as { id: number }).id}:${(e.after as { v: number }).v}`;
    expect(idOfChange.get(change) ?? e.id).toBe(e.id);
    idOfChange.set(change, e.id);
  }
  expect(byId.size).toBe(produced.size);
  // per-key order: first deliveries in version order, and the applied state holds the latest version
  const seen = new Set<string>();
  const lastFirst = new Map<number, number>();
  for (const e of receiver.delivered) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const { id, v } = e.after as { id: number; v: number };
    expect(v, `key ${id}`).toBeGreaterThan(lastFirst.get(id) ?? 0);
    lastFirst.set(id, v);
  }
  const state = receiver.state('public.crash');
  for (const [id, v] of last) expect((state.get(JSON.stringify({ id })) as { v: number } | null)?.v).toBe(v);
  expect(receiver.requests.every((r) => r.signatureOk === true)).toBe(true);
  process.stdout.write(`webhook crash: ${produced.size} changes, ${receiver.delivered.length} deliveries (${receiver.delivered.length - byId.size} duplicates), ${receiver.requests.length} requests\n`);
}, 400_000);
