/**
 * Source benchmark (npm run bench:source): Postgres → Kafka in exactly-once mode on the real stack.
 *
 *  1. throughput: a backlog of insert/update/delete transactions (100 rows each) is written while
 *     the source is stopped; then the source drains it — events/s committed to Kafka. The same WAL
 *     is decoded by Postgres alone through a second pgoutput slot with
 *     pg_logical_slot_peek_binary_changes (the server's decode ceiling), and streamed by
 *     `pg_recvlogical` through a third slot to /dev/null: the most one slot can deliver over the
 *     replication protocol — the physical limit. Both are reported as ratios (issue 16: ≥ 0.60 of
 *     pg_recvlogical with defaults, ≥ 0.35 with --schemas).
 *  2. latency: a steady 5,000 events/s load; p50/p99 from PG commit timestamp to Kafka commit.
 *  3. large transaction: one 1,000,000-row INSERT through the compiled daemon itself (built with
 *     tsc first, run as `node .bench-build/cli/main.js run` with a source-only pipeline: compiled JS,
 *     no tsx); peak RSS is the kernel's VmHWM of that process.
 * The main thread is CPU-profiled during the drain (node:inspector, 0.5 ms sampling) and the
 * result names where the time went per component (--profile=<file> also keeps the .cpuprofile).
 * Results: bench/results/source.json (with machine and versions).
 *
 *   npm run bench:source [-- --runs=3 --backlog=300000 --steady-seconds=20 --large=1000000 --out=<file>]
 *   npm run bench:source -- --only-large --out=<file>     (phase 3 alone)
 *   npm run bench:source -- --schemas --out=bench/results/source-schemas.json   (schemas.enable: true)
 *   npm run bench:source -- --throughput-only --runs=2 --out=<file>   (phase 1 alone: A/B runs of the drain)
 *   npm run bench:source -- --notes='machine loaded: …'   (free text kept in the result)
 *   NODE_OPTIONS=--max-old-space-size=256 npm run bench:source -- --out=bench/results/source-heap256.json
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import pg from 'pg';
import { endpoints } from '../scripts/stack/endpoints.js';
import { kafkaSpec } from '../src/kafka/config.js';
import { sourceSpec } from '../src/source/config.js';
import { MAX_UNACKED_SENDS } from '../src/kafka/producer.js';
import { sendsPipelined, useLibraryEncoder } from '../src/kafka/single-buffer-producer.js';
import { createLogger } from '../src/observability/logger.js';
import { PostgresSource } from '../src/source/postgres-source.js';
import type { CommittedBatch } from '../src/source/publisher.js';
import { startProfile, summarise, type ProfileSummary } from './profile.js';
import { benchSourceConfig as sharedSourceConfig, buildDaemon, machine, metricValue, procStatusKB, startDaemon, versions, writeBacklog } from './common.js';
import { benchKafka } from './kafka-bench.js';
import { cpuWindow, type CpuReport } from './cpu-accounting.js';

const arg = (name: string, def: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
};
const BACKLOG = arg('backlog', 300_000);
const RUNS = arg('runs', 3);
const STEADY_S = arg('steady-seconds', 20);
const STEADY_RATE = arg('steady-rate', 5000);
const LARGE = arg('large', 1_000_000);
// The connector's defaults unless given.
const BATCH = arg('batch', sourceSpec.shape['max.batch.size'].parse(undefined));
const QUEUE = arg('queue', sourceSpec.shape['max.queue.size'].parse(undefined));
const SCHEMAS = process.argv.includes('--schemas');
/** Phase 1 alone (A/B runs of the drain; the result then has no latency or largeTransaction). */
const THROUGHPUT_ONLY = process.argv.includes('--throughput-only');
/** Free text kept in the result (e.g. how loaded the shared machine was). */
const NOTES = process.argv.find((x) => x.startsWith('--notes='))?.slice('--notes='.length);
const PROFILE_FILE = process.argv.find((x) => x.startsWith('--profile='))?.split('=')[1];
const OUT = process.argv.find((x) => x.startsWith('--out='))?.split('=')[1] ?? new URL('./results/source.json', import.meta.url).pathname;

