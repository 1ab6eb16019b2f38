/**
 * End to end through the real runtime: Debezium-shaped messages in Kafka transactions → SinkRunner
 * (in a child process) → Elasticsearch sink. The child is killed with SIGKILL at random moments
 * (while starting, seeking, mid-bulk, between bulk and checkpoint) for 12 cycles while more
 * transactions keep arriving; a last run drains the topic and the index is reconciled with the
 * model of the source table: 0 missing, 0 extra, 0 stale documents (content and `_version` = commit
 * LSN of the row's last change), unchanged-TOAST values kept across crashes.
 *
 * Each child joins a fresh Kafka consumer group but keeps the sink's group id (SinkContext.groupId),
 * so its offsets come only from the checkpoint index — which is what the test proves — and no cycle
 * waits for the killed member's session to time out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { DLQ_HEADERS } from '../../src/kafka/dlq-producer.js';
import { silentLogger } from '../../src/observability/logger.js';
import { plugin } from '../../src/sinks/elasticsearch/index.js';
import { resolveSinkConfig, sinkCommonSpec } from '../../src/sinks/runtime/config.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';
import { UNAVAILABLE_VALUE, type Row } from '../../src/events/change.js';
import { debeziumMessage, pos, tombstoneMessage, type KafkaTestMessage } from '../support/records.js';
import { createTopic, highWatermarks, kafka, sendTx, txProducer, waitFor } from './runtime-support.js';

const run = randomUUID().slice(0, 8);
const topic = `ese2e-${run}`;
const PARTITIONS = 3;
const TABLE = 'items';
const PREFIX = 'ese2e';
const index = `ese2e-${run}.${TABLE}`;
const checkpointIndex = `cdc-fanout-checkpoints-ese2e-${run}`;
const sinkGroup = `ese2e-${run}`;
const es = new Client({ node: endpoints().elasticsearchUrl });
let admin: Admin;
let producer: Producer;
let childFile: string;
const children: ChildProcess[] = [];
const extraTopics: string[] = [];

/** The child: runner + ES sink, runs until killed. Written to a temp file, importing the sources by absolute path. */
function childSource(root: string): string {
  const src = (p: string): string => JSON.stringify(resolve(root, 'src', p));
  // Packages resolve from the importing file, so kafkajs comes through a repo module.
  return `
import { kafka } from ${JSON.stringify(resolve(root, 'test/sinks/runtime-support.js'))};
import { SinkRunner } from ${src('sinks/runtime/runner.js')};
import { resolveSinkConfig, sinkCommonSpec } from ${src('sinks/runtime/config.js')};
import { plugin } from ${src('sinks/elasticsearch/index.js')};
import { silentLogger } from ${src('observability/logger.js')};
const env = JSON.parse(process.env.ES_E2E_CHILD ?? '{}');
const config = resolveSinkConfig(sinkCommonSpec.parse({ name: 'e2e', type: 'elasticsearch', topics: [env.topic], 'group.id': env.kafkaGroup,
  'batch.max.records': 150, 'batch.max.wait.ms': 20, 'errors.retry.initial.backoff.ms': 50, 'errors.retry.max.backoff.ms': 500 }), { pipeline: 'ese2e', topicPrefix: env.prefix });
const sink = plugin.create(plugin.spec.parse({ url: env.url, 'index.name.template': env.template, 'checkpoint.index': env.checkpointIndex }),
  { pipeline: 'ese2e', sinkName: 'e2e', topicPrefix: env.prefix, groupId: env.sinkGroup, logger: silentLogger });
let firstCommit = true;
const runner = new SinkRunner({ kafka, sink, config, pipeline: 'ese2e', logger: silentLogger, sessionTimeoutMs: 6000,
  onCommitted: () => { if (firstCommit) { firstCommit = false; console.log('committed'); } } });
runner.on('failed', (e) => { console.error('FAILED', e); process.exit(3); });
await runner.start();
console.log('started');
`;
}

interface Child {
  readonly proc: ChildProcess;
  /** Time the child reported its first committed batch (undefined until then). */
  committedAt?: number;
}

