/**
 * `npm run bench:e2e` — Postgres commit → visible in every sink, through the real daemon.
 *
 *  1. A fresh database `bench_e2e` with one realistic table (numeric, text[], jsonb, timestamptz, and
 *     a TOASTed `doc` column on some rows), seeded with `--seed-rows` rows; the daemon
 *     (`bin/cdc-fanout.js run`, as users run it) captures it into Elasticsearch, ClickHouse and Redis
 *     (write-through JSON) from one pipeline file written here. Wait until every sink holds the seed.
 *  2. Steady load: `--connections` Postgres connections write `--rate` row changes/s for `--seconds`
 *     (50 % inserts, 35 % updates — some touch only non-TOAST columns of a TOASTed row, so the
 *     unchanged-TOAST path runs —, 15 % deletes; 20 changes per transaction, one statement each).
 *     Probe rows (one per Kafka partition and more) are updated every `--probe-ms` with a counter; for
 *     each sink a watcher polls them (ES realtime GET, ClickHouse `FINAL`, Redis GET of the
 *     write-through JSON) and records commit → first visible. Reports p50/p99/max per sink, the
 *     achieved write rate, each sink's offset lag (daemon /pipelines) every 5 s with its trend, and
 *     the daemon's RSS (VmRSS, every second): the memory bar of issue 16.
 *  2b. `--large-tx N`: once every sink is current, one transaction inserts N rows (a TOASTed doc on
 *     every 1000th); reports the time until each sink shows it and the daemon's RSS meanwhile — the
 *     whole daemon's memory while a large transaction flows through all three sinks.
 *  3. Drain: all three sinks paused (admin API), `--drain` changes written, then each sink resumed
 *     alone and timed until the last probe is visible in it: changes/s per sink from a backlog.
 * `--split`: the same pipeline file run by two processes, `run --role source` and `run --role sinks`
 * (the source gets an event loop, a core, of its own); RSS is then the sum of both.
 * Results: bench/results/e2e.json (machine, versions, flags). Needs the stack (`npm run stack:up`).
 *   npm run bench:e2e [-- --rate 10000 --seconds 300 --connections 4 --drain 200000 --large-tx 1000000 --split --out <file>]
 *   `--seconds 0` skips the steady phase, `--drain 0` the drain; `--sink-option key=value` (repeatable)
 *   adds a setting to every sink.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { freePort } from '../scripts/stack/net.js';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient as createClickHouse } from '@clickhouse/client';
import { Client as Elasticsearch } from '@elastic/elasticsearch';
import { Redis } from 'ioredis';
import pg from 'pg';
import { stringify } from 'yaml';
import { endpoints } from '../scripts/stack/endpoints.js';
import { kafkaClient } from '../src/kafka/client.js';
import { kafkaSpec } from '../src/kafka/config.js';
import { cpuWindow } from './cpu-accounting.js';
import { procStatusKB } from './common.js';
import { distState } from '../bin/dist-fresh.js';
import { DAEMON_MALLOC_ENV } from '../src/cli/heap.js';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '300' },
    connections: { type: 'string', default: '4' },
    'seed-rows': { type: 'string', default: '20000' },
    drain: { type: 'string', default: '200000' },
    'large-tx': { type: 'string', default: '0' },
    'sink-option': { type: 'string', multiple: true, default: [] },
    'probe-ms': { type: 'string', default: '50' },
    'node-flags': { type: 'string', default: '' },
    split: { type: 'boolean', default: false },
    out: { type: 'string', default: join(root, 'bench', 'results', 'e2e.json') },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const CONNS = Number(args.connections);
const SEED_ROWS = Number(args['seed-rows']);
const DRAIN = Number(args.drain);
const LARGE_TX = Number(args['large-tx']);
/** `--sink-option key=value` (repeatable): a setting added to every sink, e.g. fetch.max.bytes=4194304. */
const SINK_OPTIONS: Record<string, unknown> = {};
for (const o of args['sink-option']) {
  const eq = o.indexOf('=');
  if (eq <= 0) {
    console.error(`--sink-option takes key=value, got "${o}"`);
    process.exit(2);
  }
  const v = o.slice(eq + 1);
  SINK_OPTIONS[o.slice(0, eq)] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}