const ep = endpoints();
const logger = createLogger({ level: process.env.CDC_LOG_LEVEL ?? 'warn' });
const run = Date.now().toString(36);
const name = `bench_src_${run}`;
const table = `public.${name}`;
const prefix = `bench-src-${run}`;
const rawSlot = `${name}_raw`;
const recvSlot = `${name}_recv`;

const db = new pg.Client({ connectionString: ep.postgresUrl });
await db.connect();

/** Peak RSS of this process during a throughput run (phase 3 measures the daemon's own, via /proc). */
let peakRss = 0;
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

function median3(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Source config of a bench pipeline capturing `public.<id>`: connection from the stack's endpoints, slot and publication named after it. */
function benchSourceConfig(id: string, topicPrefix: string): Record<string, unknown> {
  return sharedSourceConfig({ table: id, topicPrefix, slot: id, publication: `${id}_pub`, schemas: SCHEMAS, maxBatchSize: BATCH, maxQueueSize: QUEUE, maxBatchWaitMs: 50 });
}

function makeSource(): PostgresSource {
  return new PostgresSource({ name, ...benchSourceConfig(name, prefix) }, kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(',') }), logger);
}

/**
 * Phase 3: one LARGE-row INSERT through the product itself — `node dist/cli/main.js run` (the
 * compiled daemon, as the Docker image runs it) with a source-only pipeline — and the peak RSS the
 * kernel recorded for that process (VmHWM), so nothing of this bench process is counted.
 */
async function largeInDaemon(heapFlags?: string): Promise<Record<string, unknown>> {
  const lname = `${name}_large${heapFlags === undefined ? '' : '_v8defaults'}`;
  await db.query(`CREATE TABLE public.${lname} (id bigint PRIMARY KEY, a int NOT NULL, b text, c timestamptz)`);
  const daemon = await startDaemon({
    name: lname,
    source: benchSourceConfig(lname, `${prefix}-large`),
    kafka: { 'bootstrap.servers': ep.kafkaBrokers.join(',') },
  }, [], heapFlags === undefined ? {} : { CDC_FANOUT_HEAP_FLAGS: heapFlags });
  const { child, pid, metricsText } = daemon;
  try {
    // Ready: the slot is streaming.
    const t0 = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`daemon exited (${child.exitCode}) before streaming`);
      const r = await db.query(`SELECT active FROM pg_replication_slots WHERE slot_name = $1`, [lname]);
      if (r.rows[0]?.active === true) break;
      if (Date.now() - t0 > 60_000) throw new Error('daemon did not start streaming within 60 s');
      await new Promise((r2) => setTimeout(r2, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const rssBeforeKB = procStatusKB(pid, 'VmRSS');
    const hwmBeforeKB = procStatusKB(pid, 'VmHWM');
    let peakKB = 0;
    let atPeak: Record<string, number> = {};
    let published = 0;
    const tLarge = Date.now();
    const insert = db.query(`INSERT INTO public.${lname} (id, a, b, c) SELECT g, 2, md5(g::text), now() FROM generate_series(1::bigint, $1::bigint) g`, [LARGE]);
    let insertSeconds = 0;
    void insert.then(() => (insertSeconds = (Date.now() - tLarge) / 1000));
    while (published < LARGE && Date.now() - tLarge < 900_000) {
      await new Promise((r) => setTimeout(r, 100));
      if (child.exitCode !== null) throw new Error(`daemon exited (${child.exitCode}) during the large transaction`);
      const rss = procStatusKB(pid, 'VmRSS');
      const text = await metricsText();
      published = metricValue(text, 'cdc_fanout_source_events_published_total');
      if (rss > peakKB) {
        peakKB = rss;
        const mb = (n: number): number => Math.round(n / 1048576);
        atPeak = {
          rss: Math.round(rss / 1024),
          heapTotal: mb(metricValue(text, 'cdc_fanout_process_nodejs_heap_size_total_bytes')),
          heapUsed: mb(metricValue(text, 'cdc_fanout_process_nodejs_heap_size_used_bytes')),
          external: mb(metricValue(text, 'cdc_fanout_process_nodejs_external_memory_bytes')),
        };
      }
    }
    await insert;
    const toKafkaSeconds = (Date.now() - tLarge) / 1000;
    const hwmKB = procStatusKB(pid, 'VmHWM');
    return {
      heapFlags: heapFlags === undefined ? 'the daemon\'s own (src/cli/heap.ts), unless NODE_OPTIONS sets them' : `CDC_FANOUT_HEAP_FLAGS=${heapFlags}`,
      daemonCmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 4).join(' '),
      loadAvg1m: os.loadavg()[0],
      rows: LARGE,
      events: published,
      insertSeconds,
      toKafkaSeconds,
      rssBeforeMB: Math.round(rssBeforeKB / 1024),
      peakRssMB: Math.round(hwmKB / 1024),
      peakRssBeforeTransactionMB: Math.round(hwmBeforeKB / 1024),
      atPeakMB: atPeak,
      measuredIn: 'the compiled daemon (tsc build, node <build>/cli/main.js run, source-only pipeline); peak = the kernel\'s VmHWM for that process',
    };
  } finally {
    await daemon.stop();
    await db.query(`SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1`, [lname]).catch(() => undefined);
    await db.query(`DROP TABLE IF EXISTS public.${lname}`).catch(() => undefined);
    await db.query(`DROP PUBLICATION IF EXISTS ${lname}_pub`).catch(() => undefined);
  }
}

