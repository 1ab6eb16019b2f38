// `cdc-fanout rebuild` of a Redis write-through sink on the real stack, under live writes: Postgres
// → `cdc-fanout run` (child process) → Kafka (compacted data topic) → Redis, while a writer keeps
// updating, inserting and deleting, and a reader follows the reader contract of docs/rebuild.md
// (GET the generation pointer, then MGET every base row's key in that namespace) every few ms. The
// rebuild (CLI child process) is SIGKILLed while it builds and again in the grace period; each rerun
// resumes. Then: every read found all BASE rows (never a partial generation) and no row's qty ever
// went backwards (qty only grows in Postgres: the generation the pointer names always holds every
// change the live sink had applied); the pointer names generation 1; generation 0's rows (and only
// they: an application key under the same prefix stays) are gone; generation 1 equals Postgres key
// by key and has exactly as many row keys as Postgres has rows. A second rebuild (namespace →
// namespace) drops generation 1 and again ends equal to Postgres. A sink with only invalidate tables
// and a rebuild with --tables are refused with a clear message.
import { createHash } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import type { RebuildState } from '../../src/sinks/generations.js';
import { generationNamespace } from '../../src/sinks/redis/generations.js';
import { freePort } from '../support/ports.js';
import { startDaemon, waitFor, type DaemonProcess } from './helpers.js';

const ep = endpoints();
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const T = `rr_${run}`;
const GROUP = `cdc-fanout.${T}.cache`;
const POINTER = `cdc:generation:${GROUP}`;
const ROW = `${T}:row:`;
const BASE = 1500;
const pgUrl = new URL(ep.postgresUrl);
const NO_DAEMON_PORT = await freePort();
const bin = join(import.meta.dirname, '..', '..', 'bin', 'cdc-fanout.js');
const redis = new Redis(ep.redisUrl);
// An application's own keys next to the sink's: one under the row prefix, one under an invalidation template.
const APP_KEYS = [`${ROW}note`, `${T}:name:app`];

let dir: string;
let stateDir: string;
let cfgDir: string;
let db: pg.Client;
let daemon: DaemonProcess | undefined;

const cliEnv = (): NodeJS.ProcessEnv => ({ ...process.env, CDC_FANOUT_STATE_DIR: stateDir, CDC_ADMIN_URL: '', CDC_ADMIN_PORT: String(NO_DAEMON_PORT), CDC_LOG_LEVEL: 'warn' });

