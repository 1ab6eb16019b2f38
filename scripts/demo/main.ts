/**
 * `npm run demo`: the whole fan-out in one command, on the real stack (already up: scripts/demo.sh
 * installs and starts it). Steps:
 *   1. reset: the `shop` database from migrations/, its slot, Kafka topics/groups, sink state
 *   2. seed the shop, start the daemon with connectors/demo.yaml, wait for the snapshot in every sink
 *   3. fill the application cache (Redis) for every customer and order, as an app would
 *   4. run a write workload for --duration seconds with a live progress line
 *   5. wait for every sink to catch up, then print the reconciliation report and a sample query per sink
 * Exit code 0 only when every sink equals Postgres and every changed cache key is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClickHouseLogLevel, createClient as createClickHouse } from '@clickhouse/client';
import { Client as Elasticsearch } from '@elastic/elasticsearch';
import { Redis } from 'ioredis';
import pg from 'pg';
import { endpoints } from '../stack/endpoints.js';
import { resetSinks } from './reset.js';
import type { PipelineStatus } from '../../src/daemon/status.js';
import { formatReport, reconcile, type Report } from './reconcile.js';
import { DEMO_DB, demoUrl, newStats, resetDatabase, rng, seed, workloadStep, type SeedSize } from './shop.js';

const root = join(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.DEMO_DURATION ?? '60' },
    rate: { type: 'string', default: process.env.DEMO_RATE ?? '100' },
    'admin-port': { type: 'string', default: process.env.CDC_ADMIN_PORT ?? '8083' },
    'catch-up-timeout': { type: 'string', default: '180' },
  },
});
const durationS = Number(args.duration);
const ratePerS = Number(args.rate);
const adminPort = Number(args['admin-port']);
const catchUpS = Number(args['catch-up-timeout']);
for (const [name, v] of [['--duration', durationS], ['--rate', ratePerS], ['--admin-port', adminPort], ['--catch-up-timeout', catchUpS]] as const) {
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`${name} must be a positive number, got "${String(v)}"`);
    process.exit(2);
  }
}

const ep = endpoints();
const PREFIX = 'shop';
const SIZE: SeedSize = { customers: 300, products: 60, orders: 400 };
const adminUrl = `http://127.0.0.1:${adminPort}`;
const log = (msg: string): void => console.log(`[demo] ${msg}`);
/** A live progress line: rewritten in place on a terminal, one line every few seconds in a log. */
let lastLogged = 0;
function progress(line: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r[demo] ${line}`.padEnd(150));
  else if (Date.now() - lastLogged >= 5000) {
    lastLogged = Date.now();
    console.log(`[demo] ${line}`);
  }
}
const endProgress = (): void => {
  if (process.stdout.isTTY) endProgress();
};

function startDaemon(): ChildProcess {
  // The heap cap the Docker image sets too (README → Operations → Memory).
  const child = spawn(process.execPath, ['--max-old-space-size=256', join(root, 'bin', 'cdc-fanout.js'), 'run', '--config', join(root, 'connectors', 'demo.yaml'), '--admin-port', String(adminPort)], {
    env: { ...process.env, CDC_PG_DB: DEMO_DB, CDC_LOG_LEVEL: process.env.CDC_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[demo] the daemon exited unexpectedly (code ${code}, signal ${signal}); its log is above`);
      process.exit(1);
    }
  });
  return child;
}

let stopping = false;
let daemonProcess: ChildProcess | undefined;