/**
 * Phase 3 twice, back to back on the same machine state: with V8's host-sized heap defaults
 * (CDC_FANOUT_HEAP_FLAGS=none, what the daemon did before it chose its own) and with the daemon's
 * own heap flags. The result's top level is the second (the product as shipped); `v8Defaults` the first.
 */
async function largeBoth(): Promise<Record<string, unknown>> {
  buildDaemon();
  const before = await largeInDaemon('none');
  console.log(`large tx, V8 defaults: ${String(before.events)} events, peak RSS ${String(before.peakRssMB)} MB, ${String(before.toKafkaSeconds)} s`);
  const after = await largeInDaemon();
  console.log(`large tx, daemon heap flags: ${String(after.events)} events, peak RSS ${String(after.peakRssMB)} MB, ${String(after.toKafkaSeconds)} s`);
  return { ...after, v8Defaults: before };
}

interface ThroughputRun {
  nextId: number;
  committed: number;
  writeSeconds: number;
  walBytes: number;
  drainSeconds: number;
  eventsPerSecond: number;
  processCpuSeconds: number;
  /** This process's CPU (user + system) per row change: far less load-sensitive than events/s. */
  cpuUsPerChange: number;
  peakRssMB: number;
  rawDecode: { changes: number; messages: number; seconds: number; eventsPerSecond: number };
  recvlogical: { seconds: number; eventsPerSecond: number; machineBusyCores: number };
  /** Where the machine's CPU went during our drain (the source runs in this process). */
  drainCpu: CpuReport;
  profile: ProfileSummary;
}

/**
 * The slot's physical limit: `pg_recvlogical` streams the backlog through its own pgoutput slot
 * (same protocol version and publication as the source) to /dev/null and stops at the WAL end
 * written so far. Seconds, wall clock.
 */
