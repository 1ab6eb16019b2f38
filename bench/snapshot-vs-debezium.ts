/**
 * `npm run bench:snapshot -- --vs-debezium` — cdc-fanout's snapshots against Debezium's Postgres
 * connector (Kafka Connect standalone, scripts/stack/debezium.ts) on the same table (issue 18
 * deliverable 4: "snapshot ≥ 2× Debezium's rows/s on the same box").
 *
 * One orders-like table (bench/common.ts createOrdersTable, the table of bench:snapshot), one
 * publication for it and a Debezium signal table, made once. Per round, alternating sides:
 *   1. Debezium initial snapshot (snapshot.mode=initial)     vs ours: blocking parallel snapshot
 *      (snapshot.mode=initial, snapshot.max.threads `--threads`);
 *   2. Debezium incremental snapshot, chunk 1024 (its default) vs ours: incremental, chunk 1024;
 *   3. Debezium incremental snapshot, chunk `--tuned-chunk`    vs ours: incremental, same chunk.
 * Debezium's incremental snapshot runs with snapshot.mode=no_data and is triggered by an
 * `execute-snapshot` row in its signal table (signal.data.collection, the `source` channel) once
 * its walsender is active; ours runs with snapshot.mode=never and is triggered through the admin
 * API (POST /pipelines/:p/snapshot) once its walsender is active.
 *
 * Same on both sides: JsonConverter without schemas (schemas.enable false), decimals as strings,
 * the topic pre-created with 3 partitions and message.timestamp.type=LogAppendTime, each run its own
 * slot and topic prefix (topics deleted after each run). Debezium uses Connect's producer defaults;
 * ours is the compiled daemon (exactly-once, transactional producer), source-only pipeline.
 *
 * Measured per run:
 *  - rows/s = rows ÷ (last − first record's LogAppendTime) in the topic; also `triggerToLastSeconds`
 *    (incremental: the signal insert / API request → last record) and `startToLastSeconds` (process
 *    start → last record: JVM and Node start-up included).
 *  - completion, polled every 100 ms: Debezium = sum of the topic's end offsets ≥ rows; ours =
 *    cdc_fanout_source_events_published_total ≥ rows. Then a read_committed consumer counts the
 *    topic, which must hold exactly `rows` records.
 *  - CPU seconds = utime + stime of the process group (Connect's JVM / the daemon) from the last
 *    poll that saw no record to the poll that saw the last; `cpuSecondsTotal` includes start-up.
 *  - peak RSS = VmHWM of the process.
 * Results: bench/results/snapshot-vs-debezium.json (`--out`), with machine (load average before and
 * after every run: the machine is shared), versions and flags.
 *
 *   npm run bench:snapshot -- --vs-debezium [--rows 500000] [--runs 1] [--threads 2] [--tuned-chunk 8192] [--dbz-heap 512m] [--out <file>]
 *   full size: npm run bench:snapshot -- --vs-debezium --rows 2000000   (about 30 min per round here; the default 500k: ~7 min)
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { endpoints } from '../scripts/stack/endpoints.js';
import { debeziumEnsure, debeziumVersions, startConnect, type ConnectWorker } from '../scripts/stack/debezium.js';
import { benchSourceConfig, buildDaemon, createOrdersTable, groupCpuSeconds, machine, metricValue, procStatusKB, startDaemon, versions, type DaemonProcess } from './common.js';
import { benchKafka, countTopic as countWholeTopic, createLogAppendTopic, deleteTopicsWithPrefix, dropSlotWhenInactive, topicEndOffsetSum as topicEndOffsetSum_ } from './kafka-bench.js';

const { values: args } = parseArgs({
  options: {
    'vs-debezium': { type: 'boolean', default: true },
    rows: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    'tuned-chunk': { type: 'string', default: '8192' },
    'dbz-heap': { type: 'string', default: '512m' },
    out: { type: 'string', default: new URL('./results/snapshot-vs-debezium.json', import.meta.url).pathname },
  },
});
const ROWS = Number(args.rows);
const RUNS = Number(args.runs);
const THREADS = Number(args.threads);
const TUNED_CHUNK = Number(args['tuned-chunk']);
const DEFAULT_CHUNK = 1024; // Debezium's incremental.snapshot.chunk.size default, and ours
const positiveInt = (x: number): boolean => Number.isInteger(x) && x >= 1;
if (!(positiveInt(ROWS) && ROWS >= 1000) || !positiveInt(RUNS) || !positiveInt(THREADS) || !positiveInt(TUNED_CHUNK)) {
  console.error(`--rows must be an integer ≥ 1000 (got ${args.rows}); --runs, --threads and --tuned-chunk positive integers (got ${args.runs}, ${args.threads}, ${args['tuned-chunk']})`);
  process.exit(2);
}
if (!/^\d+[kmg]$/i.test(args['dbz-heap'])) {
  console.error(`--dbz-heap is the JVM's -Xmx value, e.g. 512m or 1g (got ${args['dbz-heap']})`);
  process.exit(2);
}

const PARTITIONS = 3;
const POLL_MS = 100;
const RUN_TIMEOUT_MS = 30 * 60_000;

const ep = endpoints();
const run = Date.now().toString(36);
const name = `bench_snapdbz_${run}`;
const table = `public.${name}`;
const signalName = `${name}_signal`;
const signalTable = `public.${signalName}`;
const publication = `${name}_pub`;
const prefixBase = `bench-snapdbz-${run}`;
const db = new pg.Client({ connectionString: ep.postgresUrl });
const kafka = benchKafka({ clientId: 'bench-snapshot-vs-debezium' });
const admin: Admin = kafka.admin();
const slotsMade = new Set<string>();
const groupsMade: string[] = [];

type Kind = 'initial' | 'incremental';
interface Case {
  readonly kind: Kind;
  readonly chunkSize?: number;
  readonly label: string;
}
const CASES: readonly Case[] = [
  { kind: 'initial', label: 'initial' },
  { kind: 'incremental', chunkSize: DEFAULT_CHUNK, label: `incremental-${DEFAULT_CHUNK}` },
  ...(TUNED_CHUNK !== DEFAULT_CHUNK ? [{ kind: 'incremental' as const, chunkSize: TUNED_CHUNK, label: `incremental-${TUNED_CHUNK}` }] : []),
];

interface RunResult {
  side: 'debezium' | 'cdc-fanout';
  kind: Kind;
  chunkSize?: number;
  threads?: number;
  records: number;
  /** First to last record's LogAppendTime. */
  seconds: number;
  rowsPerSecond: number;
  /** Incremental: signal insert / admin request → last record's LogAppendTime. */
  triggerToLastSeconds?: number;
  /** Process start → last record's LogAppendTime (start-up included). */
  startToLastSeconds: number;
  cpuSeconds: number;
  cpuMicrosPerRow: number;
  cpuSecondsTotal: number;
  peakRssMB: number;
  loadAvgBefore: number[];
  loadAvgAfter: number[];
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const load = (): number[] => os.loadavg().map((x) => Number(x.toFixed(2)));

