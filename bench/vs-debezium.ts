/**
 * `npm run bench:vs-debezium` — cdc-fanout's source against Debezium's Postgres connector (Kafka
 * Connect standalone, scripts/stack/debezium.ts) on the same WAL backlog (issue 16 deliverable 6).
 *
 * Per round: two fresh pgoutput slots (one per side) on one shared publication are created, THEN a
 * backlog of insert/update/delete transactions is written (bench/common.ts writeBacklog), so both
 * slots hold the identical WAL. Debezium drains its slot, then cdc-fanout drains its own; rounds
 * alternate Debezium's producer variants: `default` (Connect's producer defaults) and `tuned`
 * (producer.override.* larger batches). `--runs` rounds per variant: dbz-default, ours, dbz-tuned,
 * ours, dbz-default, ours …
 *
 * Same on both sides: table, JsonConverter `schemas.enable` (false; `--schemas` true), decimals as
 * strings (Debezium decimal.handling.mode=string, our default), tombstones after deletes (both
 * defaults), no snapshot, max.batch.size 2048 / max.queue.size 8192 (both defaults), topics
 * pre-created with 3 partitions and `message.timestamp.type=LogAppendTime`.
 *
 * Measured per drain:
 *  - events/s = row changes / (last − first record's LogAppendTime), the broker's clock for when each
 *    batch was appended (ours are transactional: committed a few ms after append). Records are
 *    counted afterwards by a read_committed consumer (kafkajs) over the whole topic, which must
 *    find exactly changes + deletes (tombstones) records; the measured process is then already
 *    stopped, so the consumer does not compete with it.
 *  - completion, polled every 100 ms: Debezium = sum of the topic's end offsets (non-transactional,
 *    no control records) ≥ expected records; ours = the daemon's
 *    cdc_fanout_source_events_published_total (records committed to Kafka) ≥ expected.
 *  - CPU seconds = utime + stime of the process group (/proc/<pid>/stat; Connect's JVM, our
 *    compiled daemon `node .bench-build/cli/main.js run`), from the last poll that saw no record to
 *    the poll that saw the last: start-up (JVM, plugin scan, connector start; Node start) is
 *    excluded from the ratio and reported separately as `cpuSecondsTotal`.
 *  - peak RSS = the kernel's VmHWM of that process.
 * Results: bench/results/vs-debezium.json (`--out` elsewhere), with machine (load average at start
 * and end: the machine is shared), versions and flags.
 *
 *   npm run bench:vs-debezium [-- --backlog 300000 --runs 2 --schemas --dbz-heap 512m --out <file>]
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { endpoints } from '../scripts/stack/endpoints.js';
import { debeziumEnsure, debeziumVersions, startConnect } from '../scripts/stack/debezium.js';
import { benchSourceConfig, buildDaemon, groupCpuSeconds, machine, metricValue, procStatusKB, startDaemon, versions, writeBacklog } from './common.js';
import { benchKafka, countTopic as countWholeTopic, createLogAppendTopic, deleteTopicsWithPrefix, dropSlotWhenInactive, topicEndOffsetSum as topicEndOffsetSum_ } from './kafka-bench.js';

const { values: args } = parseArgs({
  options: {
    backlog: { type: 'string', default: '300000' },
    runs: { type: 'string', default: '2' },
    schemas: { type: 'boolean', default: false },
    'dbz-heap': { type: 'string', default: '512m' },
    out: { type: 'string', default: new URL('./results/vs-debezium.json', import.meta.url).pathname },
  },
});
const BACKLOG = Number(args.backlog);
const RUNS = Number(args.runs);
const SCHEMAS = args.schemas;
if (!(Number.isInteger(BACKLOG) && BACKLOG >= 1000) || !(Number.isInteger(RUNS) && RUNS >= 1)) {
  console.error(`--backlog must be an integer ≥ 1000 (got ${args.backlog}) and --runs an integer ≥ 1 (got ${args.runs})`);
  process.exit(2);
}
if (!/^\d+[kmg]$/i.test(args['dbz-heap'])) {
  console.error(`--dbz-heap is the JVM's -Xmx value, e.g. 512m or 1g (got ${args['dbz-heap']})`);
  process.exit(2);
}

const PARTITIONS = 3;
const POLL_MS = 100;
const DRAIN_TIMEOUT_MS = 15 * 60_000;

/** Debezium's producer variants: Connect's defaults, and larger batches (the "tuned"). */
const VARIANTS = {
  default: {},
  tuned: {
    'producer.override.batch.size': 1048576,
    'producer.override.linger.ms': 50,
    'producer.override.compression.type': 'none',
    'producer.override.max.request.size': 4194304,
    'producer.override.buffer.memory': 67108864,
  },
} as const satisfies Record<string, Record<string, string | number>>;
type Variant = keyof typeof VARIANTS;