function recvlogicalDrain(): number {
  const endpos = execFileSync('psql', [ep.postgresUrl, '-Atc', 'SELECT pg_current_wal_lsn()'], { encoding: 'utf8' }).trim();
  const t = Date.now();
  execFileSync(
    'pg_recvlogical',
    ['-d', ep.postgresUrl, '-S', recvSlot, '--start', '--no-loop', '-f', '/dev/null', `--endpos=${endpos}`, '-o', 'proto_version=1', '-o', `publication_names=${name}_pub`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return (Date.now() - t) / 1000;
}

/** Writes BACKLOG changes while the source is stopped, measures Postgres' own decode of them, then drains them with a fresh source. */
async function throughputRun(startId: number): Promise<ThroughputRun> {
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [rawSlot]);
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [recvSlot]);
  const tWrite = Date.now();
  const { nextId, deletes } = await writeBacklog(db, table, BACKLOG, startId);
  const writeSeconds = (Date.now() - tWrite) / 1000;
  const walBytes = Number(
    (await db.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS b FROM pg_replication_slots WHERE slot_name = $1`, [rawSlot])).rows[0].b,
  );

  // raw ceiling: Postgres decoding the same WAL with pgoutput, nothing else
  const tRaw = Date.now();
  const raw = await db.query(
    `SELECT count(*) FILTER (WHERE get_byte(data, 0) IN (73, 85, 68)) AS changes, count(*) AS messages
       FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)`,
    [rawSlot, `${name}_pub`],
  );
  const rawSecs = (Date.now() - tRaw) / 1000;
  const rawChanges = Number(raw.rows[0].changes);
  await db.query(`SELECT pg_drop_replication_slot($1)`, [rawSlot]);
  // pg_recvlogical and its walsender end inside the window: only the machine's busy share is left.
  const recvCpu = cpuWindow(() => undefined);
  const recvSecs = recvlogicalDrain();
  const recvBusyCores = Number(((1 - recvCpu.stop().idleShare) * os.cpus().length).toFixed(2));
  await db.query(`SELECT pg_drop_replication_slot($1)`, [recvSlot]);

  const source = makeSource();
  let committed = 0;
  source.onCommitted((b: CommittedBatch) => {
    committed += b.events;
  });
  peakRss = 0;
  const stopProfile = await startProfile();
  const machineCpu = cpuWindow((p) => (p === process.pid ? 'cdc-fanout source (this process)' : undefined));
  const cpu0 = process.cpuUsage();
  const tDrain = Date.now();
  await source.start();
  // committed counts Kafka records: each delete is followed by its tombstone (tombstones.on.delete)
  while (committed < rawChanges + deletes && Date.now() - tDrain < 600_000) await new Promise((r) => setTimeout(r, 50));
  const drainSeconds = (Date.now() - tDrain) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const drainCpu = machineCpu.stop();
  const profile = summarise(await stopProfile(), PROFILE_FILE);
  await source.stop();
  return {
    nextId,
    committed,
    writeSeconds,
    walBytes,
    drainSeconds,
    // row changes per second, as pg_recvlogical's rate below (committed also counts the tombstones)
    eventsPerSecond: Math.round(rawChanges / Math.max(drainSeconds, 0.001)),
    processCpuSeconds: (cpu.user + cpu.system) / 1e6,
    cpuUsPerChange: Number(((cpu.user + cpu.system) / rawChanges).toFixed(2)),
    peakRssMB: Math.round(peakRss / 1048576),
    rawDecode: { changes: rawChanges, messages: Number(raw.rows[0].messages), seconds: rawSecs, eventsPerSecond: Math.round(rawChanges / rawSecs) },
    recvlogical: { seconds: recvSecs, eventsPerSecond: Math.round(rawChanges / recvSecs), machineBusyCores: recvBusyCores },
    drainCpu,
    profile,
  };
}

/** Phase 1's result: the median run's figures, every run's, and the ratios to Postgres' own rates. */
function throughputSummary(runs: ThroughputRun[], median: ThroughputRun): Record<string, unknown> {
  return {
    runs: runs.map(({ nextId: _n, profile: _p, ...r }) => r),
    medianOf: runs.length,
    events: median.committed,
    backlogEvents: median.rawDecode.changes,
    writeSeconds: median.writeSeconds,
    walBytes: median.walBytes,
    drainSeconds: median.drainSeconds,
    eventsPerSecond: median.eventsPerSecond,
    processCpuSeconds: median.processCpuSeconds,
    cpuUsPerChange: median.cpuUsPerChange,
    cpuUsPerChangeRuns: runs.map((r) => r.cpuUsPerChange),
    peakRssMB: Math.max(...runs.map((r) => r.peakRssMB)),
    rawDecode: median.rawDecode,
    ratioToRawDecode: Number((median.eventsPerSecond / median.rawDecode.eventsPerSecond).toFixed(3)),
    recvlogical: median.recvlogical,
    // Each run's own ratio (both drains in that run), then their median: robust to this VM's drift.
    ratioToRecvlogical: Number(median3(runs.map((r) => r.eventsPerSecond / r.recvlogical.eventsPerSecond)).toFixed(3)),
    ratioToRecvlogicalBar: SCHEMAS ? 0.35 : 0.6,
    mainThreadProfile: median.profile,
  };
}

async function main(): Promise<Record<string, unknown>> {
  await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, a int NOT NULL, b text, c timestamptz)`);
  // 1. throughput on a backlog, RUNS times (this VM's speed varies run to run; the median is reported)
  let source = makeSource();
  await source.start(); // creates the publication and the slot
  await source.stop();
  let nextId = 1;
  const runs: ThroughputRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await throughputRun(nextId);
    nextId = r.nextId;
    runs.push(r);
    console.log(`throughput run ${i + 1}/${RUNS}: ${r.committed} events in ${r.drainSeconds.toFixed(1)} s = ${r.eventsPerSecond}/s, ${r.processCpuSeconds.toFixed(1)} CPU s = ${r.cpuUsPerChange} µs/change (raw decode ${r.rawDecode.eventsPerSecond}/s, pg_recvlogical ${r.recvlogical.eventsPerSecond}/s → ${(r.eventsPerSecond / r.recvlogical.eventsPerSecond).toFixed(2)})`);
    const busy = (1 - r.drainCpu.idleShare) * r.drainCpu.cores;
    console.log(`  machine during the drain: ${busy.toFixed(2)} of ${r.drainCpu.cores} cores busy — ${Object.entries(r.drainCpu.byService).map(([k, v]) => `${k} ${(v.shareOfMachine * r.drainCpu.cores).toFixed(2)}`).join(', ')}; during pg_recvlogical's: ${r.recvlogical.machineBusyCores} cores busy`);
  }
  const median = [...runs].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)[Math.floor(runs.length / 2)] as ThroughputRun;
  if (THROUGHPUT_ONLY) return { throughput: throughputSummary(runs, median) };
  source = makeSource();
  await source.start();
  // Warm-up: the first Kafka transaction of a fresh producer (InitProducerId, metadata, partition
  // registration) takes ~0.5 s here; measure the steady state after it, not the start-up.
  let warm = false;
  source.onCommitted(() => void (warm = true));
  await db.query(`INSERT INTO ${table} (id, a, b, c) VALUES ($1, 0, 'warm-up', now())`, [nextId++]);
  while (!warm) await new Promise((r) => setTimeout(r, 20));

  // 2. latency at a steady rate -------------------------------------------------------------------
  const lat: number[] = [];
  // Pauses of this process longer than 50 ms while measuring (GC), and when the slowest commits happened.
  const gcPauses: Array<{ atS: number; kind: string; ms: number }> = [];
  const slowest: Array<{ atS: number; ms: number }> = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration > 50) gcPauses.push({ atS: Number(((Date.now() - tSteadyStart) / 1000).toFixed(2)), kind: String((e as unknown as { detail?: { kind?: number } }).detail?.kind ?? ''), ms: Math.round(e.duration) });
    }
  });
  const tSteadyStart = Date.now();
  gcObserver.observe({ entryTypes: ['gc'] });
  let steadyEvents = 0;
  let measuring = true;
  source.onCommitted((b) => {
    if (!measuring) return;
    for (const t of b.commitTimesMs) {
      lat.push(b.kafkaCommitMs - t);
      if (b.kafkaCommitMs - t > 150) slowest.push({ atS: Number(((t - tSteadyStart) / 1000).toFixed(2)), ms: b.kafkaCommitMs - t });
    }
  });
  const perTx = 100;
  const txPerSec = STEADY_RATE / perTx;
  const tSteady = Date.now();
  let sent = 0;
  while (Date.now() - tSteady < STEADY_S * 1000) {
    const due = Math.floor(((Date.now() - tSteady) / 1000) * txPerSec);
    while (sent < due) {
      await db.query(`INSERT INTO ${table} (id, a, b, c) SELECT g, 1, md5(g::text), now() FROM generate_series($1::bigint, $2::bigint) g`, [nextId, nextId + perTx - 1]);
      nextId += perTx;
      sent++;
      steadyEvents += perTx;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 1000));
  measuring = false;
  gcObserver.disconnect();
  const sortedLat = [...lat].sort((x, y) => x - y);
  lat.length = 0;
  const achievedRate = steadyEvents / ((Date.now() - tSteady - 1000) / 1000);
  console.log(`latency at ${Math.round(achievedRate)}/s: p50 ${pct(sortedLat, 50)} ms, p99 ${pct(sortedLat, 99)} ms`);

  await source.stop();
  // 3. one large transaction, in a fresh process ----------------------------------------------------
  const large = await largeBoth();
  return {
    throughput: throughputSummary(runs, median),
    latency: {
      targetEventsPerSecond: STEADY_RATE,
      achievedEventsPerSecond: Math.round(achievedRate),
      transactions: sortedLat.length,
      p50Ms: pct(sortedLat, 50),
      p99Ms: pct(sortedLat, 99),
      maxMs: sortedLat[sortedLat.length - 1],
      over150Ms: slowest.slice(0, 40),
      benchProcessGcPausesOver50Ms: gcPauses,
    },
    largeTransaction: large,
  };
}

