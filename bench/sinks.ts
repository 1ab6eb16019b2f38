/**
 * Sink benchmark harness: `npm run bench:sinks [-- <case> ...]`.
 *
 * For every registered case (one per sink) it runs, against the real stack:
 *   steady — Debezium-shaped changes produced with a transactional producer at a fixed rate
 *            (default 5,000/s for 20 s); `source.ts_ms` is the (simulated) Postgres commit time,
 *            stamped when the change is produced. Latency per record = sink commit acknowledged
 *            (SinkRunner onCommitted: for Redis the MULTI/EXEC returned, so the key is gone) minus
 *            ts_ms. Reports p50/p99/max and the lag at the end.
 *   drain  — a backlog of N changes is produced first, then one runner drains it: records/s, and
 *            the case's own unit (e.g. invalidations/s) via `effectsPerRecord`.
 * Results merge into bench/results/sinks.json (one section per case) with machine and versions.
 *
 * Adding a sink: write a BenchCase (setup returns the sink, the tables config it needs and a
 * teardown) and add it to `cases` below.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, platform } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Producer } from 'kafkajs';
import { endpoints } from '../scripts/stack/endpoints.js';
import { HEADERS } from '../src/events/change.js';
import { silentLogger } from '../src/observability/logger.js';
import { createClient as createClickHouseClient } from '@clickhouse/client';
import { Client as ElasticsearchClient } from '@elastic/elasticsearch';
import { plugin as elasticsearchPlugin } from '../src/sinks/elasticsearch/index.js';
import { ClickHouseSink, clickhouseSpec } from '../src/sinks/clickhouse/index.js';
import { RedisSink } from '../src/sinks/redis/sink.js';
import { redisSinkSpec } from '../src/sinks/redis/spec.js';
import { resolveSinkConfig, sinkCommonSpec } from '../src/sinks/runtime/config.js';
import { SinkRunner } from '../src/sinks/runtime/runner.js';
import type { Sink } from '../src/sinks/sink.js';
import { benchKafka } from './kafka-bench.js';

export interface BenchContext {
  /** Unique id of this run (use it in index/table/key names). */
  readonly run: string;
  /** The source table the changes belong to (schema.table). */
  readonly table: { readonly schema: string; readonly name: string };
}

export interface BenchSink {
  /** A fresh sink instance for one phase (the harness opens it through the runner). */
  newSink(phase: string): Sink;
  /** Store-side effects per record, to report e.g. invalidations/s (default 1). */
  readonly effectsPerRecord?: number;
  /** Name of the effect unit, e.g. "invalidations". */
  readonly effectUnit?: string;
  /** Server/client versions to record. */
  versions(): Promise<Record<string, string>>;
  /** Store-side state sampled every 5 s during the steady load and after each phase (e.g. ClickHouse active parts). */
  probe?(): Promise<Record<string, number>>;
  teardown(): Promise<void>;
}

export interface BenchCase {
  readonly name: string;
  readonly description: string;
  setup(ctx: BenchContext): Promise<BenchSink>;
}

// ---------------------------------------------------------------- cases -------------------------

