/**
 * Rebuild benchmark (npm run bench:rebuild): is `cdc-fanout rebuild --from log` at least as fast as
 * the sink itself draining the same backlog? Per sink (Elasticsearch, ClickHouse):
 *  1. drain — a fresh consumer group of the sink (its defaults, in-process SinkRunner as the daemon
 *     builds it) applies the topic from offset 0 to its end: records / seconds from its start until its
 *     stored offsets reach the end;
 *  2. rebuild — rebuildSink() (src/daemon/rebuild.ts, as `cdc-fanout rebuild`) builds generation 1
 *     from offset 0 of the same topic, next to the drained "live" target: records / seconds from phase
 *     building to phase swapping (caught up with the live group); the swap, drain and retire after it
 *     are reported separately (totalSeconds).
 * ratio = rebuild rate / drain rate (the bar: ≥ ~1 — a rebuild slower than the sink could not catch
 * up with a write rate the sink sustains).
 * The backlog: `--rows` (default 200,000) rows of bench:snapshot's orders-like table (13 columns, ~370
 * bytes/row), written into a 3-partition data topic by the initial snapshot of an in-process source.
 * Both measurements of a sink include building the sink instance and the consumer group join (a few
 * seconds on the loaded box). Between them the bench waits for the drained target's background work
 * (ClickHouse merges of the parts the drain inserted; an Elasticsearch refresh), plus 5 s.
 * Results: bench/results/rebuild.json with machine, versions and `uptime` before/after each run (the
 * machine is shared: read the load with the numbers).
 *
 *   npm run bench:rebuild [-- --rows=2000000 --sinks=elasticsearch,clickhouse --out=<file>]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { Client } from '@elastic/elasticsearch';
import pg from 'pg';
import { endpoints } from '../scripts/stack/endpoints.js';
import { loadConfig } from '../src/config/load.js';
import { liveGroupOf, rebuildSink } from '../src/daemon/rebuild.js';
import { sinkFactory } from '../src/daemon/sink-adapter.js';
import { sourceDatabaseUrl } from '../src/source/source-url.js';
import { createLogger } from '../src/observability/logger.js';
import { loadSinkPlugin } from '../src/sinks/registry.js';
import { PostgresSource } from '../src/source/postgres-source.js';
import { createOrdersTable, machine, versions } from './common.js';
import { benchKafka } from './kafka-bench.js';

const argOf = (name: string): string | undefined => process.argv.find((x) => x.startsWith(`--${name}=`))?.split('=')[1];
const ROWS = Number(argOf('rows') ?? 200_000);
const SINKS = (argOf('sinks') ?? 'elasticsearch,clickhouse').split(',').filter(Boolean);
const OUT = argOf('out') ?? new URL('./results/rebuild.json', import.meta.url).pathname;

const ep = endpoints();
const logger = createLogger({ level: process.env.CDC_LOG_LEVEL ?? 'warn' });
const kafka = benchKafka({ clientId: 'bench-rebuild' });
const run = Date.now().toString(36);
const T = `bench_rb_${run}`;
const TOPIC = `${T}.public.${T}`;
const CHECKPOINTS = `cdc-fanout-checkpoints-${T}`;
const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sourceBlock(): Record<string, unknown> {
  const u = new URL(ep.postgresUrl);
  return {
    'database.hostname': u.hostname,
    'database.port': Number(u.port || 5432),
    'database.user': decodeURIComponent(u.username || 'postgres'),
    'database.dbname': u.pathname.slice(1) || 'postgres',
    ...(u.password ? { 'database.password': decodeURIComponent(u.password) } : {}),
    'topic.prefix': T,
    'slot.name': T,
    'publication.name': `${T}_pub`,
    'publication.autocreate.mode': 'filtered',
    'table.include.list': `public\\.${T}`,
    'table.discovery.interval.ms': 0,
  };
}

const sinkBlocks: Record<string, Record<string, unknown>> = {
  elasticsearch: { name: 'search', type: 'elasticsearch', url: ep.elasticsearchUrl, tables: [`public.${T}`], 'checkpoint.index': CHECKPOINTS },
  clickhouse: { name: 'warehouse', type: 'clickhouse', url: ep.clickhouseUrl, database: T, tables: [`public.${T}`] },
};

interface SinkResult {
  readonly sink: string;
  readonly records: number;
  readonly drain: { readonly seconds: number; readonly recordsPerSecond: number; readonly uptimeBefore: string; readonly uptimeAfter: string };
  /** Wait between the drain and the rebuild for the drained target's background work (merges). */
  readonly settleSeconds: number;
  readonly rebuild: { readonly buildSeconds: number; readonly recordsPerSecond: number; readonly totalSeconds: number; readonly uptimeBefore: string; readonly uptimeAfter: string };
  readonly ratio: number;
  /** Rows the live name serves after the rebuild's swap (should be the table's rows). */
  readonly rowsAfter: number;
}