async function report(results: Record<string, unknown>): Promise<void> {
  const pgVersion = (await db.query('SHOW server_version')).rows[0].server_version as string;
  const out = {
    when: new Date().toISOString(),
    ...(NOTES === undefined ? {} : { notes: NOTES }),
    machine: machine(),
    versions: { ...versions(), postgres: pgVersion },
    config: { backlog: BACKLOG, runs: RUNS, steadyRate: STEADY_RATE, steadySeconds: STEADY_S, largeRows: LARGE, maxBatchSize: BATCH, maxQueueSize: QUEUE, maxBatchWaitMs: 50, partitions: 3, schemasEnable: SCHEMAS, nodeOptions: process.env.NODE_OPTIONS ?? '', produceEncoder: useLibraryEncoder() ? 'library (CDC_FANOUT_KAFKA_ENCODER=library)' : 'single-buffer (src/kafka/produce-request.ts)', producePipeline: sendsPipelined() ? `pipelined (up to ${MAX_UNACKED_SENDS} sends await acks; a transaction spans as many)` : 'serial (each send waits for its ack; the default)' },
    ...results,
  };
  writeFileSync(OUT, JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify(out, null, 2));
}

try {
  await report(process.argv.includes('--only-large') ? { largeTransaction: await largeBoth() } : await main());
} finally {
  clearInterval(rssTimer);
  await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ($1, $2, $3) AND NOT active`, [name, rawSlot, recvSlot]).catch(() => undefined);
  await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await db.query(`DROP PUBLICATION IF EXISTS ${name}_pub`).catch(() => undefined);
  await db.end();
  const admin = benchKafka({ clientId: 'bench-source' }).admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}
process.exit(0);