const ep = endpoints();
const run = Date.now().toString(36);
const name = `bench_vsdbz_${run}`;
const table = `public.${name}`;
const publication = `${name}_pub`;
const prefixBase = `bench-vsdbz-${run}`;
const db = new pg.Client({ connectionString: ep.postgresUrl });
const kafka = benchKafka({ clientId: 'bench-vs-debezium' });
const admin: Admin = kafka.admin();
const slotsMade = new Set<string>();
const groupsMade: string[] = [];

interface Drain {
  side: 'debezium' | 'cdc-fanout';
  variant?: Variant;
  /** Kafka records: change events + a tombstone after each delete. */
  records: number;
  expectedRecords: number;
  /** Change events (row changes) per second over drainSeconds; the tombstones ride along. */
  /** First to last record's LogAppendTime. */
  drainSeconds: number;
  eventsPerSecond: number;
  /** Same, from the 100 ms completion polls (first poll seeing a record → poll seeing the last). */
  polledSeconds: number;
  cpuSeconds: number;
  cpuMicrosPerEvent: number;
  /** Whole process life until the drain was complete, start-up included. */
  cpuSecondsTotal: number;
  /** Process start → first record seen. */
  startupSeconds: number;
  peakRssMB: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

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

interface Progress {
  /** Records committed so far; throws when the process failed. */
  count(): Promise<number>;
  readonly pid: number;
  readonly startedAt: number;
}

/** Polls `p` until `expected` records; CPU of its process group at the last empty poll and at the end. */
async function follow(p: Progress, expected: number, label: string): Promise<{ cpuStart: number; cpuEnd: number; firstSeenAt: number; doneAt: number; peakRssMB: number }> {
  let cpuStart = groupCpuSeconds(p.pid);
  let firstSeenAt = 0;
  let lastLog = Date.now();
  for (;;) {
    const cpu = groupCpuSeconds(p.pid);
    const n = await p.count();
    const now = Date.now();
    if (n === 0) cpuStart = cpu;
    else if (firstSeenAt === 0) firstSeenAt = now;
    if (n >= expected) {
      // the poll that saw the last record: CPU read again now (the count round-trip took some)
      return { cpuStart, cpuEnd: groupCpuSeconds(p.pid), firstSeenAt, doneAt: now, peakRssMB: Math.round(procStatusKB(p.pid, 'VmHWM') / 1024) };
    }
    if (now - p.startedAt > DRAIN_TIMEOUT_MS) throw new Error(`${label}: only ${n} of ${expected} records after ${DRAIN_TIMEOUT_MS / 60_000} min`);
    if (now - lastLog > 10_000) {
      console.log(`  ${label}: ${n}/${expected} records`);
      lastLog = now;
    }
    await sleep(POLL_MS);
  }
}

function drainResult(side: Drain['side'], variant: Variant | undefined, changes: number, expected: number, f: Awaited<ReturnType<typeof follow>>, counted: Awaited<ReturnType<typeof countTopic>>, startedAt: number, cpuTotal: number): Drain {
  const drainSeconds = (counted.lastMs - counted.firstMs) / 1000;
  const cpuSeconds = f.cpuEnd - f.cpuStart;
  return {
    side,
    ...(variant ? { variant } : {}),
    records: counted.records,
    expectedRecords: expected,
    drainSeconds: round3(drainSeconds),
    eventsPerSecond: Math.round(changes / Math.max(drainSeconds, 0.001)),
    polledSeconds: round3((f.doneAt - f.firstSeenAt) / 1000),
    cpuSeconds: round3(cpuSeconds),
    cpuMicrosPerEvent: Math.round((cpuSeconds / changes) * 1e7) / 10,
    cpuSecondsTotal: round3(cpuTotal),
    startupSeconds: round3((f.firstSeenAt - startedAt) / 1000),
    peakRssMB: f.peakRssMB,
  };
}

function checkCount(label: string, counted: { records: number }, expected: number): void {
  // invariant: both sides deliver each change (and each delete's tombstone) exactly once here — no restarts happen during a drain
  if (counted.records !== expected) throw new Error(`${label}: the topic holds ${counted.records} committed records, expected ${expected} (changes + tombstones); the comparison would be wrong`);
}

async function drainDebezium(variant: Variant, slot: string, prefix: string, changes: number, expected: number): Promise<Drain> {
  const topic = `${prefix}.${table}`;
  await createTopic(topic);
  const startedAt = Date.now();
  const worker = await startConnect({
    schemas: SCHEMAS,
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
          'snapshot.mode': 'no_data',
          'decimal.handling.mode': 'string',
          'topic.creation.default.partitions': PARTITIONS,
          ...VARIANTS[variant],
        },
      },
    ],
  });
  const pid = worker.pid;
  if (pid === undefined) throw new Error('Kafka Connect has no pid');
  let ok = false;
  try {
    let lastStatus = 0;
    const f = await follow(
      {
        pid,
        startedAt,
        count: async () => {
          if (Date.now() - lastStatus > 2000) {
            lastStatus = Date.now();
            const st = await worker.status(slot);
            const failed = st?.tasks.find((t) => t.state === 'FAILED');
            if (failed || st?.connector.state === 'FAILED') throw new Error(`Debezium connector ${slot} FAILED:\n${failed?.trace ?? worker.logTail()}`);
          }
          return topicEndOffsetSum(topic);
        },
      },
      expected,
      `debezium/${variant}`,
    );
    const cpuTotal = groupCpuSeconds(pid);
    await worker.stop();
    const counted = await countTopic(topic, expected);
    checkCount(`debezium/${variant}`, counted, expected);
    ok = true;
    return drainResult('debezium', variant, changes, expected, f, counted, startedAt, cpuTotal);
  } finally {
    await worker.stop();
    if (ok) worker.removeDir();
    else console.error(`Kafka Connect's configs and log kept in ${worker.dir}`);
  }
}