function cli(args: string[], cfg = cfgDir): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'rebuild', T, '-c', cfg, ...args], { env: cliEnv(), timeout: 400_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function rebuildState(): Promise<RebuildState | null> {
  const text = await redis.get(`cdc:rebuild:${GROUP}`);
  return text === null ? null : (JSON.parse(text) as RebuildState);
}

async function rebuildKilledWhen(what: string, when: () => Promise<boolean>, args: string[]): Promise<void> {
  const child = spawn(process.execPath, [bin, 'rebuild', T, '-c', cfgDir, '--sink', 'cache', ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  await waitFor(`${what} (rebuild output so far: ${out})`, async () => done || (await when()), 240_000, 50);
  expect(done, `the rebuild ended before it could be killed ${what}:\n${out}`).toBe(false);
  child.kill('SIGKILL');
  await exited;
}

async function scanCount(pattern: string): Promise<number> {
  let n = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

interface Row {
  id: number;
  name: string;
  qty: number;
}

const rowKey = (ns: string | null, id: number): string => `${ns === null ? '' : `${ns}:`}${ROW}${id}`;

/** Key-by-key differences between Postgres and the generation the pointer names (empty = equal), plus the key count. */
async function reconcile(): Promise<string[]> {
  const ns = await redis.get(POINTER);
  const rows = (await db.query<Row>(`SELECT id, name, qty FROM public.${T} ORDER BY id`)).rows;
  const values = rows.length ? await redis.mget(...rows.map((r) => rowKey(ns, r.id))) : [];
  const out: string[] = [];
  rows.forEach((r, i) => {
    const v = values[i];
    if (!v) out.push(`missing ${r.id}`);
    else {
      const d = JSON.parse(v) as Row;
      if (d.name !== r.name || d.qty !== r.qty) out.push(`stale ${r.id}: pg ${JSON.stringify(r)} redis ${v}`);
    }
  });
  // Deleted rows' keys are gone: the namespace holds exactly one row key per Postgres row (plus the
  // application's own key when the namespace is generation 0's plain one).
  const keys = (await scanCount(`${ns === null ? '' : `${ns}:`}${ROW}*`)) - (ns === null ? 1 : 0);
  if (keys !== rows.length) out.push(`${keys} row keys in ${ns ?? 'generation 0'}, ${rows.length} rows in Postgres`);
  return out;
}

const writers: { stop: () => Promise<number> }[] = [];
const readers: { stop: () => Promise<unknown> }[] = [];

/** Live writes: updates of base rows (qty only grows), inserts and deletes of extra rows (ids > BASE). */
function startWriter(): { stop: () => Promise<number> } {
  let running = true;
  let n = 0;
  const loop = (async () => {
    const w = new pg.Client({ connectionString: ep.postgresUrl });
    await w.connect();
    try {
      while (running) {
        const id = 1 + Math.floor(Math.random() * BASE);
        const extra = BASE + 1 + Math.floor(Math.random() * 200);
        await w.query('BEGIN');
        await w.query(`UPDATE public.${T} SET qty = qty + 1, name = 'upd ' || $1::text WHERE id = $2`, [n, id]);
        if (n % 3 === 0) await w.query(`INSERT INTO public.${T} (id, name, qty) VALUES ($1, 'extra', 0) ON CONFLICT (id) DO UPDATE SET qty = public.${T}.qty + 1`, [extra]);
        if (n % 5 === 0) await w.query(`DELETE FROM public.${T} WHERE id = $1`, [BASE + 1 + Math.floor(Math.random() * 200)]);
        await w.query('COMMIT');
        n++;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await w.end();
    }
  })();
  const handle = {
    stop: async () => {
      running = false;
      await loop;
      return n;
    },
  };
  writers.push(handle);
  return handle;
}

interface ReadStats {
  reads: number;
  /** Reads that lacked a base row (a partial generation). */
  partial: string[];
  /** A base row whose qty was lower than an earlier read had seen (a generation behind the one before). */
  regressions: string[];
  errors: string[];
  namespaces: Set<string>;
}

/** The reader contract: GET the pointer, then the keys in the namespace it names (plain keys when absent). */
function startReader(): { stop: () => Promise<ReadStats> } {
  let running = true;
  const stats: ReadStats = { reads: 0, partial: [], regressions: [], errors: [], namespaces: new Set() };
  const seen = new Map<number, number>();
  const loop = (async () => {
    const r = new Redis(ep.redisUrl);
    try {
      while (running) {
        try {
          const ns = await r.get(POINTER);
          const ids = Array.from({ length: BASE }, (_, i) => i + 1);
          const values = await r.mget(...ids.map((id) => rowKey(ns, id)));
          stats.reads++;
          stats.namespaces.add(ns ?? '(generation 0)');
          const missing = ids.filter((_, i) => !values[i]);
          if (missing.length > 0) stats.partial.push(`${ns ?? 'generation 0'}: ${missing.length} base rows missing, e.g. ${missing.slice(0, 3).join(', ')}`);
          values.forEach((v, i) => {
            if (!v) return;
            const id = ids[i]!;
            const qty = (JSON.parse(v) as Row).qty;
            const before = seen.get(id) ?? 0;
            if (qty < before) stats.regressions.push(`row ${id}: qty ${qty} after ${before} (${ns ?? 'generation 0'})`);
            else seen.set(id, qty);
          });
        } catch (e) {
          stats.errors.push((e as Error).message);
        }
        await new Promise((res) => setTimeout(res, 10));
      }
    } finally {
      r.disconnect();
    }
  })();
  const handle = {
    stop: async () => {
      running = false;
      await loop;
      return stats;
    },
  };
  readers.push(handle);
  return handle;
}

const sourceYaml = (): string => `source:
  topic.prefix: ${T}
  database.hostname: ${pgUrl.hostname}
  database.port: ${pgUrl.port || 5432}
  database.user: ${decodeURIComponent(pgUrl.username || 'postgres')}
${pgUrl.password ? `  database.password: "${decodeURIComponent(pgUrl.password)}"\n` : ''}  database.dbname: ${pgUrl.pathname.slice(1) || 'postgres'}
  slot.name: ${T}_slot
  publication.name: ${T}_pub
  publication.autocreate.mode: filtered
  table.include.list: public\\.${T}
  max.batch.wait.ms: 20
kafka:
  bootstrap.servers: ${ep.kafkaBrokers.join(',')}
  topic.creation.partitions: 3
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cdc-fanout-rebuild-redis-'));
  stateDir = join(dir, 'state');
  cfgDir = join(dir, 'connectors');
  mkdirSync(cfgDir);
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${T} (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`);
  await db.query(`INSERT INTO public.${T} (id, name, qty) SELECT g, 'row ' || g, g FROM generate_series(1, ${BASE}) g`);
  for (const k of APP_KEYS) await redis.set(k, 'application');
  writeFileSync(
    join(cfgDir, 'p.yaml'),
    `name: ${T}
${sourceYaml()}sinks:
  - name: cache
    type: redis
    url: ${ep.redisUrl}
    tables: [public.${T}]
    table.overrides:
      public.${T}: { keys: ["${ROW}{id}", "${T}:name:{name}"], mode: write-through }
    batch.max.records: 20
    batch.max.wait.ms: 20
`,
  );
}, 60_000);

afterAll(async () => {
  for (const h of [...writers, ...readers]) await h.stop().catch(() => undefined);
  await daemon?.stop('SIGKILL');
  // The killed daemon's walsender may hold the slot for a moment: retry until it is gone.
  await waitFor(
    `replication slot ${T}_slot dropped`,
    async () => {
      await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [`${T}_slot`]);
      return (await db.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [`${T}_slot`])).rowCount === 0;
    },
    15_000,
    500,
  ).catch(() => undefined);
  await db.query(`DROP PUBLICATION IF EXISTS ${T}_pub`).catch(() => undefined);
  await db.query(`DROP TABLE IF EXISTS public.${T}`).catch(() => undefined);
  await db.end();
  const hash = createHash('sha256').update(GROUP).digest('hex').slice(0, 6);
  for (const pattern of [`*${T}*`, `g*-${hash}:*`, `cdc:ver@g*-${hash}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  redis.disconnect();
  const kafka = new Kafka({ brokers: [...ep.kafkaBrokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(T));
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(T));
  if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('rebuild (redis)', () => {
  it('refuses an invalidate-only sink and --tables, saying why', async () => {
    const other = join(dir, 'invalidate');
    mkdirSync(other);
    writeFileSync(
      join(other, 'p.yaml'),
      `name: ${T}
${sourceYaml()}sinks:
  - name: inval
    type: redis
    url: ${ep.redisUrl}
    tables: [public.${T}]
    table.overrides:
      public.${T}: { keys: ["${T}:inval:{id}"] }
`,
    );
    const inval = await cli(['--sink', 'inval'], other);
    expect(inval.code).toBe(1);
    expect(inval.stderr).toContain('has no write-through tables');
    expect(inval.stderr).toContain('there is no generation to rebuild');
    const tables = await cli(['--sink', 'cache', '--tables', `public.${T}`]);
    expect(tables.code).toBe(1);
    expect(tables.stderr).toContain('run the rebuild without --tables');
    expect(await redis.exists(`cdc:rebuild:${GROUP}`, `cdc:rebuild:cdc-fanout.${T}.inval`)).toBe(0);
  }, 60_000);

  it('under live writes: readers through the pointer always see a complete generation that never steps back, kill -9 resumes, equal to Postgres', { timeout: 900_000 }, async () => {
    daemon = await startDaemon(cfgDir, { CDC_FANOUT_STATE_DIR: stateDir });
    await waitFor(`${BASE} rows in Redis`, async () => (await scanCount(`${ROW}*`)) >= BASE + 1, 180_000);
    expect(await redis.exists(POINTER)).toBe(0); // generation 0: plain keys

    const writer = startWriter();
    const reader = startReader();
    const ns1 = generationNamespace(GROUP, 1);

    // Run 1: killed while building (its namespace has rows, the pointer still names generation 0).
    await rebuildKilledWhen('while building', async () => (await rebuildState())?.phase === 'building' && (await scanCount(`${ns1}:${ROW}*`)) > 100, ['--grace', '4000']);
    expect((await rebuildState())?.phase).toBe('building');
    expect(await redis.exists(POINTER)).toBe(0);
    // Run 2: resumes (the same generation), killed in the grace period after the flip.
    await rebuildKilledWhen('in the grace period', async () => (await rebuildState())?.phase === 'retiring', ['--grace', '60000']);
    expect(await rebuildState()).toMatchObject({ generation: 1, phase: 'retiring', swaps: [{ name: POINTER, generation: ns1, previous: [], legacy: true }] });
    expect(await redis.get(POINTER)).toBe(ns1);
    // Run 3: resumes in the grace period (the stored deadline) and drops generation 0.
    const r3 = await cli(['--sink', 'cache', '--grace', '0']);
    expect(r3.stderr).toBe('');
    expect(r3.code).toBe(0);
    expect(r3.stdout).toContain('generation 1 is live (resumed)');
    expect((await rebuildState())?.phase).toBe('done');
    // Generation 0's rows and versions are gone; the application's keys are not.
    expect(await scanCount(`cdc:ver@${GROUP}:*`)).toBe(0);
    expect(await scanCount(`${ROW}*`)).toBe(1);
    expect(await redis.mget(...APP_KEYS)).toEqual(['application', 'application']);
    expect(await redis.exists(`cdc:offsets:${GROUP}.rebuild.g1`)).toBe(0);

    // The live sink writes generation 1.
    const changes = await writer.stop();
    expect(changes).toBeGreaterThan(0);
    await waitFor('generation 1 equal to Postgres', async () => (await reconcile()).length === 0, 120_000, 1000);

    // A second rebuild under writes and reads: namespace → namespace, generation 1 dropped after the grace period.
    const writer2 = startWriter();
    const r4 = await cli(['--sink', 'cache', '--grace', '3000']);
    expect(r4.code, r4.stderr).toBe(0);
    expect(r4.stdout).toContain('generation 2 is live');
    await writer2.stop();
    const ns2 = generationNamespace(GROUP, 2);
    expect(await redis.get(POINTER)).toBe(ns2);
    expect(await scanCount(`${ns1}:*`)).toBe(0);
    expect(await scanCount(`cdc:ver@${ns1}:*`)).toBe(0);
    await waitFor('generation 2 equal to Postgres', async () => (await reconcile()).length === 0, 120_000, 1000);
    expect(await reconcile()).toEqual([]);

    const seen = await reader.stop();
    console.log(`rebuild redis: ${changes} writer transactions during the first rebuild; reader ${seen.reads} reads over ${[...seen.namespaces].join(' → ')}; partial ${seen.partial.length}, regressions ${seen.regressions.length}, errors ${seen.errors.length}`);
    expect(seen.errors).toEqual([]);
    expect(seen.partial).toEqual([]);
    expect(seen.regressions.slice(0, 10)).toEqual([]);
    expect(seen.reads).toBeGreaterThan(100);
    expect([...seen.namespaces]).toEqual(['(generation 0)', ns1, ns2]);
  });
});
