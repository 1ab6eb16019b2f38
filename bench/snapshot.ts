/**
 * Snapshot benchmark (npm run bench:snapshot): rows/s into Kafka (exactly-once, committed) for
 *  1. the parallel chunked snapshot (snapshot.mode=initial_only) with 1, 2 and 4 workers
 *     (snapshot.max.threads), each from its own exported snapshot / slot;
 *  2. the incremental snapshot (watermark chunks while streaming) with the default chunk size
 *     (incremental.snapshot.chunk.size=1024, Debezium's default) and a larger one.
 * The table: `--rows` (default 2,000,000) rows of an orders-like table of realistic width (bigint
 * key, ints, numerics, short and long text, timestamps, a text[] and a jsonb; ~370 bytes/row on
 * disk). Each run gets its own slot, topic prefix and (in-process) source; its topics are deleted
 * after it. Rates are rows / seconds from the source's start to the Kafka commit of the last row.
 * Results: bench/results/snapshot.json with machine, versions and `uptime` before/after each run
 * (the machine is shared: read the load with the numbers).
 *
 *   npm run bench:snapshot [-- --rows=2000000 --threads=1,2,4 --incremental-chunks=1024,8192 --out=<file>]
 *   npm run bench:snapshot -- --vs-debezium [...]   side by side with Debezium: bench/snapshot-vs-debezium.ts
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { endpoints } from '../scripts/stack/endpoints.js';
import { kafkaSpec } from '../src/kafka/config.js';
import { createLogger } from '../src/observability/logger.js';
import { PostgresSource } from '../src/source/postgres-source.js';
import { createOrdersTable, machine, versions } from './common.js';
import { benchKafka } from './kafka-bench.js';

const argOf = (name: string): string | undefined => process.argv.find((x) => x.startsWith(`--${name}=`))?.split('=')[1];
const ROWS = Number(argOf('rows') ?? 2_000_000);
const THREADS = (argOf('threads') ?? '1,2,4').split(',').filter(Boolean).map(Number);
const INC_CHUNKS = (argOf('incremental-chunks') ?? '1024,8192').split(',').filter(Boolean).map(Number);
const OUT = argOf('out') ?? new URL('./results/snapshot.json', import.meta.url).pathname;

const ep = endpoints();
const logger = createLogger({ level: process.env.CDC_LOG_LEVEL ?? 'warn' });
const kafkaConfig = kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(','), 'topic.creation.partitions': 3 });
const kafka = benchKafka({ clientId: 'bench-snapshot' });
const run = Date.now().toString(36);
const table = `bench_snap_${run}`;

const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();

function pgConfig(): Record<string, unknown> {
  const u = new URL(ep.postgresUrl);
  return {
    'database.hostname': u.hostname,
    'database.port': Number(u.port || 5432),
    'database.user': decodeURIComponent(u.username || 'postgres'),
    'database.dbname': u.pathname.slice(1) || 'postgres',
    ...(u.password ? { 'database.password': decodeURIComponent(u.password) } : {}),
  };
}

interface RunResult {
  readonly kind: 'parallel' | 'incremental';
  readonly threads?: number;
  readonly chunkSize?: number;
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly kafkaTransactions: number;
  readonly uptimeBefore: string;
  readonly uptimeAfter: string;
}

async function dropArtifacts(db: pg.Client, slot: string, prefix: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const r = await db.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (r.rows.length === 0) break;
    if (r.rows[0].active_pid === null) {
      await db.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
      break;
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  await db.query(`DROP PUBLICATION IF EXISTS "${slot}_pub"`);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

async function once(db: pg.Client, label: string, extra: Record<string, unknown>, incremental: boolean): Promise<{ rows: number; seconds: number; transactions: number }> {
  const slot = `${table}_${label}`;
  const prefix = slot.replace(/_/g, '-');
  const source = new PostgresSource(
    {
      ...pgConfig(),
      name: slot,
      'topic.prefix': prefix,
      'slot.name': slot,
      'publication.name': `${slot}_pub`,
      'publication.autocreate.mode': 'filtered',
      'table.include.list': `public\\.${table}`,
      'table.discovery.interval.ms': 0,
      ...extra,
    },
    kafkaConfig,
    logger,
  );
  let rows = 0;
  let transactions = 0;
  let lastCommit = 0;
  source.onCommitted((b) => {
    rows += b.events;
    transactions++;
    lastCommit = Date.now();
  });
  const t0 = Date.now();
  try {
    await source.start();
    if (incremental) {
      await source.incrementalSnapshot({ tables: [`public.${table}`] });
      for (;;) {
        const st = source.status();
        if (st.state === 'failed') throw new Error(`source failed: ${st.error}`);
        if (st.incremental?.state === 'done' && rows >= ROWS) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } else {
      await source.whenStopped();
    }
    return { rows, seconds: (lastCommit - t0) / 1000, transactions };
  } finally {
    await source.stop().catch(() => undefined);
    await dropArtifacts(db, slot, prefix);
  }
}

async function main(): Promise<void> {
  const db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  const results: RunResult[] = [];
  try {
    console.log(`creating public.${table} with ${ROWS} rows …`);
    const size = await createOrdersTable(db, `public.${table}`, ROWS);
    console.log(`table ready: ${size}`);

    for (const threads of THREADS) {
      const before = uptime();
      const r = await once(db, `p${threads}`, { 'snapshot.mode': 'initial_only', 'snapshot.max.threads': threads }, false);
      const res: RunResult = { kind: 'parallel', threads, rows: r.rows, seconds: r.seconds, rowsPerSecond: Math.round(r.rows / r.seconds), kafkaTransactions: r.transactions, uptimeBefore: before, uptimeAfter: uptime() };
      results.push(res);
      console.log(`parallel snapshot, ${threads} worker(s): ${r.rows} rows in ${r.seconds.toFixed(1)} s = ${res.rowsPerSecond} rows/s (${res.uptimeAfter})`);
    }
    for (const chunk of INC_CHUNKS) {
      const before = uptime();
      const r = await once(db, `i${chunk}`, { 'snapshot.mode': 'never', 'incremental.snapshot.chunk.size': chunk }, true);
      const res: RunResult = { kind: 'incremental', chunkSize: chunk, rows: r.rows, seconds: r.seconds, rowsPerSecond: Math.round(r.rows / r.seconds), kafkaTransactions: r.transactions, uptimeBefore: before, uptimeAfter: uptime() };
      results.push(res);
      console.log(`incremental snapshot, chunk ${chunk}: ${r.rows} rows in ${r.seconds.toFixed(1)} s = ${res.rowsPerSecond} rows/s (${res.uptimeAfter})`);
    }
    const out = {
      benchmark: 'snapshot',
      date: new Date().toISOString(),
      machine: machine(),
      versions: versions(),
      table: { rows: ROWS, size, columns: 13 },
      settings: { 'snapshot.fetch.size': 10000, note: 'connector defaults otherwise; in-process PostgresSource, exactly-once Kafka transactions' },
      results,
    };
    writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`written ${OUT}`);
  } finally {
    await db.query(`DROP TABLE IF EXISTS public.${table}`).catch(() => undefined);
    await db.end();
  }
}

if (process.argv.includes('--vs-debezium')) {
  // the same table against Debezium's initial and incremental snapshots (bench/snapshot-vs-debezium.ts)
  await import('./snapshot-vs-debezium.js');
} else {
  await main();
}