async function createTopic(topic: string): Promise<void> {
  await createLogAppendTopic(admin, topic, PARTITIONS);
}

async function topicEndOffsetSum(topic: string): Promise<number> {
  return topicEndOffsetSum_(admin, topic);
}

/** Counts the whole topic read_committed in a fresh consumer group (see bench/kafka-bench.ts countTopic). */
async function countTopic(topic: string, expected: number): Promise<{ records: number; firstMs: number; lastMs: number }> {
  const groupId = `${prefixBase}-count-${groupsMade.length}`;
  groupsMade.push(groupId);
  return countWholeTopic(kafka, groupId, topic, expected);
}

/** Polls `count` until `ROWS` records; CPU of process group `pid` at the last empty poll and at the end. */
async function follow(pid: number, startedAt: number, count: () => Promise<number>, label: string): Promise<{ cpuStart: number; cpuEnd: number; peakRssMB: number }> {
  let cpuStart = groupCpuSeconds(pid);
  let lastLog = Date.now();
  for (;;) {
    const cpu = groupCpuSeconds(pid);
    const n = await count();
    const now = Date.now();
    if (n === 0) cpuStart = cpu;
    if (n >= ROWS) return { cpuStart, cpuEnd: groupCpuSeconds(pid), peakRssMB: Math.round(procStatusKB(pid, 'VmHWM') / 1024) };
    if (now - startedAt > RUN_TIMEOUT_MS) throw new Error(`${label}: only ${n} of ${ROWS} records after ${RUN_TIMEOUT_MS / 60_000} min`);
    if (now - lastLog > 15_000) {
      console.log(`  ${label}: ${n}/${ROWS} records (load ${os.loadavg()[0]?.toFixed(1)})`);
      lastLog = now;
    }
    await sleep(POLL_MS);
  }
}