const PROBE_MS = Number(args['probe-ms']);
for (const [k, v] of Object.entries({ rate: RATE, seconds: SECONDS, connections: CONNS, 'seed-rows': SEED_ROWS, drain: DRAIN, 'large-tx': LARGE_TX, 'probe-ms': PROBE_MS })) {
  if (!(Number.isInteger(v) && v >= 0)) {
    console.error(`--${k} must be a non-negative integer, got ${String(v)}`);
    process.exit(2);
  }
}
const PER_TX = 20;
const PROBES = 12; // ids -1..-12: spread over the topic's partitions
const PARTITIONS = 3;
const run = Date.now().toString(36);
const DB = 'bench_e2e';
const PREFIX = `e2e${run}`;
const CH_DB = `bench_e2e_${run}`;
const REDIS_DB = 13;
const REDIS_KEY = `e2e:${run}:item:`;
const redisUrl = `${endpoints().redisUrl.replace(/\/\d*$/, '')}/${REDIS_DB}`;
const ep = endpoints();
const log = (m: string): void => console.log(`[bench:e2e] ${m}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- Postgres ----------------------
const adminUrl = ep.postgresUrl;
const dbUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${DB}`;
  return u.toString();
})();
{
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  for (const s of (await c.query<{ slot_name: string }>(`SELECT slot_name FROM pg_replication_slots WHERE database = $1 AND NOT active`, [DB])).rows) {
    await c.query('SELECT pg_drop_replication_slot($1)', [s.slot_name]);
  }
  await c.query(`DROP DATABASE IF EXISTS ${DB}`);
  await c.query(`CREATE DATABASE ${DB}`);
  await c.end();
}
const db = new pg.Client({ connectionString: dbUrl });
await db.connect();
await db.query(`CREATE TABLE public.items (
  id bigint PRIMARY KEY, account int NOT NULL, name text NOT NULL, price numeric(12,2), qty int,
  tags text[], attrs jsonb, updated_at timestamptz NOT NULL DEFAULT now(), probe bigint NOT NULL DEFAULT 0, doc text)`);
// A TOASTed doc on every 50th row: ~12 kB of random hex does not compress below the TOAST threshold.
await db.query(
  `INSERT INTO public.items (id, account, name, price, qty, tags, attrs, doc)
   SELECT g, g % 500, 'item ' || g, (g % 10000) / 100.0, g % 7, ARRAY['t' || (g % 5), 'x'], jsonb_build_object('color', 'c' || (g % 9), 'n', g),
          CASE WHEN g % 50 = 0 THEN (SELECT string_agg(md5(random()::text || x), '') FROM generate_series(1, 400) x) END
   FROM generate_series(1, $1::int) g`,
  [SEED_ROWS],
);
await db.query(`INSERT INTO public.items (id, account, name) SELECT -g, 0, 'probe' FROM generate_series(1, ${PROBES}) g`);

