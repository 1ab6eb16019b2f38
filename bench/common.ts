/**
 * Pieces the benchmarks share: the insert/update/delete backlog writer, the source config of a
 * bench pipeline, the compiled daemon as a child process, per-process CPU and memory from /proc,
 * and the machine / version block of the result files.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { endpoints } from '../scripts/stack/endpoints.js';
import { freePort } from '../scripts/stack/net.js';

export const ROOT = new URL('..', import.meta.url).pathname;

export interface Backlog {
  /** First id not used yet (the next backlog continues from it). */
  readonly nextId: number;
  /** Row changes written (inserts + updates + deletes), as Postgres counted them. */
  readonly changes: number;
  /** Of those, deletes (each is followed by a tombstone record with `tombstones.on.delete`). */
  readonly deletes: number;
}

/**
 * Writes about `events` row changes to `table` (id bigint PK, a int, b text, c timestamptz) as
 * 100-row transactions: 50 % inserts, 35 % updates, 15 % deletes of the oldest rows. An update
 * range may cover deleted ids, so the exact counts come from Postgres' row counts.
 */
export async function writeBacklog(db: pg.Client, table: string, events: number, startId: number): Promise<Backlog> {
  let id = startId;
  let done = 0;
  let changes = 0;
  let deletes = 0;
  while (done < events) {
    // position of this transaction in a cycle of 20 (`done` steps by 100, so `done % 20` would always be 0)
    const r = (done / 100) % 20;
    if (r < 10 || id - startId < 1000) {
      const res = await db.query(`INSERT INTO ${table} (id, a, b, c) SELECT g, g % 1000, md5(g::text), now() FROM generate_series($1::bigint, $2::bigint) g`, [id, id + 99]);
      changes += res.rowCount ?? 0;
      id += 100;
    } else if (r < 17) {
      const from = startId + Math.floor(Math.random() * (id - startId - 100));
      const res = await db.query(`UPDATE ${table} SET a = a + 1 WHERE id BETWEEN $1 AND $2`, [from, from + 99]);
      changes += res.rowCount ?? 0;
    } else {
      // delete 100 rows that exist: the oldest still present
      const res = await db.query(`DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} ORDER BY id LIMIT 100)`);
      changes += res.rowCount ?? 0;
      deletes += res.rowCount ?? 0;
    }
    done += 100;
  }
  return { nextId: id, changes, deletes };
}

export interface BenchSourceOptions {
  /** Unqualified table name in schema public. */
  readonly table: string;
  readonly topicPrefix: string;
  readonly slot: string;
  readonly publication: string;
  readonly schemas: boolean;
  readonly publicationAutocreate?: 'filtered' | 'disabled';
  /** Use a slot this pipeline did not create (bench slots are made with SQL before the backlog). */
  readonly takeOverSlot?: boolean;
  /** Omitted: the connector's defaults. */
  readonly maxBatchSize?: number;
  readonly maxQueueSize?: number;
  readonly maxBatchWaitMs?: number;
}

/** Source config of a bench pipeline capturing public.<table>, streaming only (no snapshot), connected to the stack. */
export function benchSourceConfig(o: BenchSourceOptions): Record<string, unknown> {
  const u = new URL(endpoints().postgresUrl);
  return {
    'database.hostname': u.hostname,
    'database.port': Number(u.port || 5432),
    'database.user': decodeURIComponent(u.username || 'postgres'),
    'database.dbname': u.pathname.slice(1) || 'postgres',
    'topic.prefix': o.topicPrefix,
    'slot.name': o.slot,
    'publication.name': o.publication,
    'publication.autocreate.mode': o.publicationAutocreate ?? 'filtered',
    'table.include.list': `public\\.${o.table}`,
    'snapshot.mode': 'never',
    'schemas.enable': o.schemas,
    ...(o.takeOverSlot ? { 'slot.takeover': true } : {}),
    ...(o.maxBatchSize !== undefined ? { 'max.batch.size': o.maxBatchSize } : {}),
    ...(o.maxQueueSize !== undefined ? { 'max.queue.size': o.maxQueueSize } : {}),
    ...(o.maxBatchWaitMs !== undefined ? { 'max.batch.wait.ms': o.maxBatchWaitMs } : {}),
  };
}

/** A /proc/<pid>/status field in kB (VmRSS now, VmHWM = peak), 0 when absent. */
export function procStatusKB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

let clockTicks: number | undefined;
/** Kernel clock ticks per second (the unit of utime/stime in /proc/<pid>/stat). */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/** pgrp, utime + stime (seconds, all threads) of one process from /proc/<pid>/stat; undefined once it is gone. */
function procStat(pid: number): { pgrp: number; cpuSeconds: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name (field 2) is in parentheses and may contain spaces: split after the last ')'
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] = state (field 3), so field n is f[n - 3]: pgrp = 5, utime = 14, stime = 15
  return { pgrp: Number(f[2]), cpuSeconds: (Number(f[11]) + Number(f[12])) / ticksPerSecond() };
}

/**
 * CPU seconds (user + system, every thread) of all live processes in process group `pgid` — a
 * child spawned `detached` leads its own group. Children that already exited are not counted.
 */
export function groupCpuSeconds(pgid: number): number {
  let sum = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const s = procStat(Number(e));
    if (s?.pgrp === pgid) sum += s.cpuSeconds;
  }
  return sum;
}

