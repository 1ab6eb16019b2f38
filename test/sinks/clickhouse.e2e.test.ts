/**
 * End to end through the real sink runtime: Kafka (transactional, Debezium-shaped messages with
 * position headers) → SinkRunner → ClickHouse sink, then reconcile every row of the ClickHouse
 * FINAL state with the expected state (0 missing, 0 extra, 0 stale):
 *   1. kill -9 of a child process running the runner at random moments, ≥ 10 cycles, under load;
 *   2. a private ClickHouse server (own ports and data dir; never the shared one) stopped for 30 s
 *      under load: the runner retries, nothing is dropped, it catches up when the server is back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@clickhouse/client';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ClickHouseSink, clickhouseSpec } from '../../src/sinks/clickhouse/index.js';
import { SinkRunner } from '../../src/sinks/runtime/runner.js';
import { resolveSinkConfig, sinkCommonSpec } from '../../src/sinks/runtime/config.js';
import { testKafka } from '../support/kafka.js';
import { debeziumMessage, pos, tombstoneMessage } from '../support/records.js';
import { freePort } from '../support/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = randomUUID().slice(0, 8);
const kafka = testKafka({ clientId: `ch-e2e-${run}` });
const PARTITIONS = 3;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Item { v: string; n: number }

/** Generates Debezium changes over a key space in Kafka transactions and tracks the expected final state. */
class Workload {
  readonly expected = new Map<number, Item | null>();
  private lsn = 1_000_000n;
  changes = 0;
  constructor(private readonly producer: Producer, private readonly topic: string, private readonly keys: number) {}

  async transactions(count: number, maxChanges = 5): Promise<void> {
    const tx = await this.producer.transaction();
    for (let t = 0; t < count; t++) {
      this.lsn += 1000n;
      const n = 1 + Math.floor(Math.random() * maxChanges);
      for (let seq = 0; seq < n; seq++) {
        const id = 1 + Math.floor(Math.random() * this.keys);
        const cur = this.expected.get(id) ?? null;
        const position = pos(this.lsn, seq);
        const partition = id % PARTITIONS;
        const messages = [];
        if (cur && Math.random() < 0.25) {
          messages.push(debeziumMessage({ table: 'items', op: 'd', before: { id, ...cur }, after: null, position }), tombstoneMessage({ id }, position));
          this.expected.set(id, null);
        } else {
          const next = { v: `v${this.lsn}.${seq}`, n: Number(this.lsn % 100000n) + seq };
          messages.push(debeziumMessage({ table: 'items', op: cur ? 'u' : 'c', before: cur ? { id, ...cur } : null, after: { id, ...next }, position }));
          this.expected.set(id, next);
        }
        this.changes++;
        await tx.send({ topic: this.topic, messages: messages.map((m) => ({ partition, key: m.key, value: m.value, headers: m.headers })) });
      }
    }
    await tx.commit();
  }
}

interface Reconciled { missing: number; extra: number; stale: number; rows: number }

async function reconcile(url: string, database: string, expected: Map<number, Item | null>): Promise<Reconciled> {
  const ch = createClient({ url, log: { level: 127 } });
  try {
    const exists = await (await ch.query({ query: `EXISTS TABLE ${database}.public_items`, format: 'TabSeparated' })).text();
    const rows = exists.trim() === '1'
      ? await (await ch.query({ query: `SELECT id, v, n FROM ${database}.public_items FINAL WHERE _deleted = 0`, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json<{ id: number; v: string; n: number }>()
      : [];
    const got = new Map(rows.map((r) => [r.id, r]));
    let missing = 0, extra = 0, stale = 0;
    for (const [id, want] of expected) {
      const have = got.get(id);
      if (want && !have) missing++;
      else if (!want && have) extra++;
      else if (want && have && (have.v !== want.v || have.n !== want.n)) stale++;
    }
    for (const id of got.keys()) if (!expected.has(id)) extra++;
    return { missing, extra, stale, rows: rows.length };
  } finally {
    await ch.close();
  }
}

async function waitReconciled(url: string, database: string, expected: Map<number, Item | null>, timeoutMs: number): Promise<Reconciled> {
  const until = Date.now() + timeoutMs;
  let last: Reconciled = { missing: -1, extra: -1, stale: -1, rows: 0 };
  while (Date.now() < until) {
    last = await reconcile(url, database, expected).catch(() => last);
    if (last.missing === 0 && last.extra === 0 && last.stale === 0) return last;
    await sleep(500);
  }
  return last;
}

async function createTopic(admin: Admin, topic: string): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
}

let admin: Admin;
let producer: Producer;
const topics: string[] = [];
const databases: string[] = [];

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ idempotent: true, transactionalId: `ch-e2e-${run}`, maxInFlightRequests: 1 });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.deleteTopics({ topics }).catch(() => undefined);
  await admin?.disconnect();
  const ch = createClient({ url: endpoints().clickhouseUrl, log: { level: 127 } });
  for (const db of databases) await ch.command({ query: `DROP DATABASE IF EXISTS ${db}` }).catch(() => undefined);
  await ch.close();
});