// ---------------------------------------------------------------- daemon ------------------------
const pgu = new URL(adminUrl);
const pipeline = {
  name: PREFIX,
  source: {
    'topic.prefix': PREFIX,
    'database.hostname': pgu.hostname,
    'database.port': Number(pgu.port || 5432),
    'database.user': decodeURIComponent(pgu.username || 'postgres'),
    'database.dbname': DB,
    'slot.name': `bench_e2e_${run}`,
    'publication.name': `bench_e2e_${run}`,
    'publication.autocreate.mode': 'filtered',
    'table.include.list': 'public.items',
    'snapshot.mode': 'initial',
  },
  kafka: { 'bootstrap.servers': ep.kafkaBrokers.join(','), 'topic.creation.partitions': PARTITIONS },
  sinks: [
    { name: 'search', type: 'elasticsearch', url: ep.elasticsearchUrl, tables: ['public.items'], ...SINK_OPTIONS },
    { name: 'warehouse', type: 'clickhouse', url: ep.clickhouseUrl, database: CH_DB, topics: [`${PREFIX}.public.items`], ...SINK_OPTIONS },
    { name: 'cache', type: 'redis', url: redisUrl, tables: ['public.items'], 'table.overrides': { 'public.items': { keys: [`${REDIS_KEY}{id}`], mode: 'write-through' } }, ...SINK_OPTIONS },
  ],
};
const dir = mkdtempSync(join(os.tmpdir(), 'bench-e2e-'));
const configFile = join(dir, 'pipeline.yaml');
writeFileSync(configFile, stringify(pipeline));
const adminPort = await freePort();
const nodeFlags = args['node-flags'].split(/\s+/).filter(Boolean);
const SPLIT = args.split;
let daemonExited = false;
/** One daemon: `role` all, or with --split the sinks (admin API used below) and the source. */
function startDaemon(role: 'all' | 'source' | 'sinks', port: number): ReturnType<typeof spawn> {
  const d = spawn(process.execPath, [...nodeFlags, join(root, 'bin', 'cdc-fanout.js'), 'run', '--config', configFile, '--admin-port', String(port), '--role', role], {
    env: { ...process.env, CDC_LOG_LEVEL: 'warn', CDC_FANOUT_STATE_DIR: join(dir, `state-${role}`) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  d.on('exit', (code) => {
    daemonExited = true;
    if (code !== 0 && code !== null) console.error(`[bench:e2e] daemon (--role ${role}) exited with ${code}`);
  });
  return d;
}
const daemons = SPLIT ? [startDaemon('sinks', adminPort), startDaemon('source', await freePort())] : [startDaemon('all', adminPort)];
const pids = daemons.map((d) => d.pid as number);
/** The daemons' pids by role, for the CPU accounting (`run` re-executes itself in place: same pid). */
const daemonNames = new Map<number, string>(daemons.map((d, i) => [d.pid as number, SPLIT ? (i === 0 ? 'cdc-fanout --role sinks' : 'cdc-fanout --role source') : 'cdc-fanout daemon']));
const pid = pids.join('+');
const admin = `http://127.0.0.1:${adminPort}`;

// ---------------------------------------------------------------- sink readers ------------------
const es = new Elasticsearch({ node: ep.elasticsearchUrl });
const ch = createClickHouse({ url: ep.clickhouseUrl, request_timeout: 30_000 });
const redis = new Redis(redisUrl);
const esIndex = `${PREFIX}.public.items`;
const probeIds = Array.from({ length: PROBES }, (_, i) => -(i + 1));

type SinkName = 'elasticsearch' | 'clickhouse' | 'redis';
const SINKS: readonly SinkName[] = ['elasticsearch', 'clickhouse', 'redis'];
const SINK_OF: Record<SinkName, string> = { elasticsearch: 'search', clickhouse: 'warehouse', redis: 'cache' };

/** The probe counter each sink shows now, per probe id (missing = not there yet). */
const readProbes: Record<SinkName, () => Promise<Map<number, number>>> = {
  async elasticsearch() {
    const out = new Map<number, number>();
    const r = await es.mget<{ probe?: number | string }>({ index: esIndex, ids: probeIds.map(String), _source_includes: ['probe'] }).catch(() => undefined);
    for (const d of r?.docs ?? []) {
      if ('found' in d && d.found && d._source?.probe !== undefined) out.set(Number(d._id), Number(d._source.probe));
    }
    return out;
  },
  async clickhouse() {
    const out = new Map<number, number>();
    try {
      const rs = await ch.query({ query: `SELECT toString(id) AS id, toString(probe) AS probe FROM \`${CH_DB}\`.\`public_items\` FINAL WHERE toInt64OrZero(toString(id)) < 0`, format: 'JSONEachRow' });
      for (const row of await rs.json<{ id: string; probe: string }>()) out.set(Number(row.id), Number(row.probe));
    } catch {
      // table not created yet
    }
    return out;
  },
  async redis() {
    const out = new Map<number, number>();
    const vals = await redis.mget(...probeIds.map((id) => `${REDIS_KEY}${id}`));
    vals.forEach((v, i) => {
      if (v !== null) out.set(probeIds[i] as number, Number((JSON.parse(v) as { probe: number | string }).probe));
    });
    return out;
  },
};

async function rowCount(sink: SinkName): Promise<number> {
  if (sink === 'elasticsearch') {
    await es.indices.refresh({ index: esIndex }).catch(() => undefined);
    return (await es.count({ index: esIndex }).catch(() => ({ count: 0 }))).count;
  }
  if (sink === 'clickhouse') {
    const rs = await ch.query({ query: `SELECT count() AS n FROM \`${CH_DB}\`.\`public_items\` FINAL WHERE _deleted = 0`, format: 'JSONEachRow' }).catch(() => undefined);
    return rs ? Number((await rs.json<{ n: string }>())[0]?.n ?? 0) : 0;
  }
  let n = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${REDIS_KEY}*`, 'COUNT', 5000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

// ---------------------------------------------------------------- probes ------------------------
interface Probe {
  readonly id: number;
  readonly value: number;
  readonly committedAt: number;
}
const outstanding: Record<SinkName, Probe[]> = { elasticsearch: [], clickhouse: [], redis: [] };
const latencies: Record<SinkName, number[]> = { elasticsearch: [], clickhouse: [], redis: [] };
let probeCounter = 0;
let measuring = false;
const probeDb = new pg.Client({ connectionString: dbUrl });
await probeDb.connect();

/** Updates the next probe row; its commit time starts the clock for every sink. */
async function probe(record: boolean): Promise<Probe> {
  const value = ++probeCounter;
  const id = probeIds[value % PROBES] as number;
  await probeDb.query('UPDATE public.items SET probe = $1, updated_at = now() WHERE id = $2', [value, id]);
  const p = { id, value, committedAt: Date.now() };
  if (record) for (const s of SINKS) outstanding[s].push(p);
  return p;
}

let watching = true;
async function watch(sink: SinkName): Promise<void> {
  while (watching) {
    if (outstanding[sink].length === 0) {
      await sleep(5);
      continue;
    }
    const seen = await readProbes[sink]().catch(() => new Map<number, number>());
    const now = Date.now();
    outstanding[sink] = outstanding[sink].filter((p) => {
      const v = seen.get(p.id);
      if (v !== undefined && v >= p.value) {
        if (measuring) latencies[sink].push(now - p.committedAt);
        return false;
      }
      return true;
    });
    await sleep(10);
  }
}

async function waitVisible(sink: SinkName, p: Probe, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const v = (await readProbes[sink]().catch(() => new Map<number, number>())).get(p.id);
    if (v !== undefined && v >= p.value) return Date.now();
    if (Date.now() - t0 > timeoutMs) throw new Error(`${sink}: probe ${p.value} not visible within ${timeoutMs / 1000} s`);
    if (daemonExited) throw new Error('the daemon exited');
    await sleep(20);
  }
}

// ---------------------------------------------------------------- load --------------------------
interface Writer {
  readonly client: pg.Client;
  readonly live: number[];
  nextId: number;
}
const writers: Writer[] = [];
for (let k = 0; k < CONNS; k++) {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  // Each writer owns the ids ≡ k (mod CONNS): no two transactions contend for a row.
  const live: number[] = [];
  for (let id = k + 1; id <= SEED_ROWS; id += CONNS) live.push(id);
  writers.push({ client, live, nextId: SEED_ROWS + k + 1 });
}
let written = 0;
let seq = 0;

/** One transaction of PER_TX changes (10 inserts, 7 updates, 3 deletes) as a single statement. */
async function transaction(w: Writer): Promise<void> {
  const ins: number[] = [];
  for (let i = 0; i < 10; i++) {
    ins.push(w.nextId);
    w.nextId += CONNS;
  }
  const pick = (): number => {
    const i = Math.floor(Math.random() * w.live.length);
    return w.live[i] as number;
  };
  const upd = Array.from({ length: 7 }, pick);
  const dels: number[] = [];
  for (let i = 0; i < 3 && w.live.length > 100; i++) {
    const j = Math.floor(Math.random() * w.live.length);
    dels.push(w.live[j] as number);
    w.live[j] = w.live[w.live.length - 1] as number;
    w.live.pop();
  }
  const s = ++seq;
  // Updates leave `doc` alone: on a TOASTed row pgoutput then sends it as unchanged-TOAST.
  await w.client.query(
    `WITH i AS (
       INSERT INTO public.items (id, account, name, price, qty, tags, attrs, doc)
       SELECT g, g % 500, 'item ' || g, (g % 10000) / 100.0, g % 7, ARRAY['t' || (g % 5)], jsonb_build_object('color', 'c' || (g % 9), 's', $4::int),
              CASE WHEN g % 50 = 0 THEN (SELECT string_agg(md5(random()::text || x), '') FROM generate_series(1, 400) x) END
       FROM unnest($1::bigint[]) g),
     u AS (UPDATE public.items SET qty = qty + 1, price = price + 0.01, attrs = attrs || jsonb_build_object('s', $4::int), updated_at = now()
           WHERE id = ANY($2::bigint[]) AND id NOT IN (SELECT unnest($3::bigint[]))),
     d AS (DELETE FROM public.items WHERE id = ANY($3::bigint[]))
     SELECT 1`,
    [ins, [...new Set(upd)], dels, s],
  );
  for (const id of ins) w.live.push(id);
  written += ins.length + new Set(upd.filter((id) => !dels.includes(id))).size + dels.length;
}

/** Runs the writers at `rate` changes/s (0 = as fast as they go) until `until()` is true. */
async function load(rate: number, until: () => boolean): Promise<void> {
  const t0 = Date.now();
  const start = written;
  await Promise.all(
    writers.map(async (w) => {
      while (!until()) {
        if (rate > 0 && written - start >= ((Date.now() - t0) / 1000) * rate) {
          await sleep(2);
          continue;
        }
        await transaction(w);
      }
    }),
  );
}

// ---------------------------------------------------------------- admin API ---------------------
interface SinkLag {
  readonly name: string;
  readonly state: string;
  readonly lag: number | null;
}
async function sinkLags(): Promise<SinkLag[]> {
  const r = (await (await fetch(`${admin}/pipelines`, { signal: AbortSignal.timeout(3000) })).json()) as unknown;
  const list = (Array.isArray(r) ? r : (r as { pipelines: unknown[] }).pipelines) as { sinks: SinkLag[] }[];
  return (list[0]?.sinks ?? []).map((s) => ({ name: s.name, state: s.state, lag: s.lag }));
}
async function sinkAction(sink: SinkName, action: 'pause' | 'resume'): Promise<void> {
  const r = await fetch(`${admin}/pipelines/${PREFIX}/sinks/${SINK_OF[sink]}/${action}`, { method: 'POST' });
  if (!r.ok) throw new Error(`${action} ${sink}: HTTP ${r.status} ${await r.text()}`);
}

const rssSamples: { t: number; mb: number }[] = [];
/** The daemon's RSS (or with `field` its kernel high-water mark); with --split the sum of both processes (the whole daemon's memory either way). */
const rssMB = (field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number => pids.reduce((a, p) => a + procStatusKB(p, field), 0) / 1024;
/** Peak and mean of RSS samples (MB). */
const rssSummary = (mb: readonly number[]): { peak: number; mean: number } => ({ peak: Math.round(Math.max(...mb)), mean: Math.round(mb.reduce((a, b) => a + b, 0) / Math.max(1, mb.length)) });

/** Waits until every sink shows a probe committed now (each has applied everything before it); seconds it took. */
async function allSinksCurrent(timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  const p = await probe(false);
  for (const s of SINKS) await waitVisible(s, p, timeoutMs);
  return (Date.now() - t0) / 1000;
}

function pct(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

// ---------------------------------------------------------------- run ---------------------------
let result: Record<string, unknown> = {};
const timers: NodeJS.Timeout[] = [];
try {
  log(`seeded ${SEED_ROWS} rows; daemon pid ${pid}, admin ${admin}; waiting for the snapshot to reach every sink`);
  const snapSeconds = await allSinksCurrent(600_000);
  const counts = Object.fromEntries(await Promise.all(SINKS.map(async (s) => [s, await rowCount(s)] as const)));
  log(`snapshot visible everywhere after ${snapSeconds.toFixed(1)} s: ${JSON.stringify(counts)}`);

  // RSS of the daemon every second over every phase.
  timers.push(setInterval(() => rssSamples.push({ t: Date.now(), mb: rssMB() }), 1000));
  // 2. steady load with probes
  const steady = SECONDS > 0 ? await steadyPhase() : undefined;
  async function steadyPhase() {
    const watchers = SINKS.map((s) => watch(s));
    const lagSeries: { t: number; lags: Record<string, number | null> }[] = [];
    const tSteady = Date.now();
    timers.push(
      setInterval(() => {
        void sinkLags()
          .then((l) => lagSeries.push({ t: (Date.now() - tSteady) / 1000, lags: Object.fromEntries(l.map((s) => [s.name, s.lag])) }))
          .catch(() => undefined);
      }, 5000),
    );
    let probing = true;
    const prober = (async () => {
      while (probing) {
        await probe(true);
        await sleep(PROBE_MS);
      }
    })();
    measuring = true;
    const cpu = cpuWindow((p) => (p === process.pid ? 'bench (writers, probes, sink readers)' : daemonNames.get(p)));
    const writtenBefore = written;
    const rssFrom = rssSamples.length;
    log(`steady: ${RATE} changes/s on ${CONNS} connections for ${SECONDS} s, probe every ${PROBE_MS} ms`);
    const progress = setInterval(() => {
      const el = (Date.now() - tSteady) / 1000;
      const lag = lagSeries.at(-1)?.lags;
      log(`${el.toFixed(0)} s: ${Math.round((written - writtenBefore) / el)} changes/s, RSS ${rssSamples.at(-1)?.mb.toFixed(0)} MB, lag ${JSON.stringify(lag)}, pending probes ${SINKS.map((s) => outstanding[s].length).join('/')}`);
    }, 30_000);
    timers.push(progress);
    await load(RATE, () => Date.now() - tSteady >= SECONDS * 1000 || daemonExited);
    const steadySeconds = (Date.now() - tSteady) / 1000;
    const achieved = (written - writtenBefore) / steadySeconds;
    const cpuSteady = cpu.stop();
    log(`CPU over the steady phase (share of the machine's ${cpuSteady.cores} cores): ${Object.entries(cpuSteady.byService).map(([k, v]) => `${k} ${(v.shareOfMachine * 100).toFixed(0)} %`).join(', ')}, idle ${(cpuSteady.idleShare * 100).toFixed(0)} %`);
    probing = false;
    await prober;
    // Let the last probes land (they count: a sink that falls behind shows it here).
    const tail = Date.now();
    while (SINKS.some((s) => outstanding[s].length > 0) && Date.now() - tail < 120_000) await sleep(50);
    measuring = false;
    const unresolved = Object.fromEntries(SINKS.map((s) => [s, outstanding[s].length]));
    const steadyRss = rssSamples.slice(rssFrom).map((s) => s.mb);
    const steady = {
      targetChangesPerSecond: RATE,
      achievedChangesPerSecond: Math.round(achieved),
      seconds: Math.round(steadySeconds),
      changes: written - writtenBefore,
      probes: probeCounter - 1,
      latencyMs: Object.fromEntries(
        SINKS.map((s) => {
          const sorted = [...latencies[s]].sort((a, b) => a - b);
          return [s, { samples: sorted.length, p50: pct(sorted, 50), p99: pct(sorted, 99), max: sorted.at(-1) ?? null, unresolvedAtEnd: unresolved[s] }];
        }),
      ),
      lag: {
        everySeconds: 5,
        trendRecordsPerMinute: Object.fromEntries(
          ['search', 'warehouse', 'cache'].map((n) => [n, Math.round(slope(lagSeries.filter((p) => p.lags[n] != null).map((p) => ({ x: p.t / 60, y: p.lags[n] as number }))))]),
        ),
        max: Object.fromEntries(['search', 'warehouse', 'cache'].map((n) => [n, Math.max(0, ...lagSeries.map((p) => p.lags[n] ?? 0))])),
        series: lagSeries.map((p) => [Math.round(p.t), p.lags.search, p.lags.warehouse, p.lags.cache]),
        seriesColumns: ['seconds', 'search', 'warehouse', 'cache'],
      },
      daemonRssMB: rssSummary(steadyRss),
      cpu: cpuSteady,
    };
    log(`steady done: ${JSON.stringify({ achieved: steady.achievedChangesPerSecond, latencyMs: steady.latencyMs, rss: steady.daemonRssMB })}`);
    watching = false;
    await Promise.all(watchers);
    return steady;
  }

  // 2b. one large transaction through source and every sink (issue 16's memory bar)
  let largeTx: Record<string, unknown> | undefined;
  if (LARGE_TX > 0) {
    log(`every sink current ${(await allSinksCurrent(1_800_000)).toFixed(1)} s after the steady phase; one transaction of ${LARGE_TX} inserts next`);
    const from = rssSamples.length;
    const t0 = Date.now();
    // Ids far above the writers' range; a TOASTed doc on every 1000th row (the rest as in the seed).
    await db.query(
      `INSERT INTO public.items (id, account, name, price, qty, tags, attrs, doc)
       SELECT g, g % 500, 'item ' || g, (g % 10000) / 100.0, g % 7, ARRAY['t' || (g % 5), 'x'], jsonb_build_object('color', 'c' || (g % 9), 'n', g),
              CASE WHEN g % 1000 = 0 THEN (SELECT string_agg(md5(random()::text || x), '') FROM generate_series(1, 400) x) END
       FROM generate_series(1000000000001::bigint, 1000000000000::bigint + $1::bigint) g`,
      [LARGE_TX],
    );
    const committed = Date.now();
    const after = await probe(false);
    log(`large transaction committed in ${((committed - t0) / 1000).toFixed(1)} s; waiting for every sink`);
    // Visible = the probe committed after it shows AND the sink holds every row: a sink applies each
    // Kafka partition on its own, so one partition's probe can show before the others are done.
    const expected = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM public.items')).rows[0]?.n);
    const visibleSeconds: Record<string, number> = {};
    await Promise.all(
      SINKS.map(async (s) => {
        await waitVisible(s, after, 3_600_000);
        while ((await rowCount(s)) < expected) {
          if (daemonExited) throw new Error('the daemon exited');
          await sleep(2000);
        }
        visibleSeconds[s] = Number(((Date.now() - committed) / 1000).toFixed(1));
        log(`large transaction visible in ${s} ${visibleSeconds[s]} s after its commit (${expected} rows)`);
      }),
    );
    const rows = Object.fromEntries(await Promise.all(SINKS.map(async (s) => [s, await rowCount(s)] as const)));
    const mb = rssSamples.slice(from).map((x) => x.mb);
    largeTx = {
      rows: LARGE_TX,
      insertSeconds: Number(((committed - t0) / 1000).toFixed(1)),
      visibleSecondsAfterCommit: visibleSeconds,
      sinkRowCountsAfter: rows,
      daemonRssMB: { ...rssSummary(mb), samples: mb.length },
    };
    log(`large transaction: ${JSON.stringify(largeTx)}`);
  }

  // 3. drain per sink from a backlog
  const drain: Record<string, unknown> = {};
  if (DRAIN > 0) {
    // First let every sink finish the steady phase's backlog, so each drain below measures only
    // the drain's own changes (a sink still behind would otherwise count its old lag as well).
    drain.catchUpSecondsAfterSteady = Number((await allSinksCurrent(1_800_000)).toFixed(1));
    log(`every sink caught up with the steady phase ${drain.catchUpSecondsAfterSteady} s after it ended`);
    for (const s of SINKS) await sinkAction(s, 'pause');
    await sleep(2000);
    const before = written;
    const tw = Date.now();
    await load(0, () => written - before >= DRAIN || daemonExited);
    const last = await probe(false);
    const backlog = written - before + 1;
    log(`drain: ${backlog} changes written in ${((Date.now() - tw) / 1000).toFixed(1)} s with every sink paused`);
    // The source keeps publishing while the sinks are paused: wait for Kafka to hold the backlog.
    await sleep(5000);
    for (const s of SINKS) {
      const t0 = Date.now();
      await sinkAction(s, 'resume');
      const seen = await waitVisible(s, last, 900_000);
      const secs = (seen - t0) / 1000;
      drain[s] = { changes: backlog, seconds: Number(secs.toFixed(2)), changesPerSecond: Math.round(backlog / secs) };
      log(`drain ${s}: ${backlog} changes in ${secs.toFixed(1)} s = ${Math.round(backlog / secs)}/s`);
    }
  }
  const allRss = rssSamples.map((s) => s.mb);
  result = {
    steady,
    largeTx,
    drain,
    daemonRssMB: {
      peak: rssSummary(allRss).peak,
      peakSteady: steady?.daemonRssMB.peak ?? null,
      // The kernel's high-water mark over the daemon's whole life (catches spikes between samples).
      vmHWM: Math.round(rssMB('VmHWM')),
      note: 'VmRSS of the daemon process sampled every second over the steady, large-transaction and drain phases; vmHWM: the kernel\'s peak over the daemon\'s life (snapshot included)',
    },
    bars: {
      'p99 ≤ 1000 ms per sink at ≥ 10k changes/s': steady
        ? Object.fromEntries(SINKS.map((s) => [s, (steady.latencyMs[s] as { p99: number | null }).p99 !== null && ((steady.latencyMs[s] as { p99: number }).p99 <= 1000) && steady.achievedChangesPerSecond >= 10_000]))
        : 'not run (--seconds 0)',
      'RSS ≤ 300 MB': Math.max(...allRss) <= 300,
    },
  };
} finally {
  for (const t of timers) clearInterval(t);
  watching = false;
  await Promise.all(
    daemons.map(async (d) => {
      if (d.exitCode !== null || d.signalCode !== null) return;
      const gone = new Promise((r) => d.once('exit', r));
      d.kill('SIGTERM');
      await gone;
    }),
  );
  await Promise.all(writers.map((w) => w.client.end()));
  await probeDb.end();
  await db.end();
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [`bench_e2e_${run}`]).catch(() => undefined);
  await c.query(`DROP DATABASE IF EXISTS ${DB}`).catch(() => undefined);
  await c.end();
  await es.indices.delete({ index: esIndex, ignore_unavailable: true }).catch(() => undefined);
  await ch.command({ query: `DROP DATABASE IF EXISTS \`${CH_DB}\`` }).catch(() => undefined);
  await ch.close();
  let cursor = '0';
  for (const pattern of [`${REDIS_KEY}*`, `cdc:*${run}*`]) {
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  await redis.quit();
  const kafka = kafkaClient(kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(',') })).admin();
  await kafka.connect();
  const topics = (await kafka.listTopics()).filter((t) => t.startsWith(PREFIX));
  if (topics.length) await kafka.deleteTopics({ topics }).catch(() => undefined);
  await kafka.disconnect();
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
/** What bin/cdc-fanout.js ran, by its own rule (bin/dist-fresh.js). */
const dist = distState(root);
const daemonCode = dist.fresh ? 'compiled (dist/)' : dist.exists ? 'TypeScript sources through tsx (dist/ older than src/)' : 'TypeScript sources through tsx (no dist/)';
const pgVersion = await (async () => {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  const v = (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown';
  await c.end();
  return v;
})();
const out = {
  when: new Date().toISOString(),
  machine: { os: `${os.type()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), loadAvg1m: os.loadavg()[0] },
  versions: { node: process.version, 'cdc-fanout': pkg.version, postgres: pgVersion },
  config: { daemonCode, rate: RATE, seconds: SECONDS, largeTx: LARGE_TX, sinkOptions: SINK_OPTIONS, daemonEnv: Object.fromEntries([...Object.keys(DAEMON_MALLOC_ENV), 'CDC_FANOUT_MALLOC_ENV', 'CDC_FANOUT_HEAP_FLAGS'].filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])), connections: CONNS, changesPerTransaction: PER_TX, seedRows: SEED_ROWS, drain: DRAIN, probeMs: PROBE_MS, probes: PROBES, partitions: PARTITIONS, nodeFlags, split: SPLIT, pipeline: `source + elasticsearch + clickhouse + redis (write-through), ${SPLIT ? 'two processes (bin/cdc-fanout.js run --role source, --role sinks); RSS is their sum' : 'one daemon (bin/cdc-fanout.js run)'}` },
  ...result,
};
writeFileSync(args.out, `${JSON.stringify(out, null, 2)}\n`);
log(`written ${args.out}`);
process.exit(0);