const redisCase: BenchCase = {
  name: 'redis',
  description: 'Redis sink, invalidate mode, 2 key templates per row (user:{id}, user:email:{email}); UNLINK + offsets in one MULTI/EXEC per batch',
  async setup(ctx) {
    const db = 14;
    const prefix = `bench-${ctx.run}:`;
    // The database index is the URL path (ioredis lets a URL's path win over a `db` option).
    const dbUrl = new URL(endpoints().redisUrl);
    dbUrl.pathname = `/${db}`;
    const admin = new Redis(dbUrl.toString());
    const table = `${ctx.table.schema}.${ctx.table.name}`;
    const config = redisSinkSpec.parse({ url: dbUrl.toString(), tables: [table], 'table.overrides': { [table]: { keys: [`${prefix}user:{id}`, `${prefix}user:email:{email}`] } } });
    return {
      newSink: (phase) => new RedisSink(config, `${prefix}offsets:${phase}`, silentLogger),
      effectsPerRecord: 2,
      effectUnit: 'invalidations',
      async versions() {
        const info = await admin.info('server');
        return { redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown', ioredis: pkgVersion('ioredis') };
      },
      async teardown() {
        let cursor = '0';
        do {
          const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await admin.unlink(...keys);
        } while (cursor !== '0');
        await admin.quit();
      },
    };
  },
};

/**
 * ClickHouse: upsert mode into a table created by inference, in a database of its own (dropped
 * after). Probe: active parts per table (system.parts) and the checkpoint INSERTs made.
 * BENCH_CH_CHECKPOINT=per-commit emulates the sink before checkpoint grouping for A/B runs: every
 * commit() is its own checkpoint INSERT (checkpoint.interval.ms 0, commits serialised so none share one).
 */
const clickhouseCase: BenchCase = {
  name: 'clickhouse',
  description: 'ClickHouse sink, upsert mode: one TabSeparated INSERT per batch into ReplacingMergeTree(_version); the partitions\' offset commits grouped into one checkpoint INSERT per checkpoint.interval.ms; stale check from memory after the replay zone',
  async setup(ctx) {
    const url = endpoints().clickhouseUrl;
    const database = `cdc_bench_${ctx.run}`;
    const admin = createClickHouseClient({ url, log: { level: 127 } });
    const perCommit = process.env.BENCH_CH_CHECKPOINT === 'per-commit';
    const config = clickhouseSpec.parse({ url, database, ...(perCommit ? { 'checkpoint.interval.ms': 0 } : {}) });
    const sinks: ClickHouseSink[] = [];
    return {
      newSink: (phase) => {
        const sink = new ClickHouseSink({ config, group: `bench-${ctx.run}-${phase}`, logger: silentLogger });
        sinks.push(sink);
        if (!perCommit) return sink;
        let chain: Promise<void> = Promise.resolve();
        const serialised: Sink = {
          open: () => sink.open(),
          loadOffsets: (p) => sink.loadOffsets(p),
          write: (b) => sink.write(b),
          commit: (o) => (chain = chain.catch(() => undefined).then(() => sink.commit(o))),
          resetOffsets: (o) => sink.resetOffsets(o),
          close: () => sink.close(),
        };
        return serialised;
      },
      effectUnit: 'rows',
      async versions() {
        const rs = await admin.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
        const [row] = await rs.json<{ v: string }>();
        return { clickhouse: row?.v ?? 'unknown', '@clickhouse/client': pkgVersion('@clickhouse/client'), checkpointMode: perCommit ? 'per-commit (emulated old behaviour)' : `grouped, checkpoint.interval.ms ${config['checkpoint.interval.ms']}` };
      },
      async probe() {
        const rs = await admin.query({ query: `SELECT table, count() AS parts FROM system.parts WHERE database = '${database}' AND active GROUP BY table`, format: 'JSONEachRow' });
        const rows = await rs.json<{ table: string; parts: string | number }>();
        const out: Record<string, number> = {};
        let total = 0;
        for (const r of rows) {
          const n = Number(r.parts);
          total += n;
          out[r.table.startsWith('cdc_fanout_checkpoints') ? r.table : 'data'] = (out[r.table.startsWith('cdc_fanout_checkpoints') ? r.table : 'data'] ?? 0) + n;
        }
        return { activeParts: total, ...Object.fromEntries(Object.entries(out).map(([k, v]) => [`activeParts.${k}`, v])), checkpointInserts: sinks.reduce((a, x) => a + x.checkpointInsertCount, 0) };
      },
      async teardown() {
        await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
        await admin.close();
      },
    };
  },
};

/** Baseline: a sink that stores only offsets in memory — what Kafka + decoding + the runtime cost. */
const elasticsearchCase: BenchCase = {
  name: 'elasticsearch',
  description: 'Elasticsearch sink: one versioned bulk per batch (index, version_type=external_gte, version = commit LSN; last op per _id), then the offsets doc per partition in the checkpoint index; refresh=false, dynamic mapping',
  async setup(ctx) {
    const url = endpoints().elasticsearchUrl;
    const es = new ElasticsearchClient({ node: url });
    const checkpointIndex = `cdc-fanout-checkpoints-bench-${ctx.run}`;
    const config = elasticsearchPlugin.spec.parse({ url, 'index.name.template': `bench-${ctx.run}.{table}`, 'checkpoint.index': checkpointIndex });
    return {
      newSink: (phase) =>
        elasticsearchPlugin.create(config, { pipeline: 'bench', sinkName: `es-${phase}`, topicPrefix: 'bench', groupId: `bench-${ctx.run}-${phase}`, logger: silentLogger }),
      async versions() {
        const info = await es.info();
        return { elasticsearch: info.version.number, '@elastic/elasticsearch': pkgVersion('@elastic/elasticsearch') };
      },
      async teardown() {
        await es.indices.delete({ index: [`bench-${ctx.run}.*`, checkpointIndex], ignore_unavailable: true, allow_no_indices: true });
        await es.close();
      },
    };
  },
};

const noopCase: BenchCase = {
  name: 'runtime-noop',
  description: 'SinkRunner with a no-op sink (offsets in memory): the runtime + kafkajs + decoding baseline',
  async setup() {
    return {
      newSink(): Sink {
        const offsets = new Map<string, string>();
        return {
          open: async () => undefined,
          close: async () => undefined,
          write: async () => ({ rejected: [], staleSkipped: 0 }),
          commit: async (o) => void o.forEach((x) => {
            const had = offsets.get(`${x.topic}:${x.partition}`);
            if (had === undefined || BigInt(x.offset) > BigInt(had)) offsets.set(`${x.topic}:${x.partition}`, x.offset);
          }),
          resetOffsets: async (o) => void o.forEach((x) => offsets.set(`${x.topic}:${x.partition}`, x.offset)),
          loadOffsets: async (tps) => tps.flatMap((tp) => {
            const offset = offsets.get(`${tp.topic}:${tp.partition}`);
            return offset ? [{ ...tp, offset }] : [];
          }),
        };
      },
      versions: async () => ({}),
      teardown: async () => undefined,
    };
  },
};

/** Registered cases, in run order. Other sinks add theirs here. */
export const cases: BenchCase[] = [noopCase, redisCase, clickhouseCase, elasticsearchCase];

// ---------------------------------------------------------------- harness -----------------------

const RATE = Number(process.env.BENCH_RATE ?? 5000);
const STEADY_S = Number(process.env.BENCH_STEADY_S ?? 20);
const DRAIN_N = Number(process.env.BENCH_DRAIN_N ?? 100_000);
const PARTITIONS = 3;
const ROWS = 50_000;

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const kafka = benchKafka({ clientId: 'bench-sinks' });
let lsn = 1_000_000n;

function message(table: BenchContext['table'], id: number, tsMs: number) {
  const commitLsn = ++lsn;
  const row = { id, email: `u${id}@example.com`, name: `user ${id}`, updated: tsMs };
  const value = {
    before: { id, email: `u${id}@example.com` },
    after: row,
    source: { version: '0.1.0', connector: 'postgresql', name: 'bench', ts_ms: tsMs, snapshot: 'false', db: 'bench', schema: table.schema, table: table.name, txId: 1, lsn: Number(commitLsn) },
    op: 'u',
    ts_ms: tsMs,
    transaction: null,
  };
  return {
    partition: id % PARTITIONS,
    key: JSON.stringify({ id }),
    value: JSON.stringify(value),
    headers: { [HEADERS.commitLsn]: commitLsn.toString(), [HEADERS.seq]: '0' },
  };
}

async function produce(producer: Producer, topic: string, table: BenchContext['table'], n: number): Promise<void> {
  const tx = await producer.transaction();
  const now = Date.now();
  await tx.send({ topic, messages: Array.from({ length: n }, () => message(table, Math.floor(Math.random() * ROWS), now)) });
  await tx.commit();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function runnerFor(sink: Sink, topic: string, group: string, onLatency: (ms: number) => void, onRecords: (n: number) => void): SinkRunner {
  const config = resolveSinkConfig(sinkCommonSpec.parse({ name: 'bench', type: 'bench', topics: [topic], 'group.id': group, 'batch.max.records': 2000, 'batch.max.wait.ms': 10, 'partitions.concurrency': PARTITIONS }), {
    pipeline: 'bench',
    topicPrefix: 'bench',
  });
  return new SinkRunner({
    kafka,
    sink,
    config,
    pipeline: 'bench',
    logger: silentLogger,
    onCommitted: (batch) => {
      const now = Date.now();
      for (const r of batch.records) if (typeof r.source?.ts_ms === 'number') onLatency(now - r.source.ts_ms);
      onRecords(batch.records.length);
    },
  });
}

async function runCase(c: BenchCase): Promise<Record<string, unknown>> {
  const run = randomUUID().slice(0, 8);
  const ctx: BenchContext = { run, table: { schema: 'public', name: `bench_${run}` } };
  const admin = kafka.admin();
  await admin.connect();
  const topics = [`bench-${c.name}-${run}-steady`, `bench-${c.name}-${run}-drain`];
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })), waitForLeaders: true });
  const producer = kafka.producer({ idempotent: true, transactionalId: `bench-${run}`, maxInFlightRequests: 1 });
  await producer.connect();
  const bench = await c.setup(ctx);
  try {
    // steady
    const latencies: number[] = [];
    let applied = 0;
    const steady = runnerFor(bench.newSink('steady'), topics[0]!, `bench-${run}-steady`, (ms) => latencies.push(ms), (n) => (applied += n));
    await steady.start();
    await produce(producer, topics[0]!, ctx.table, 10); // let the group settle before the clock starts
    while (applied < 10) await new Promise((r) => setTimeout(r, 50));
    latencies.length = 0;
    applied = 0;
    // The steady load comes from a child process, so producing does not steal the sink's CPU time.
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--producer', topics[0]!, ctx.table.schema, ctx.table.name, String(RATE), String(STEADY_S)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const probes: Array<Record<string, number>> = [];
    const probeTimer = bench.probe
      ? setInterval(() => {
          const atS = Math.round((Date.now() - started) / 1000);
          void bench.probe?.().then((p) => probes.push({ atS, ...p }), () => undefined);
        }, 5000)
      : undefined;
    await new Promise((r) => child.once('exit', r));
    clearInterval(probeTimer);
    const sent = (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { sent?: number }).sent ?? 0;
    const producedIn = (Date.now() - started) / 1000;
    const lagAtEnd = sent - applied;
    const drainDeadline = Date.now() + 30_000;
    while (applied < sent && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 20));
    await steady.stop();
    const steadyProbe = bench.probe ? await bench.probe() : undefined;
    const sorted = [...latencies].sort((a, b) => a - b);

    // drain
    for (let done = 0; done < DRAIN_N; done += 2000) await produce(producer, topics[1]!, ctx.table, Math.min(2000, DRAIN_N - done));
    let drained = 0;
    let drainStart = 0;
    const drainRunner = runnerFor(bench.newSink('drain'), topics[1]!, `bench-${run}-drain`, () => undefined, (n) => {
      if (drained === 0) drainStart = Date.now();
      drained += n;
    });
    await drainRunner.start();
    const drainTimeout = Date.now() + 300_000;
    while (drained < DRAIN_N && Date.now() < drainTimeout) await new Promise((r) => setTimeout(r, 20));
    const drainS = (Date.now() - drainStart) / 1000;
    await drainRunner.stop();
    const drainProbe = bench.probe ? await bench.probe() : undefined;
    const perRecord = bench.effectsPerRecord ?? 1;
    return {
      description: c.description,
      versions: { ...(await bench.versions()), kafkajs: pkgVersion('kafkajs') },
      steady: {
        targetRate: RATE,
        achievedProduceRate: Math.round(sent / producedIn),
        seconds: STEADY_S,
        records: sent,
        applied,
        lagAtEndOfProduction: lagAtEnd,
        latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN },
        latencyDefinition: 'sink commit acknowledged (effects + offsets durable) minus source.ts_ms stamped at produce time (Kafka produce → sink; add the source\'s PG commit → Kafka latency for end to end)',
        ...(steadyProbe ? { probeEvery5s: probes, probeAtEnd: steadyProbe } : {}),
      },
      drain: {
        records: drained,
        seconds: Number(drainS.toFixed(2)),
        recordsPerSecond: Math.round(drained / drainS),
        [`${bench.effectUnit ?? 'effects'}PerSecond`]: Math.round((drained * perRecord) / drainS),
        ...(drainProbe ? { probeAtEnd: drainProbe } : {}),
      },
    };
  } finally {
    await bench.teardown().catch(() => undefined);
    await producer.disconnect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !cases.some((c) => c.name === w));
  if (unknown.length) throw new Error(`unknown bench case(s) ${unknown.join(', ')}; known: ${cases.map((c) => c.name).join(', ')}`);
  const selected = wanted.length ? cases.filter((c) => wanted.includes(c.name)) : cases;
  const file = new URL('./results/sinks.json', import.meta.url);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const fresh: Record<string, unknown> = {};
  for (const c of selected) {
    process.stdout.write(`bench ${c.name}: steady ${RATE}/s for ${STEADY_S}s, then drain ${DRAIN_N}\n`);
    const key = c.name === 'clickhouse' && process.env.BENCH_CH_CHECKPOINT === 'per-commit' ? 'clickhouse-per-commit-checkpoints' : c.name;
    const loadBefore = loadavg()[0];
    fresh[key] = { ...(await runCase(c)), at: new Date().toISOString(), loadAvg1m: { start: loadBefore, end: loadavg()[0] } };
    process.stdout.write(`${JSON.stringify(fresh[key], null, 2)}\n`);
  }
  // Re-read right before writing: other cases may have been benchmarked meanwhile.
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { cases?: Record<string, unknown> }) : {};
  const results: Record<string, unknown> = { ...(existing.cases ?? {}), ...fresh };
  const out = {
    machine: { platform: platform(), release: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, note: 'shared machine: other workloads were running' },
    cases: results,
  };
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`written ${file.pathname}\n`);
}

/** Child mode: `--producer <topic> <schema> <table> <rate> <seconds>` — steady transactional load, prints {"sent": n}. */
async function producerMain(args: string[]): Promise<void> {
  const [topic, schema, name, rate, seconds] = args as [string, string, string, string, string];
  lsn = BigInt(Date.now()) * 1000n; // increasing across phases and processes
  const producer = kafka.producer({ idempotent: true, transactionalId: `bench-producer-${randomUUID()}`, maxInFlightRequests: 1 });
  await producer.connect();
  const started = Date.now();
  let sent = 0;
  while (Date.now() - started < Number(seconds) * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * Number(rate)) - sent;
    if (due > 0) {
      const n = Math.min(due, 500);
      await produce(producer, topic, { schema, name }, n);
      sent += n;
    } else await new Promise((r) => setTimeout(r, 2));
  }
  await producer.disconnect();
  process.stdout.write(`${JSON.stringify({ sent })}\n`);
}

if (process.argv[2] === '--producer') await producerMain(process.argv.slice(3));
else await main();