async function topicEnd(): Promise<{ partitions: { topic: string; partition: number }[]; total: bigint }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offs = await admin.fetchTopicOffsets(TOPIC);
    return { partitions: offs.map((o) => ({ topic: TOPIC, partition: o.partition })), total: offs.reduce((s, o) => s + BigInt(o.high), 0n) };
  } finally {
    await admin.disconnect();
  }
}

/** Waits until ClickHouse runs no merge in the bench database (at most 120 s), or refreshes Elasticsearch; then 5 s. */
async function settle(sink: string): Promise<number> {
  const t0 = Date.now();
  if (sink === 'clickhouse') {
    const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });
    try {
      while (Date.now() - t0 < 120_000) {
        const rows = (await (await ch.query({ query: `SELECT count() AS n FROM system.merges WHERE database = '${T}'`, format: 'JSONEachRow' })).json()) as { n: string }[];
        if (Number(rows[0]?.n ?? 0) === 0) break;
        await sleep(500);
      }
    } finally {
      await ch.close();
    }
  } else {
    const es = new Client({ node: ep.elasticsearchUrl });
    try {
      await es.indices.refresh({ index: TOPIC });
    } finally {
      await es.close();
    }
  }
  await sleep(5000);
  return (Date.now() - t0) / 1000;
}

async function rowsServed(sink: string): Promise<number> {
  if (sink === 'elasticsearch') {
    const es = new Client({ node: ep.elasticsearchUrl });
    try {
      await es.indices.refresh({ index: TOPIC });
      return (await es.count({ index: TOPIC })).count;
    } finally {
      await es.close();
    }
  }
  const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });
  try {
    const rows = (await (await ch.query({ query: `SELECT count() AS n FROM ${T}.public_${T}_current`, format: 'JSONEachRow' })).json()) as { n: string }[];
    return Number(rows[0]?.n ?? 0);
  } finally {
    await ch.close();
  }
}