/** One Prometheus sample value (first series of `metric`), or 0. */
export function metricValue(text: string, metric: string): number {
  const m = new RegExp(`^${metric}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

export const DAEMON_BUILD_DIR = '.bench-build';

/**
 * Compiles the daemon with tsc into its own directory (bin/cdc-fanout.js prefers dist/ when
 * present, and a bench must not leave one behind). Heap flags in NODE_OPTIONS are for the daemon, not tsc.
 */
export function buildDaemon(): void {
  const { NODE_OPTIONS: _daemonOnly, ...buildEnv } = process.env;
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', DAEMON_BUILD_DIR], { cwd: ROOT, stdio: 'inherit', env: buildEnv });
}

/** The compiled daemon (`node <build>/cli/main.js run`) as a child process with its admin API on a free port. */
export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly adminPort: number;
  readonly exited: Promise<number | null>;
  /** The admin API's Prometheus text. */
  metricsText(): Promise<string>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts the daemon built by `buildDaemon()` on one pipeline config (written to a temp file),
 * `detached` so it leads its own process group (groupCpuSeconds(pid) is its CPU). Killed if this
 * process exits first.
 */
export async function startDaemon(pipeline: Record<string, unknown>, nodeArgs: readonly string[] = [], extraEnv: Readonly<Record<string, string>> = {}): Promise<DaemonProcess> {
  const configFile = join(os.tmpdir(), `${String(pipeline.name)}.json`);
  writeFileSync(configFile, JSON.stringify(pipeline));
  const adminPort = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, DAEMON_BUILD_DIR, 'cli/main.js'), 'run', '--config', configFile, '--admin-port', String(adminPort)], {
    stdio: ["ignore", process.env.DAEMON_STDOUT ? "inherit" : "ignore", "inherit"],
    env: { ...process.env, CDC_LOG_LEVEL: 'warn', ...extraEnv },
    detached: true,
  });
  const exited = new Promise<number | null>((res) => child.on('exit', res));
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  if (child.pid === undefined) throw new Error(`could not start the daemon (${process.execPath} ${DAEMON_BUILD_DIR}/cli/main.js)`);
  const pid = child.pid;
  return {
    child,
    pid,
    adminPort,
    exited,
    metricsText: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text(),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The machine block of a result file. */
export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return { os: `${os.type()} ${os.release()}`, cpus: cpus.length, cpuModel: cpus[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), loadAvg1m: os.loadavg()[0] };
}

/** Versions of Node, cdc-fanout, its Kafka/Postgres client libraries and the stack's Kafka. */
export function versions(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const dep = (n: string): string => (JSON.parse(readFileSync(join(ROOT, 'node_modules', n, 'package.json'), 'utf8')) as { version: string }).version;
  let kafka = 'unknown';
  try {
    kafka = /<kafka\.version>([^<]+)</.exec(readFileSync(join(ROOT, 'stack/kafka/pom.xml'), 'utf8'))?.[1] ?? 'unknown';
  } catch {
    /* stack not present */
  }
  return { node: process.version, 'cdc-fanout': pkg.version, 'producer (@platformatic/kafka)': dep('@platformatic/kafka'), 'consumers/admin (kafkajs)': dep('kafkajs'), 'pg-logical-replication': dep('pg-logical-replication'), pg: dep('pg'), kafka };
}

/**
 * Creates `table` (schema-qualified) as bench:snapshot's orders-like table of realistic width —
 * bigint key, ints, numerics, short and long text, timestamps, a text[] and a jsonb (~370 bytes
 * per row on disk) — fills it with `rows` rows, VACUUM ANALYZEs it and returns its size.
 */
export async function createOrdersTable(db: pg.Client, table: string, rows: number): Promise<string> {
  await db.query(`CREATE TABLE ${table} (
      id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, currency char(3) NOT NULL,
      amount numeric(12,2) NOT NULL, tax numeric(12,2), email text, shipping_address text, note text,
      created_at timestamptz NOT NULL, updated_at timestamptz, tags text[], attributes jsonb)`);
  const step = 200_000;
  for (let from = 1; from <= rows; from += step) {
    const to = Math.min(rows, from + step - 1);
    await db.query(
      `INSERT INTO ${table}
         SELECT g, g % 50000, (ARRAY['new','paid','shipped','delivered','cancelled'])[1 + g % 5], 'EUR',
                (g % 100000) / 100.0, (g % 7000) / 100.0, 'customer' || (g % 50000) || '@example.com',
                g || ' Long Street, Apartment ' || (g % 300) || ', 10115 Berlin, Germany', repeat(md5(g::text), 2),
                now() - (g || ' seconds')::interval, now(), ARRAY['tag' || (g % 10), 'tag' || (g % 7)],
                jsonb_build_object('source', 'web', 'items', g % 9, 'coupon', md5((g % 97)::text), 'gift', g % 2 = 0)
           FROM generate_series($1::bigint, $2::bigint) g`,
      [from, to],
    );
  }
  await db.query(`VACUUM ANALYZE ${table}`);
  return (await db.query<{ s: string }>(`SELECT pg_size_pretty(pg_table_size($1::regclass)) AS s`, [table])).rows[0]!.s;
}