async function drainOurs(slot: string, prefix: string, changes: number, expected: number): Promise<Drain> {
  const topic = `${prefix}.${table}`;
  await createTopic(topic);
  const startedAt = Date.now();
  const daemon = await startDaemon({
    name: slot,
    source: benchSourceConfig({ table: name, topicPrefix: prefix, slot, publication, publicationAutocreate: 'disabled', takeOverSlot: true, schemas: SCHEMAS }),
    kafka: { 'bootstrap.servers': ep.kafkaBrokers.join(','), 'topic.creation.partitions': PARTITIONS },
  });
  try {
    const f = await follow(
      {
        pid: daemon.pid,
        startedAt,
        count: async () => {
          if (daemon.child.exitCode !== null) throw new Error(`cdc-fanout daemon exited (${daemon.child.exitCode}) during the drain`);
          try {
            return metricValue(await daemon.metricsText(), 'cdc_fanout_source_events_published_total');
          } catch {
            return 0; // admin API not up yet
          }
        },
      },
      expected,
      'cdc-fanout',
    );
    const cpuTotal = groupCpuSeconds(daemon.pid);
    await daemon.stop();
    const counted = await countTopic(topic, expected);
    checkCount('cdc-fanout', counted, expected);
    return drainResult('cdc-fanout', undefined, changes, expected, f, counted, startedAt, cpuTotal);
  } finally {
    await daemon.stop();
  }
}

async function createSlot(slot: string): Promise<void> {
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  slotsMade.add(slot);
}

async function dropSlot(slot: string): Promise<void> {
  await dropSlotWhenInactive(db, slot);
  slotsMade.delete(slot);
}

async function deleteTopics(prefix: string): Promise<void> {
  await deleteTopicsWithPrefix(admin, prefix);
}