async function main(): Promise<void> {
  const db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  const dir = mkdtempSync(join(tmpdir(), 'bench-rebuild-'));
  const results: SinkResult[] = [];
  try {
    console.log(`creating public.${T} with ${ROWS} rows …`);
    const size = await createOrdersTable(db, `public.${T}`, ROWS);
    console.log(`table ready: ${size}`);
    const file = join(dir, 'p.json');
    writeFileSync(file, JSON.stringify({ name: T, source: sourceBlock(), kafka: { 'bootstrap.servers': ep.kafkaBrokers.join(','), 'topic.creation.partitions': 3 }, sinks: SINKS.map((s) => sinkBlocks[s]) }));
    const loaded = await loadConfig(file);
    if (loaded.errors.length) throw new Error(`bench config: ${JSON.stringify(loaded.errors)}`);
    const p = loaded.pipelines[0]!.config;

    // The backlog: the table's initial snapshot into the data topic.
    const t0 = Date.now();
    const source = new PostgresSource({ ...sourceBlock(), name: T, 'snapshot.mode': 'initial_only' }, p.kafka, logger);
    await source.start();
    await source.whenStopped();
    await source.stop().catch(() => undefined);
    const { partitions, total } = await topicEnd();
    console.log(`backlog: ${total} records in ${TOPIC} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

    for (const sinkName of SINKS) {
      const sink = p.sinks.find((s) => s.type === sinkName)!;
      const plugin = await loadSinkPlugin(sink.type);
      const store = plugin.generations!(plugin.spec.parse(Object.fromEntries(Object.keys(plugin.spec.shape).filter((k) => sink[k] !== undefined).map((k) => [k, sink[k]]))), {
        pipeline: T,
        sinkName: sink.name,
        topicPrefix: T,
        groupId: liveGroupOf({ pipeline: T, topicPrefix: T, sink }),
        logger,
      });
      await store.ensure();

      // 1. drain: the sink as the daemon runs it, a fresh group, from offset 0 to the end.
      const dBefore = uptime();
      let failure: Error | null = null;
      // Timed from building the sink instance, as the rebuild's time includes building its own.
      const d0 = Date.now();
      const { factory } = await sinkFactory({ pipeline: T, topicPrefix: T, kafka: p.kafka, sink, logger, source: p.source, sourceDatabaseUrl: sourceDatabaseUrl(p.source) });
      const handle = factory({ onFailure: (e) => (failure = e) });
      await handle.start();
      for (;;) {
        if (failure) throw new Error(`${sinkName} drain failed: ${(failure as Error).message}`);
        const mine = await store.offsets(store.liveGroup, partitions);
        if ([...mine.values()].reduce((s, v) => s + v, 0n) >= total) break;
        await sleep(250);
      }
      const drainSeconds = (Date.now() - d0) / 1000;
      await handle.stop();
      const drain = { seconds: drainSeconds, recordsPerSecond: Math.round(Number(total) / drainSeconds), uptimeBefore: dBefore, uptimeAfter: uptime() };
      console.log(`${sinkName} drain: ${total} records in ${drainSeconds.toFixed(1)} s = ${drain.recordsPerSecond} records/s (${drain.uptimeAfter})`);

      // Settle: the drained target's background work (ClickHouse part merges, Elasticsearch refresh)
      // would otherwise run on the same 2 cores during the rebuild and count against it.
      const settleSeconds = await settle(sinkName);
      console.log(`${sinkName}: settled ${settleSeconds.toFixed(1)} s after the drain`);

      // 2. rebuild from the log into generation 1, next to the drained target.
      const rBefore = uptime();
      const at: Record<string, number> = {};
      const r0 = Date.now();
      await rebuildSink({
        pipeline: T,
        topicPrefix: T,
        kafka: p.kafka,
        source: p.source,
        sink,
        graceMs: 0,
        pollMs: 250,
        logger,
        onPhase: (st) => void (at[st.phase] ??= Date.now()),
      });
      const totalSeconds = (Date.now() - r0) / 1000;
      const buildSeconds = ((at.swapping ?? Date.now()) - (at.building ?? r0)) / 1000;
      const rebuild = { buildSeconds, recordsPerSecond: Math.round(Number(total) / buildSeconds), totalSeconds, uptimeBefore: rBefore, uptimeAfter: uptime() };
      const rowsAfter = await rowsServed(sinkName);
      const res: SinkResult = { sink: sinkName, records: Number(total), drain, settleSeconds, rebuild, ratio: Number((rebuild.recordsPerSecond / drain.recordsPerSecond).toFixed(2)), rowsAfter };
      results.push(res);
      console.log(`${sinkName} rebuild: ${total} records built in ${buildSeconds.toFixed(1)} s = ${rebuild.recordsPerSecond} records/s (total with swap/drain/retire ${totalSeconds.toFixed(1)} s); ratio ${res.ratio}; ${rowsAfter} rows served after the swap (${rebuild.uptimeAfter})`);
      await store.close();
    }
    const out = {
      benchmark: 'rebuild',
      date: new Date().toISOString(),
      machine: machine(),
      versions: versions(),
      note: 'shared 2-core machine, loaded by other jobs during the run (see uptime before/after each measurement); rates include the consumer group join',
      table: { rows: ROWS, size, columns: 13, topicPartitions: 3 },
      settings: { 'batch.max.records': 1000, note: 'sink defaults for the drain; the rebuild instance uses batch.max.records ≥ 1000 (src/daemon/rebuild.ts), i.e. the same at defaults' },
      results,
    };
    writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`written ${OUT}`);
  } finally {
    await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [T]).catch(() => undefined);
    await db.query(`DROP PUBLICATION IF EXISTS ${T}_pub`).catch(() => undefined);
    await db.query(`DROP TABLE IF EXISTS public.${T}`).catch(() => undefined);
    await db.end();
    const es = new Client({ node: ep.elasticsearchUrl });
    await es.indices.delete({ index: [`${TOPIC}*`, CHECKPOINTS], ignore_unavailable: true }).catch(() => undefined);
    await es.close();
    const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });
    await ch.command({ query: `DROP DATABASE IF EXISTS ${T}` }).catch(() => undefined);
    await ch.close();
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(T));
    if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(T));
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