/** Waits until a walsender streams from `slot` (the slot exists and is active). */
async function waitSlotActive(slot: string, label: string, failed: () => Promise<void>): Promise<void> {
  const end = Date.now() + 180_000;
  for (;;) {
    const r = await db.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (r.rows[0]?.active_pid) return;
    await failed();
    if (Date.now() > end) throw new Error(`${label}: no walsender on slot ${slot} after 180 s`);
    await sleep(250);
  }
}

async function dropSlot(slot: string): Promise<void> {
  await dropSlotWhenInactive(db, slot);
  slotsMade.delete(slot);
}

async function deleteTopics(prefix: string): Promise<void> {
  await deleteTopicsWithPrefix(admin, prefix);
}

function result(
  side: RunResult['side'],
  c: Case,
  f: Awaited<ReturnType<typeof follow>>,
  counted: Awaited<ReturnType<typeof countTopic>>,
  startedAt: number,
  triggeredAt: number | undefined,
  cpuTotal: number,
  loadBefore: number[],
): RunResult {
  // invariant: nothing writes to the table during a run, so each row is exactly one record on both sides
  if (counted.records !== ROWS) throw new Error(`${side}/${c.label}: the topic holds ${counted.records} committed records, expected ${ROWS}; the comparison would be wrong`);
  const seconds = (counted.lastMs - counted.firstMs) / 1000;
  const cpuSeconds = f.cpuEnd - f.cpuStart;
  return {
    side,
    kind: c.kind,
    ...(c.chunkSize !== undefined ? { chunkSize: c.chunkSize } : {}),
    ...(side === 'cdc-fanout' && c.kind === 'initial' ? { threads: THREADS } : {}),
    records: counted.records,
    seconds: round3(seconds),
    rowsPerSecond: Math.round(ROWS / Math.max(seconds, 0.001)),
    ...(triggeredAt !== undefined ? { triggerToLastSeconds: round3((counted.lastMs - triggeredAt) / 1000) } : {}),
    startToLastSeconds: round3((counted.lastMs - startedAt) / 1000),
    cpuSeconds: round3(cpuSeconds),
    cpuMicrosPerRow: Math.round((cpuSeconds / ROWS) * 1e7) / 10,
    cpuSecondsTotal: round3(cpuTotal),
    peakRssMB: f.peakRssMB,
    loadAvgBefore: loadBefore,
    loadAvgAfter: load(),
  };
}