const CHILD = `
const env = JSON.parse(process.env.CH_E2E);
const { testKafka } = await import(env.root + 'test/support/kafka.ts');
const { SinkRunner } = await import(env.root + 'src/sinks/runtime/runner.ts');
const { resolveSinkConfig, sinkCommonSpec } = await import(env.root + 'src/sinks/runtime/config.ts');
const { ClickHouseSink, clickhouseSpec } = await import(env.root + 'src/sinks/clickhouse/index.ts');
const { silentLogger } = await import(env.root + 'src/observability/logger.ts');
const kafka = testKafka({ clientId: 'ch-e2e-child', brokers: env.brokers });
const config = resolveSinkConfig(sinkCommonSpec.parse({ name: 'ch', type: 'clickhouse', topics: [env.topic], 'group.id': env.kafkaGroup,
  'batch.max.records': 200, 'batch.max.wait.ms': 20, 'errors.retry.initial.backoff.ms': 100, 'errors.retry.max.backoff.ms': 1000 }), { pipeline: 'e2e', topicPrefix: 'e2e' });
const sink = new ClickHouseSink({ config: clickhouseSpec.parse({ url: env.url, database: env.database, 'request.timeout.ms': 5000 }), group: env.group, logger: silentLogger });
const runner = new SinkRunner({ kafka, sink, config, pipeline: 'e2e', logger: silentLogger, sessionTimeoutMs: 6000 });
runner.on('failed', (e) => { console.error('FAILED ' + e.message); process.exit(3); });
await runner.start();
console.log('started');
`;