async function pipelines(): Promise<PipelineStatus[] | null> {
  try {
    const res = await fetch(`${adminUrl}/pipelines`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return null;
    const body = (await res.json()) as PipelineStatus[] | { pipelines: PipelineStatus[] };
    return Array.isArray(body) ? body : body.pipelines;
  } catch {
    return null;
  }
}

function progressLine(p: PipelineStatus | undefined): string {
  if (!p) return 'daemon: starting';
  const sinks = p.sinks.map((s) => `${s.name} ${s.state}${s.lag === null ? '' : ` lag ${s.lag}`}`).join(' | ');
  return `source ${p.source.state} ${p.source.eventsPublished} events (${Math.round(p.source.eventsPerSec)}/s) | ${sinks}`;
}

async function waitReconciled(db: pg.Client, touched: ReadonlySet<string>, timeoutS: number, label: string): Promise<Report> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const report = await reconcile({ db, elasticsearchUrl: ep.elasticsearchUrl, clickhouseUrl: ep.clickhouseUrl, clickhouseDatabase: PREFIX, redisUrl: ep.redisUrl, topicPrefix: PREFIX, touchedKeys: touched });
    if (report.ok || Date.now() > deadline) return report;
    const p = (await pipelines())?.find((x) => x.name === PREFIX);
    progress(`${label}: ${progressLine(p)}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function fillCache(db: pg.Client): Promise<number> {
  const redis = new Redis(ep.redisUrl);
  const pipe = redis.pipeline();
  let n = 0;
  for (const c of (await db.query<{ id: string; email: string }>('SELECT id, email FROM customers')).rows) {
    pipe.set(`customer:${c.id}`, 'cached');
    pipe.set(`customer:email:${c.email}`, 'cached');
    n += 2;
  }
  for (const o of (await db.query<{ id: string; customer_id: string }>('SELECT id, customer_id FROM orders')).rows) {
    pipe.set(`order:${o.id}`, 'cached');
    pipe.set(`customer:${o.customer_id}:orders`, 'cached');
    n += 2;
  }
  await pipe.exec();
  redis.disconnect();
  return n;
}

async function sampleQueries(): Promise<void> {
  const es = new Elasticsearch({ node: ep.elasticsearchUrl });
  const hits = await es.search<Record<string, unknown>>({ index: `${PREFIX}.public.products`, size: 3, query: { match: { name: 'kettle' } }, _source: ['sku', 'name', 'price'] });
  const total = typeof hits.hits.total === 'number' ? hits.hits.total : hits.hits.total?.value;
  log(`Elasticsearch full-text: products named like "kettle": ${total} hits; top: ${hits.hits.hits.map((h) => JSON.stringify(h._source)).join(', ')}`);
  await es.close();
  const ch = createClickHouse({ url: ep.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
  const rs = await ch.query({ query: `SELECT status, count() AS orders, sum(toFloat64(total)) AS revenue FROM ${PREFIX}.public_orders FINAL WHERE _deleted = 0 GROUP BY status ORDER BY status`, format: 'JSONEachRow' });
  log(`ClickHouse aggregate (orders by status, current state):`);
  for (const row of await rs.json<{ status: string; orders: string; revenue: number }>()) log(`  ${row.status.padEnd(10)} ${String(row.orders).padStart(5)} orders  ${row.revenue.toFixed(2).padStart(12)}`);
  await ch.close();
}

async function main(): Promise<void> {
  log(`resetting the demo: database "${DEMO_DB}", topics ${PREFIX}.*, sink state`);
  await resetSinks(ep, PREFIX);
  await resetDatabase(ep.postgresUrl, join(root, 'migrations'));
  const db = new pg.Client({ connectionString: demoUrl(ep.postgresUrl) });
  await db.connect();
  log(`seeding ${SIZE.customers} customers, ${SIZE.products} products, ${SIZE.orders} orders`);
  await seed(db, SIZE);

  log('starting the daemon: cdc-fanout run --config connectors/demo.yaml');
  const daemon = startDaemon();
  daemonProcess = daemon;
  log(`live pipeline page: ${adminUrl}/   (status API: ${adminUrl}/pipelines, metrics: ${adminUrl}/metrics)`);
  const none = new Set<string>();
  const snap = await waitReconciled(db, none, catchUpS, 'initial snapshot');
  endProgress();
  if (!snap.ok) {
    console.log(formatReport(snap));
    throw new Error(`the initial snapshot did not reach every sink within ${catchUpS}s`);
  }
  log(`snapshot reached every sink; caching ${await fillCache(db)} keys in Redis as an application would`);

  const stats = newStats();
  const r = rng(7);
  const started = Date.now();
  let lastPrint = 0;
  let step = 0;
  log(`running the write workload for ${durationS}s at ~${ratePerS} transactions/s`);
  while (Date.now() - started < durationS * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * ratePerS);
    while (step < due) await workloadStep(db, r, step++, stats, SIZE);
    if (Date.now() - lastPrint > 1000) {
      lastPrint = Date.now();
      const secs = (Date.now() - started) / 1000;
      const p = (await pipelines())?.find((x) => x.name === PREFIX);
      progress(`${secs.toFixed(0)}s ${stats.transactions} tx (${(stats.transactions / secs).toFixed(0)}/s) | ${progressLine(p)}`);
    }
    await new Promise((res) => setTimeout(res, 10));
  }
  endProgress();
  log(`workload done: ${stats.transactions} transactions (${stats.inserts} inserts, ${stats.updates} updates, ${stats.deletes} deletes, ${stats.pkUpdates} primary-key update, ${stats.schemaChanges} schema change)`);

  const report = await waitReconciled(db, stats.touchedKeys, catchUpS, 'catching up');
  endProgress();
  console.log(formatReport(report));
  if (report.ok) await sampleQueries();
  await db.end();

  stopping = true;
  daemon.kill('SIGTERM');
  const [code] = (await Promise.race([once(daemon, 'exit'), new Promise((res) => setTimeout(() => res([null]), 30_000))])) as [number | null];
  if (code === null) daemon.kill('SIGKILL');
  log(`daemon stopped (exit ${code})`);
  process.exitCode = report.ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(`[demo] failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
  stopping = true;
  daemonProcess?.kill('SIGKILL');
  process.exit(1);
});