async function runDebezium(c: Case, i: number): Promise<RunResult> {
  const slot = `${name}_r${i}_${c.kind === 'initial' ? 'init' : `inc${c.chunkSize}`}_dbz`;
  const prefix = `${prefixBase}-r${i}-${c.label}-dbz`;
  const topic = `${prefix}.${table}`;
  await createTopic(topic);
  const loadBefore = load();
  const startedAt = Date.now();
  slotsMade.add(slot);
  const worker: ConnectWorker = await startConnect({
    schemas: false,
    heap: args['dbz-heap'],
    log: () => undefined,
    connectors: [
      {
        name: slot,
        config: {
          'topic.prefix': prefix,
          'publication.name': publication,
          'publication.autocreate.mode': 'disabled',
          'table.include.list': `public\\.${name}`,
          'decimal.handling.mode': 'string',
          'topic.creation.default.partitions': PARTITIONS,
          'signal.data.collection': signalTable,
          ...(c.kind === 'initial' ? { 'snapshot.mode': 'initial' } : { 'snapshot.mode': 'no_data', 'incremental.snapshot.chunk.size': c.chunkSize ?? DEFAULT_CHUNK }),
        },
      },
    ],
  });
  const pid = worker.pid;
  if (pid === undefined) throw new Error('Kafka Connect has no pid');
  let ok = false;
  let lastStatus = 0;
  const checkFailed = async (): Promise<void> => {
    if (Date.now() - lastStatus < 2000) return;
    lastStatus = Date.now();
    const st = await worker.status(slot);
    const failed = st?.tasks.find((t) => t.state === 'FAILED');
    if (failed || st?.connector.state === 'FAILED') throw new Error(`Debezium connector ${slot} FAILED:\n${failed?.trace ?? worker.logTail()}`);
  };
  try {
    let triggeredAt: number | undefined;
    if (c.kind === 'incremental') {
      await worker.waitRunning(slot);
      await waitSlotActive(slot, `debezium/${c.label}`, checkFailed);
      triggeredAt = Date.now();
      await db.query(`INSERT INTO ${signalTable} (id, type, data) VALUES ($1, 'execute-snapshot', $2)`, [`bench-r${i}-${c.chunkSize}`, JSON.stringify({ 'data-collections': [table], type: 'incremental' })]);
    }
    const f = await follow(
      pid,
      startedAt,
      async () => {
        await checkFailed();
        return topicEndOffsetSum(topic);
      },
      `debezium/${c.label}`,
    );
    const cpuTotal = groupCpuSeconds(pid);
    await worker.stop();
    const counted = await countTopic(topic, ROWS);
    const r = result('debezium', c, f, counted, startedAt, triggeredAt, cpuTotal, loadBefore);
    ok = true;
    return r;
  } finally {
    await worker.stop();
    if (ok) worker.removeDir();
    else console.error(`Kafka Connect's configs and log kept in ${worker.dir}`);
    await dropSlot(slot);
    await deleteTopics(prefix);
  }
}