function spawnChild(env: Record<string, unknown>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: ROOT,
    env: { ...process.env, CH_E2E: JSON.stringify(env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('clickhouse e2e: Kafka → runner → ClickHouse', () => {
  it('survives kill -9 of the runner process at random moments (12 cycles) with 0 missing / extra / stale rows', async () => {
    const topic = `ch-e2e-kill-${run}`;
    const database = `cdc_e2e_kill_${run}`;
    topics.push(topic);
    databases.push(database);
    await createTopic(admin, topic);
    const w = new Workload(producer, topic, 300);
    const base = { root: ROOT, brokers: [...endpoints().kafkaBrokers], topic, url: endpoints().clickhouseUrl, database, group: `ch-e2e-${run}` };
    const failures: string[] = [];
    let producing = true;
    const load = (async () => {
      while (producing) {
        await w.transactions(20);
        await sleep(50);
      }
    })();
    for (let cycle = 0; cycle < 12; cycle++) {
      // a fresh Kafka group per cycle: the position must come from the sink's checkpoint table
      const child = spawnChild({ ...base, kafkaGroup: `ch-e2e-${run}-${cycle}` });
      let err = '';
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') failures.push(`cycle ${cycle}: exit ${code} ${signal} ${err.slice(0, 500)}`);
      });
      await sleep(2500 + Math.random() * 3000);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    producing = false;
    await load;
    const child = spawnChild({ ...base, kafkaGroup: `ch-e2e-${run}-final` });
    try {
      const result = await waitReconciled(endpoints().clickhouseUrl, database, w.expected, 120_000);
      expect(failures).toEqual([]);
      expect(result).toMatchObject({ missing: 0, extra: 0, stale: 0 });
      expect(w.changes).toBeGreaterThan(1000);
      console.log(`kill -9: ${w.changes} changes, ${result.rows} live rows reconciled`);
    } finally {
      child.kill('SIGKILL');
    }
  }, 300_000);
});

// ---- private ClickHouse for the outage test ----------------------------------------------------

class PrivateClickHouse {
  private proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'ch-private-'));
  constructor(readonly httpPort: number, readonly tcpPort: number) {
    for (const d of ['data', 'tmp', 'user_files']) mkdirSync(join(this.dir, d), { recursive: true });
    writeFileSync(join(this.dir, 'users.xml'), `<?xml version="1.0"?><yandex><profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas></yandex>`);
    writeFileSync(join(this.dir, 'config.xml'), `<?xml version="1.0"?><yandex>
<logger><level>warning</level><log>${this.dir}/server.log</log><errorlog>${this.dir}/server.err.log</errorlog><size>50M</size><count>1</count></logger>
<http_port>${httpPort}</http_port><tcp_port>${tcpPort}</tcp_port><listen_host>127.0.0.1</listen_host>
<path>${this.dir}/data/</path><tmp_path>${this.dir}/tmp/</tmp_path><user_files_path>${this.dir}/user_files/</user_files_path>
<users_config>${this.dir}/users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
<mark_cache_size>268435456</mark_cache_size><uncompressed_cache_size>268435456</uncompressed_cache_size><timezone>UTC</timezone></yandex>`);
  }
  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  async start(): Promise<void> {
    const bin = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'].find((p) => existsSync(p)) ?? 'clickhouse-server';
    this.proc = spawn(bin, [`--config-file=${join(this.dir, 'config.xml')}`], { stdio: 'ignore' });
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const ok = await fetch(`${this.url}/ping`).then((r) => r.ok).catch(() => false);
      if (ok) return;
      await sleep(200);
    }
    throw new Error(`private ClickHouse on ${this.url} did not start (see ${this.dir}/server.err.log)`);
  }
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
  }
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('clickhouse e2e: server outage', () => {
  it('keeps every change when ClickHouse is stopped for 30 s under load, then catches up', async () => {
    const server = new PrivateClickHouse(await freePort(), await freePort());
    await server.start();
    const topic = `ch-e2e-outage-${run}`;
    const database = `cdc_e2e_outage_${run}`;
    topics.push(topic);
    await createTopic(admin, topic);
    const w = new Workload(producer, topic, 500);
    const config = resolveSinkConfig(
      sinkCommonSpec.parse({ name: 'ch', type: 'clickhouse', topics: [topic], 'group.id': `ch-outage-${run}`, 'batch.max.records': 500, 'batch.max.wait.ms': 20, 'errors.retry.initial.backoff.ms': 100, 'errors.retry.max.backoff.ms': 2000 }),
      { pipeline: 'e2e', topicPrefix: 'e2e' },
    );
    const sink = new ClickHouseSink({ config: clickhouseSpec.parse({ url: server.url, database, 'request.timeout.ms': 3000 }), group: `ch-outage-${run}`, logger: silentLogger });
    let committedDuringOutage = 0;
    let down = false;
    const runner = new SinkRunner({ kafka, sink, config, pipeline: 'e2e', logger: silentLogger, sessionTimeoutMs: 10_000, onCommitted: () => { if (down) committedDuringOutage++; } });
    const states: string[] = [];
    runner.on('state', (s: { name: string }) => states.push(s.name));
    try {
      await runner.start();
      let producing = true;
      const load = (async () => {
        while (producing) {
          await w.transactions(25);
          await sleep(40);
        }
      })();
      await sleep(5000);
      const before = await reconcile(server.url, database, w.expected).catch(() => undefined);
      await server.stop();
      down = true;
      await sleep(30_000);
      down = false;
      await server.start();
      await sleep(3000);
      producing = false;
      await load;
      const result = await waitReconciled(server.url, database, w.expected, 120_000);
      expect(before?.rows ?? 0).toBeGreaterThan(0);
      expect(states).not.toContain('FAILED');
      expect(result).toMatchObject({ missing: 0, extra: 0, stale: 0 });
      expect(committedDuringOutage).toBe(0);
      console.log(`outage: ${w.changes} changes, ${result.rows} live rows reconciled after a 30 s stop`);
    } finally {
      await runner.stop().catch(() => undefined);
      await server.dispose();
    }
  }, 300_000);
});