interface Round {
  round: number;
  variant: Variant;
  changes: number;
  deletes: number;
  walBytes: number;
  writeSeconds: number;
  debezium: Drain;
  ours: Drain;
  /** ours ÷ Debezium, this round (same WAL, back to back). */
  eventsPerSecondRatio: number;
  cpuPerEventRatio: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

function javaVersion(): string {
  // `java -version` prints to stderr
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return r.stderr.split('\n')[0]?.trim() || 'unknown';
}

async function main(): Promise<void> {
  const loadStart = os.loadavg();
  const whenStart = new Date().toISOString();
  await db.connect();
  await admin.connect();
  debeziumEnsure();
  buildDaemon();
  await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, a int NOT NULL, b text, c timestamptz)`);
  // One publication for every slot, made before any slot: pgoutput reads it as of each change's WAL position.
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE ${table}`);
  const rounds: Round[] = [];
  let nextId = 1;
  const order: Variant[] = [];
  for (let i = 0; i < RUNS; i++) order.push('default', 'tuned');
  for (const [i, variant] of order.entries()) {
    const dbzSlot = `${name}_r${i}_dbz`;
    const oursSlot = `${name}_r${i}_cf`;
    await createSlot(dbzSlot);
    await createSlot(oursSlot);
    const tWrite = Date.now();
    const backlog = await writeBacklog(db, table, BACKLOG, nextId);
    nextId = backlog.nextId;
    const writeSeconds = (Date.now() - tWrite) / 1000;
    const walBytes = Number(
      (await db.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS b FROM pg_replication_slots WHERE slot_name = $1`, [oursSlot])).rows[0].b,
    );
    // tombstones.on.delete: a delete is two records on both sides
    const expected = backlog.changes + backlog.deletes;
    console.log(`round ${i + 1}/${order.length} (${variant}): ${backlog.changes} changes (${backlog.deletes} deletes) in ${writeSeconds.toFixed(1)} s, ${(walBytes / 1048576).toFixed(0)} MB WAL; load ${os.loadavg()[0]?.toFixed(1)}`);
    const debezium = await drainDebezium(variant, dbzSlot, `${prefixBase}-r${i}-dbz`, backlog.changes, expected);
    console.log(`  debezium/${variant}: ${debezium.eventsPerSecond}/s, ${debezium.cpuSeconds.toFixed(1)} CPU s (${debezium.cpuMicrosPerEvent} µs/event; ${debezium.cpuSecondsTotal.toFixed(1)} with start-up), peak RSS ${debezium.peakRssMB} MB`);
    const ours = await drainOurs(oursSlot, `${prefixBase}-r${i}-cf`, backlog.changes, expected);
    console.log(`  cdc-fanout: ${ours.eventsPerSecond}/s, ${ours.cpuSeconds.toFixed(1)} CPU s (${ours.cpuMicrosPerEvent} µs/event; ${ours.cpuSecondsTotal.toFixed(1)} with start-up), peak RSS ${ours.peakRssMB} MB`);
    const r: Round = {
      round: i + 1,
      variant,
      changes: backlog.changes,
      deletes: backlog.deletes,
      walBytes,
      writeSeconds: round3(writeSeconds),
      debezium,
      ours,
      eventsPerSecondRatio: round3(ours.eventsPerSecond / debezium.eventsPerSecond),
      cpuPerEventRatio: round3(ours.cpuMicrosPerEvent / debezium.cpuMicrosPerEvent),
    };
    console.log(`  ours/debezium: ${r.eventsPerSecondRatio}× events/s, ${r.cpuPerEventRatio}× CPU per event`);
    rounds.push(r);
    await dropSlot(dbzSlot);
    await dropSlot(oursSlot);
    await deleteTopics(`${prefixBase}-r${i}-`);
  }
  const summary = Object.fromEntries(
    (Object.keys(VARIANTS) as Variant[]).map((v) => {
      const rs = rounds.filter((r) => r.variant === v);
      const eps = median(rs.map((r) => r.eventsPerSecondRatio));
      const cpu = median(rs.map((r) => r.cpuPerEventRatio));
      const bar = v === 'default' ? { eventsPerSecondRatioAtLeast: 3, cpuPerEventRatioAtMost: 0.3 } : { eventsPerSecondRatioAbove: 1 };
      const met = v === 'default' ? eps >= 3 && cpu <= 0.3 : eps > 1;
      return [
        v,
        {
          rounds: rs.length,
          debeziumEventsPerSecond: Math.round(median(rs.map((r) => r.debezium.eventsPerSecond))),
          oursEventsPerSecond: Math.round(median(rs.map((r) => r.ours.eventsPerSecond))),
          debeziumCpuMicrosPerEvent: round3(median(rs.map((r) => r.debezium.cpuMicrosPerEvent))),
          oursCpuMicrosPerEvent: round3(median(rs.map((r) => r.ours.cpuMicrosPerEvent))),
          debeziumPeakRssMB: Math.max(...rs.map((r) => r.debezium.peakRssMB)),
          oursPeakRssMB: Math.max(...rs.map((r) => r.ours.peakRssMB)),
          // each round's own ratio (same WAL, back to back), then their median
          eventsPerSecondRatio: round3(eps),
          cpuPerEventRatio: round3(cpu),
          bar,
          met,
        },
      ];
    }),
  );
  const dbz = debeziumVersions();
  const out = {
    when: whenStart,
    finished: new Date().toISOString(),
    machine: { ...machine(), loadAvgStart: loadStart.map((x) => Number(x.toFixed(2))), loadAvgEnd: os.loadavg().map((x) => Number(x.toFixed(2))), note: 'shared 2-core machine: other agents were running; loadAvg = 1, 5, 15 min' },
    versions: {
      ...versions(),
      debezium: dbz.debezium,
      'kafka connect': dbz.kafka,
      java: javaVersion(),
      postgres: (await db.query('SHOW server_version')).rows[0].server_version as string,
    },
    flags: {
      backlog: BACKLOG,
      runs: RUNS,
      schemasEnable: SCHEMAS,
      partitions: PARTITIONS,
      order: 'per round: Debezium then cdc-fanout on the same WAL (each its own slot made before the backlog); rounds alternate default, tuned',
      debeziumConnector: { 'snapshot.mode': 'no_data', 'decimal.handling.mode': 'string', 'publication.autocreate.mode': 'disabled', 'tasks.max': 1, 'plugin.name': 'pgoutput', 'offset.flush.interval.ms': 1000 },
      debeziumVariants: VARIANTS,
      debeziumJvm: `-Xmx${args['dbz-heap']} -XX:+UseSerialGC (scripts/stack/debezium.ts), Connect standalone, file offsets`,
      ours: 'compiled daemon (tsc → .bench-build, node .bench-build/cli/main.js run), source-only pipeline, connector defaults (max.batch.size 2048, max.queue.size 8192, max.batch.wait.ms 50), exactly-once (transactional producer)',
      nodeOptions: process.env.NODE_OPTIONS ?? '',
    },
    method: {
      eventsPerSecond: 'row changes (change events; the tombstones after deletes ride along) ÷ (last − first record LogAppendTime) in the output topic (pre-created, 3 partitions, message.timestamp.type=LogAppendTime); records counted after the drain by a read_committed consumer and required to equal changes + tombstones',
      completion: 'polled every 100 ms: Debezium = sum of topic end offsets; cdc-fanout = cdc_fanout_source_events_published_total from its admin API',
      cpuSeconds: 'utime+stime of the process group (/proc/<pid>/stat) from the last poll with no record to the poll that saw the last one; cpuSecondsTotal includes start-up',
      peakRss: 'VmHWM of the process (/proc/<pid>/status)',
    },
    summary,
    rounds,
  };
  writeFileSync(args.out, JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify({ machine: out.machine, summary }, null, 2));
}

try {
  await main();
} finally {
  for (const s of [...slotsMade]) await dropSlot(s).catch(() => undefined);
  await db.query(`DROP PUBLICATION IF EXISTS ${publication}`).catch(() => undefined);
  await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await db.end().catch(() => undefined);
  await deleteTopics(prefixBase).catch(() => undefined);
  if (groupsMade.length > 0) await admin.deleteGroups(groupsMade).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
}
process.exit(0);