async function runOurs(c: Case, i: number): Promise<RunResult> {
  const slot = `${name}_r${i}_${c.kind === 'initial' ? 'init' : `inc${c.chunkSize}`}_cf`;
  const prefix = `${prefixBase}-r${i}-${c.label}-cf`;
  const topic = `${prefix}.${table}`;
  await createTopic(topic);
  const loadBefore = load();
  const startedAt = Date.now();
  slotsMade.add(slot);
  const daemon: DaemonProcess = await startDaemon({
    name: slot,
    source: {
      ...benchSourceConfig({ table: name, topicPrefix: prefix, slot, publication, publicationAutocreate: 'disabled', schemas: false }),
      ...(c.kind === 'initial' ? { 'snapshot.mode': 'initial', 'snapshot.max.threads': THREADS } : { 'snapshot.mode': 'never', 'incremental.snapshot.chunk.size': c.chunkSize ?? DEFAULT_CHUNK }),
    },
    kafka: { 'bootstrap.servers': ep.kafkaBrokers.join(','), 'topic.creation.partitions': PARTITIONS },
  });
  const exitedCheck = async (): Promise<void> => {
    if (daemon.child.exitCode !== null) throw new Error(`cdc-fanout daemon exited (${daemon.child.exitCode}) during the run`);
  };
  try {
    let triggeredAt: number | undefined;
    if (c.kind === 'incremental') {
      await waitSlotActive(slot, `cdc-fanout/${c.label}`, exitedCheck);
      const end = Date.now() + 60_000;
      for (;;) {
        triggeredAt = Date.now();
        const res = await fetch(`http://127.0.0.1:${daemon.adminPort}/pipelines/${slot}/snapshot`, { method: 'POST', body: JSON.stringify({ tables: [table] }) }).catch(() => undefined);
        if (res?.status === 202) break;
        if (Date.now() > end) throw new Error(`cdc-fanout/${c.label}: the admin API did not accept the snapshot request (${res?.status} ${await res?.text()})`);
        await sleep(250);
      }
    }
    const f = await follow(
      daemon.pid,
      startedAt,
      async () => {
        await exitedCheck();
        try {
          return metricValue(await daemon.metricsText(), 'cdc_fanout_source_events_published_total');
        } catch {
          return 0; // admin API not up yet
        }
      },
      `cdc-fanout/${c.label}`,
    );
    const cpuTotal = groupCpuSeconds(daemon.pid);
    await daemon.stop();
    const counted = await countTopic(topic, ROWS);
    return result('cdc-fanout', c, f, counted, startedAt, triggeredAt, cpuTotal, loadBefore);
  } finally {
    await daemon.stop();
    await dropSlot(slot);
    await deleteTopics(prefix);
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

function javaVersion(): string {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return r.stderr.split('\n')[0]?.trim() || 'unknown';
}

const show = (r: RunResult): string =>
  `${r.rowsPerSecond} rows/s (${r.seconds.toFixed(1)} s first→last record${r.triggerToLastSeconds !== undefined ? `, ${r.triggerToLastSeconds.toFixed(1)} s from the trigger` : ''}, ${r.startToLastSeconds.toFixed(1)} s from process start), ${r.cpuSeconds.toFixed(1)} CPU s (${r.cpuSecondsTotal.toFixed(1)} with start-up), peak RSS ${r.peakRssMB} MB`;

async function main(): Promise<void> {
  const whenStart = new Date().toISOString();
  const loadStart = load();
  await db.connect();
  await admin.connect();
  debeziumEnsure();
  buildDaemon();
  console.log(`creating ${table} with ${ROWS} rows …`);
  const size = await createOrdersTable(db, table, ROWS);
  // Debezium's signal table layout (id, type, data); it also writes its incremental-snapshot watermarks here
  await db.query(`CREATE TABLE ${signalTable} (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))`);
  // one publication for every run; Debezium reads its signals (and watermarks) from the WAL, so the signal table is in it
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE ${table}, ${signalTable}`);
  console.log(`table ready: ${size}; load ${load().join(' ')}`);
  const pairs: { round: number; case: string; debezium: RunResult; ours: RunResult; rowsPerSecondRatio: number; cpuRatio: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const c of CASES) {
      // alternate which side goes first from round to round
      const dbzFirst = i % 2 === 0;
      let debezium: RunResult | undefined;
      let ours: RunResult | undefined;
      for (const side of dbzFirst ? ['debezium', 'ours'] : ['ours', 'debezium']) {
        if (side === 'debezium') {
          debezium = await runDebezium(c, i);
          console.log(`round ${i + 1} ${c.label} debezium: ${show(debezium)}`);
        } else {
          ours = await runOurs(c, i);
          console.log(`round ${i + 1} ${c.label} cdc-fanout${c.kind === 'initial' ? ` (${THREADS} workers)` : ''}: ${show(ours)}`);
        }
      }
      if (!debezium || !ours) throw new Error('unreachable: both sides ran');
      const p = { round: i + 1, case: c.label, debezium, ours, rowsPerSecondRatio: round3(ours.rowsPerSecond / debezium.rowsPerSecond), cpuRatio: round3(ours.cpuSeconds / debezium.cpuSeconds) };
      console.log(`  ours/debezium ${c.label}: ${p.rowsPerSecondRatio}× rows/s, ${p.cpuRatio}× CPU`);
      pairs.push(p);
    }
  }
  const summary = Object.fromEntries(
    CASES.map((c) => {
      const ps = pairs.filter((p) => p.case === c.label);
      const ratio = median(ps.map((p) => p.rowsPerSecondRatio));
      return [
        c.label,
        {
          rounds: ps.length,
          debeziumRowsPerSecond: Math.round(median(ps.map((p) => p.debezium.rowsPerSecond))),
          oursRowsPerSecond: Math.round(median(ps.map((p) => p.ours.rowsPerSecond))),
          debeziumCpuSeconds: round3(median(ps.map((p) => p.debezium.cpuSeconds))),
          oursCpuSeconds: round3(median(ps.map((p) => p.ours.cpuSeconds))),
          debeziumPeakRssMB: Math.max(...ps.map((p) => p.debezium.peakRssMB)),
          oursPeakRssMB: Math.max(...ps.map((p) => p.ours.peakRssMB)),
          rowsPerSecondRatio: round3(ratio),
          cpuRatio: round3(median(ps.map((p) => p.cpuRatio))),
          bar: { rowsPerSecondRatioAtLeast: 2 },
          met: ratio >= 2,
        },
      ];
    }),
  );
  const dbz = debeziumVersions();
  const out = {
    benchmark: 'snapshot-vs-debezium',
    when: whenStart,
    finished: new Date().toISOString(),
    machine: { ...machine(), loadAvgStart: loadStart, loadAvgEnd: load(), note: 'shared 2-core machine: other agents were running tests and benchmarks meanwhile; loadAvg = 1, 5, 15 min, also per run' },
    versions: {
      ...versions(),
      debezium: dbz.debezium,
      'kafka connect': dbz.kafka,
      java: javaVersion(),
      postgres: (await db.query('SHOW server_version')).rows[0].server_version as string,
    },
    table: { rows: ROWS, size, columns: 13, note: 'bench:snapshot\'s orders-like table (bench/common.ts createOrdersTable); full size: --rows 2000000' },
    flags: {
      rows: ROWS,
      runs: RUNS,
      oursThreads: THREADS,
      chunkSizes: CASES.flatMap((c) => (c.chunkSize !== undefined ? [c.chunkSize] : [])),
      partitions: PARTITIONS,
      schemasEnable: false,
      order: 'per round and case: Debezium then cdc-fanout (odd rounds), cdc-fanout then Debezium (even rounds); each run its own slot and topic',
      debeziumConnector: {
        initial: { 'snapshot.mode': 'initial' },
        incremental: { 'snapshot.mode': 'no_data', 'signal.data.collection': 'public.<table>_signal', trigger: 'INSERT execute-snapshot {"data-collections":["public.<table>"],"type":"incremental"} once the walsender is active' },
        common: { 'decimal.handling.mode': 'string', 'publication.autocreate.mode': 'disabled (one publication: table + signal table)', 'tasks.max': 1, 'plugin.name': 'pgoutput', 'offset.flush.interval.ms': 1000, producer: "Connect's defaults", 'snapshot.fetch.size': 'default (10240)' },
      },
      debeziumJvm: `-Xmx${args['dbz-heap']} -XX:+UseSerialGC (scripts/stack/debezium.ts), Connect standalone, file offsets`,
      ours: `compiled daemon (tsc → .bench-build), source-only pipeline, exactly-once (transactional producer); initial: snapshot.mode initial, snapshot.max.threads ${THREADS}, snapshot.fetch.size 10000; incremental: snapshot.mode never + POST /pipelines/:p/snapshot once the walsender is active`,
      nodeOptions: process.env.NODE_OPTIONS ?? '',
    },
    method: {
      rowsPerSecond: 'rows ÷ (last − first record LogAppendTime) in the output topic (pre-created, 3 partitions, LogAppendTime); the topic read back read_committed must hold exactly `rows` records',
      triggerToLastSeconds: 'incremental only: signal INSERT commit (Debezium) / admin request (ours) → last record LogAppendTime',
      cpuSeconds: 'utime+stime of the process group (Connect JVM / daemon) from the last 100 ms poll with no record to the poll that saw the last; cpuSecondsTotal includes start-up',
      peakRss: 'VmHWM of the process',
      ratios: 'per pair ours ÷ Debezium (rowsPerSecondRatio; cpuRatio = CPU seconds for the same rows), median over rounds',
    },
    summary,
    pairs,
  };
  writeFileSync(args.out, JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify({ machine: out.machine, summary }, null, 2));
}

try {
  await main();
} finally {
  for (const s of [...slotsMade]) await dropSlot(s).catch(() => undefined);
  await db.query(`DROP PUBLICATION IF EXISTS ${publication}`).catch(() => undefined);
  await db.query(`DROP TABLE IF EXISTS ${table}, ${signalTable}`).catch(() => undefined);
  await db.end().catch(() => undefined);
  await deleteTopics(prefixBase).catch(() => undefined);
  if (groupsMade.length > 0) await admin.deleteGroups(groupsMade).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
}
process.exit(0);