function startChild(cycle: number): Child {
  const env = {
    topic,
    prefix: PREFIX,
    kafkaGroup: `${sinkGroup}-k${cycle}`,
    sinkGroup,
    url: endpoints().elasticsearchUrl,
    template: `ese2e-${run}.{table}`,
    checkpointIndex,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', childFile], { env: { ...process.env, ES_E2E_CHILD: JSON.stringify(env) }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[child ${cycle}] ${d.toString()}`));
  const handle: Child = { proc: child };
  child.stdout?.on('data', (d: Buffer) => {
    if (d.toString().includes('committed')) handle.committedAt ??= Date.now();
  });
  children.push(child);
  return handle;
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

/** The source table as the test models it: row and commit LSN of its last change. */
interface ModelRow {
  row: Row;
  lsn: bigint;
}
const model = new Map<number, ModelRow>();
let lsn = 10_000n;
let changes = 0;

function randInt(n: number): number {
  return Math.floor(Math.random() * n);
}

/** One PG transaction of 1–4 changes, as the messages Debezium would publish (per key partition). */
function transaction(): { partition: number; message: KafkaTestMessage }[] {
  lsn += 1000n;
  const out: { partition: number; message: KafkaTestMessage }[] = [];
  let seq = 0;
  const emit = (id: number, m: KafkaTestMessage): void => {
    out.push({ partition: id % PARTITIONS, message: m });
  };
  const n = 1 + randInt(4);
  for (let i = 0; i < n; i++) {
    const id = randInt(300);
    const cur = model.get(id);
    const p = pos(lsn, seq++);
    const spec = { table: TABLE, prefix: PREFIX, position: p };
    changes++;
    if (!cur) {
      const row = { id, name: `n${id}-${lsn}`, big: `big-${id}-${lsn}-${'x'.repeat(50)}`, n: 0 };
      emit(id, debeziumMessage({ ...spec, op: 'c', after: row }));
      model.set(id, { row, lsn });
      continue;
    }
    const r = Math.random();
    if (r < 0.1) {
      emit(id, debeziumMessage({ ...spec, op: 'd', before: { id }, after: null }));
      emit(id, tombstoneMessage({ id }, p));
      model.delete(id);
    } else if (r < 0.15) {
      const to = 300 + randInt(300);
      if (model.has(to)) continue;
      // primary-key change: Debezium publishes delete(old) + tombstone + create(new)
      emit(id, debeziumMessage({ ...spec, op: 'd', before: { id }, after: null }));
      emit(id, tombstoneMessage({ id }, p));
      const row = { ...cur.row, id: to };
      emit(to, debeziumMessage({ ...spec, position: pos(lsn, seq++), op: 'c', after: row }));
      model.delete(id);
      model.set(to, { row, lsn });
    } else {
      const toast = Math.random() < 0.5;
      const row = { ...cur.row, name: `n${id}-${lsn}`, n: Number(cur.row.n) + 1, big: toast ? cur.row.big ?? null : `big-${id}-${lsn}` };
      emit(id, debeziumMessage({ ...spec, op: 'u', before: null, after: { ...row, big: toast ? UNAVAILABLE_VALUE : row.big ?? null } }));
      model.set(id, { row, lsn });
    }
  }
  return out;
}

async function produceRound(transactions: number): Promise<void> {
  for (let i = 0; i < transactions; i += 10) {
    // 10 PG transactions per Kafka transaction, as the source batches them
    const messages = Array.from({ length: Math.min(10, transactions - i) }, () => transaction()).flat();
    if (messages.length > 0) await sendTx(producer, topic, messages);
  }
}

async function storedOffsets(): Promise<Map<number, string>> {
  const ids = Array.from({ length: PARTITIONS }, (_, p) => `${sinkGroup}|${topic}|${p}`);
  const r = await es.mget<{ partition: number; offset: string }>({ index: checkpointIndex, ids }).catch(() => ({ docs: [] }));
  const out = new Map<number, string>();
  for (const d of r.docs) if ('found' in d && d.found && d._source) out.set(d._source.partition, d._source.offset);
  return out;
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ese2e-'));
  childFile = join(dir, 'child.mts'); // .mts: an ES module (top-level await) outside the package
  writeFileSync(childFile, childSource(process.cwd()));
  admin = kafka.admin();
  await admin.connect();
  await createTopic(admin, topic, PARTITIONS);
  producer = await txProducer();
});

afterAll(async () => {
  for (const c of children) await killChild(c);
  await producer?.disconnect();
  await admin?.deleteTopics({ topics: [topic, ...extraTopics] }).catch(() => undefined);
  await admin?.disconnect();
  await es.indices.delete({ index: [index, checkpointIndex, `ese2e-${run}.dlq_items`], ignore_unavailable: true });
  await es.close();
});

describe('Kafka → SinkRunner → Elasticsearch, kill -9 cycles', () => {
  it('ends with the index equal to the source table after 12 random SIGKILLs', async () => {
    const CYCLES = Number(process.env.ESE2E_CYCLES ?? 12);
    const total = async (): Promise<bigint> => [...(await storedOffsets()).values()].reduce((a, o) => a + BigInt(o), 0n);
    /** Cycles killed while the sink had made progress but had not drained the topic yet (mid-stream kills). */
    let midStream = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      // A backlog of 1500 transactions; a mid-stream kill waits for the sink's checkpoints to pass a
      // random share (10–80 %) of it, so it lands mid-stream however fast the sink or the machine is
      // (a fixed delay after the first commit let a fast sink drain everything first).
      await produceRound(1500);
      const before = await total();
      const backlogEnd = [...(await highWatermarks(admin, topic)).values()].reduce((a, h) => a + BigInt(h), 0n);
      const target = before + ((backlogEnd - before) * BigInt(10 + randInt(71))) / 100n;
      const child = startChild(cycle);
      // Every 4th cycle dies during start-up (open, group join, loadOffsets/seek), 300–2300 ms after
      // its spawn; the others once their checkpoints passed the target, i.e. mid-stream (bulk in
      // flight, or between a bulk and its checkpoint). Transactions keep arriving meanwhile.
      const startupKill = cycle % 4 === 3;
      const spawnedAt = Date.now();
      const delay = 300 + randInt(2000);
      for (;;) {
        if (startupKill ? Date.now() >= spawnedAt + delay : child.committedAt !== undefined && (await total()) >= target) break;
        if (Date.now() - spawnedAt > 60_000) throw new Error(`the sink child did not checkpoint past ${startupKill ? 'its start' : target} within 60 s`);
        if (child.proc.exitCode !== null) throw new Error(`the sink child exited by itself with code ${child.proc.exitCode}`);
        await produceRound(10);
        await new Promise((r) => setTimeout(r, 20));
      }
      await killChild(child.proc);
      const after = await total();
      const end = [...(await highWatermarks(admin, topic)).values()].reduce((a, h) => a + (h === '0' ? 0n : BigInt(h) - 1n), 0n);
      if (after > before && after < end) midStream++;
    }
    await produceRound(100);
    const last = startChild(CYCLES);
    const high = await highWatermarks(admin, topic);
    await waitFor(
      'the sink to checkpoint every partition to its end',
      async () => {
        if (last.proc.exitCode !== null) throw new Error(`the sink child exited with code ${last.proc.exitCode}`);
        const stored = await storedOffsets();
        return [...high].every(([p, h]) => h === '0' || stored.get(p) === h); // past the final commit marker
      },
      180_000,
      500,
    );
    await killChild(last.proc);

    await es.indices.refresh({ index });
    const hits = (await es.search<Row>({ index, size: 10_000, version: true, query: { match_all: {} } })).hits.hits;
    const missing: number[] = [];
    const extra: string[] = [];
    const stale: string[] = [];
    const byId = new Map(hits.map((h) => [h._id ?? '', h]));
    for (const [id, m] of model) {
      const hit = byId.get(String(id));
      if (!hit) missing.push(id);
      else if (JSON.stringify(hit._source) !== JSON.stringify(m.row) || BigInt(hit._version ?? -1) !== m.lsn) {
        stale.push(`${id}: es v${hit._version} ${JSON.stringify(hit._source)} vs model v${m.lsn} ${JSON.stringify(m.row)}`);
      }
    }
    for (const id of byId.keys()) if (!model.has(Number(id))) extra.push(id);
    console.log(`ese2e: ${changes} changes, ${model.size} rows, ${CYCLES} kill -9 cycles (${midStream} mid-stream); missing ${missing.length}, extra ${extra.length}, stale ${stale.length}`);
    expect({ missing, extra, stale: stale.slice(0, 5) }).toEqual({ missing: [], extra: [], stale: [] });
    expect(model.size).toBeGreaterThan(50);
    expect(midStream).toBeGreaterThanOrEqual(4);
  }, 600_000);
});

describe('Kafka → SinkRunner → Elasticsearch, poison document', () => {
  it('errors.tolerance=dlq: a mapping conflict goes to the dead-letter topic with headers, the partition proceeds', async () => {
    const dlqTable = 'dlq_items';
    const src = `${topic}-dlq-src`;
    const dlqTopic = `${topic}-dlq`;
    extraTopics.push(src, dlqTopic);
    await createTopic(admin, src, 1);
    const msg = (id: number, n: unknown, lsnN: number): { partition: number; message: KafkaTestMessage } => ({
      partition: 0,
      message: debeziumMessage({ table: dlqTable, prefix: PREFIX, op: 'c', after: { id, n } as Row, position: pos(lsnN) }),
    });
    // offset 1 is poison: n was mapped as a number by offset 0
    await sendTx(producer, src, [msg(1, 10, 100), msg(2, { nested: 'object' }, 101), msg(3, 30, 102), msg(4, 40, 103)]);
    const config = resolveSinkConfig(
      sinkCommonSpec.parse({ name: 'dlq', type: 'elasticsearch', topics: [src], 'group.id': `${sinkGroup}-dlq`, 'errors.tolerance': 'dlq', 'errors.deadletterqueue.topic.name': dlqTopic, 'batch.max.wait.ms': 20 }),
      { pipeline: 'ese2e', topicPrefix: PREFIX },
    );
    const sink = plugin.create(plugin.spec.parse({ url: endpoints().elasticsearchUrl, 'index.name.template': `ese2e-${run}.{table}`, 'checkpoint.index': checkpointIndex }), {
      pipeline: 'ese2e',
      sinkName: 'dlq',
      topicPrefix: PREFIX,
      groupId: config.groupId,
      logger: silentLogger,
    });
    const runner = new SinkRunner({ kafka, sink, config, pipeline: 'ese2e', logger: silentLogger, sessionTimeoutMs: 6000 });
    await runner.start();
    try {
      // 4 records + the commit marker: the runner stores the end of the partition (offset 5).
      await waitFor('offsets of the whole partition', () => runner.offsets().some((o) => o.topic === src && o.offset === '5'), 60_000);
    } finally {
      await runner.stop();
    }
    await es.indices.refresh({ index: `ese2e-${run}.${dlqTable}` });
    const hits = (await es.search<Row>({ index: `ese2e-${run}.${dlqTable}`, query: { match_all: {} } })).hits.hits;
    expect(hits.map((h) => h._id).sort()).toEqual(['1', '3', '4']);

    const reader = kafka.consumer({ groupId: `${sinkGroup}-dlq-reader` });
    const got: { value: string; headers: Record<string, string> }[] = [];
    await reader.connect();
    await reader.subscribe({ topic: dlqTopic, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        got.push({ value: message.value?.toString() ?? '', headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])) });
      },
    });
    try {
      await waitFor('the dead-letter record', () => got.length > 0, 30_000);
    } finally {
      await reader.disconnect();
    }
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0]!.value)).toMatchObject({ after: { id: 2, n: { nested: 'object' } } });
    expect(got[0]!.headers[DLQ_HEADERS.topic]).toBe(src);
    expect(got[0]!.headers[DLQ_HEADERS.offset]).toBe('1');
    expect(got[0]!.headers[DLQ_HEADERS.message]).toMatch(/parsing_exception/);
  }, 120_000);
});
