// `cdc-fanout rebuild --from snapshot` on the real stack, for Elasticsearch and ClickHouse (the
// stack's 18.16), under live writes, on a data topic with `cleanup.policy: delete` whose history is
// gone: after the sinks streamed the table, every record of the topic is deleted (DeleteRecords up to
// the high watermark — what retention does to old segments), so offset 0 of the topic holds nothing
// of the table's base rows and a rebuild `--from log` could not recover them. The rebuild requests an
// incremental snapshot through the signal table, feeds the new generation from the topics' ends plus
// that snapshot, and swaps. The Elasticsearch rebuild is killed (SIGKILL) after it requested the
// snapshot and resumed. Both targets then equal Postgres row by row, and Elasticsearch readers never
// saw fewer than BASE documents.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { generationSuffix as chSuffix } from '../../src/sinks/clickhouse/generations.js';
import { generationSuffix as esSuffix } from '../../src/sinks/elasticsearch/generations.js';
import type { RebuildState } from '../../src/sinks/generations.js';
import { freePort } from '../support/ports.js';
import { startDaemon, waitFor, type DaemonProcess } from './helpers.js';

const ep = endpoints();
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const T = `rbs_${run}`;
const TOPIC = `${T}.public.${T}`;
const INDEX = TOPIC;
const CHECKPOINTS = `cdc-fanout-checkpoints-${T}`;
const ES_GROUP = `cdc-fanout.${T}.search`;
const CH_GROUP = `cdc-fanout.${T}.warehouse`;
const DB = T;
const TABLE = `public_${T}`;
const BASE = 1500;
const pgUrl = new URL(ep.postgresUrl);
const NO_DAEMON_PORT = await freePort();
const bin = join(import.meta.dirname, '..', '..', 'bin', 'cdc-fanout.js');
const es = new Client({ node: ep.elasticsearchUrl });
const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });
const kafka = new Kafka({ brokers: [...ep.kafkaBrokers], logLevel: logLevel.NOTHING });

let dir: string;
let stateDir: string;
let cfgDir: string;
let db: pg.Client;
let daemon: DaemonProcess | undefined;
const stoppers: { stop: () => Promise<unknown> }[] = [];

const cliEnv = (): NodeJS.ProcessEnv => ({ ...process.env, CDC_FANOUT_STATE_DIR: stateDir, CDC_ADMIN_URL: '', CDC_ADMIN_PORT: String(NO_DAEMON_PORT), CDC_LOG_LEVEL: 'warn' });
const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: cliEnv(), timeout: 600_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
const query = async <R>(sql: string): Promise<R[]> => (await (await ch.query({ query: sql, format: 'JSONEachRow' })).json()) as R[];

async function esState(): Promise<RebuildState | null> {
  const res = await es.get<{ rebuild?: RebuildState }>({ index: CHECKPOINTS, id: `rebuild|${ES_GROUP}` }).catch(() => null);
  return res?._source?.rebuild ?? null;
}
async function chState(): Promise<RebuildState | null> {
  const r = await query<{ s: string }>(`SELECT argMax(state, updated_at) AS s FROM ${DB}.cdc_fanout_checkpoints_generations WHERE group = '${CH_GROUP}' GROUP BY group`).catch(() => []);
  return r[0] ? (JSON.parse(r[0].s) as RebuildState) : null;
}

interface Row {
  id: number;
  name: string;
  qty: number;
}

async function pgRows(): Promise<Row[]> {
  return (await db.query<Row>(`SELECT id, name, qty FROM public.${T} ORDER BY id`)).rows;
}
function diff(rows: Row[], docs: Map<number, Partial<Row>>): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const d = docs.get(r.id);
    if (!d) out.push(`missing ${r.id}`);
    else if (d.name !== r.name || Number(d.qty) !== r.qty) out.push(`stale ${r.id}: pg ${JSON.stringify(r)} target ${JSON.stringify(d)}`);
  }
  const ids = new Set(rows.map((r) => r.id));
  for (const id of docs.keys()) if (!ids.has(id)) out.push(`extra ${id}`);
  return out;
}
async function reconcileEs(): Promise<string[]> {
  await es.indices.refresh({ index: INDEX });
  const docs = new Map<number, Partial<Row>>();
  let page = await es.search<Partial<Row>>({ index: INDEX, size: 5000, scroll: '1m', query: { match_all: {} } });
  while (page.hits.hits.length > 0) {
    for (const h of page.hits.hits) docs.set(Number(h._id), h._source ?? {});
    page = await es.scroll<Partial<Row>>({ scroll_id: page._scroll_id!, scroll: '1m' });
  }
  return diff(await pgRows(), docs);
}
async function reconcileCh(): Promise<string[]> {
  const docs = new Map((await query<Row>(`SELECT id, name, qty FROM ${DB}.${TABLE}_current`)).map((r) => [Number(r.id), r]));
  return diff(await pgRows(), docs);
}

function startWriter(): { stop: () => Promise<number> } {
  let running = true;
  let n = 0;
  const loop = (async () => {
    const w = new pg.Client({ connectionString: ep.postgresUrl });
    await w.connect();
    try {
      while (running) {
        const id = 1 + Math.floor(Math.random() * BASE);
        await w.query('BEGIN');
        await w.query(`UPDATE public.${T} SET qty = qty + 1, name = 'upd ' || $1::text WHERE id = $2`, [n, id]);
        if (n % 3 === 0) await w.query(`INSERT INTO public.${T} (id, name, qty) VALUES ($1, 'extra', 0) ON CONFLICT (id) DO UPDATE SET qty = public.${T}.qty + 1`, [BASE + 1 + Math.floor(Math.random() * 200)]);
        if (n % 5 === 0) await w.query(`DELETE FROM public.${T} WHERE id = $1`, [BASE + 1 + Math.floor(Math.random() * 200)]);
        await w.query('COMMIT');
        n++;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await w.end();
    }
  })();
  const handle = { stop: async () => ((running = false), await loop, n) };
  stoppers.push(handle);
  return handle;
}

function startReader(): { stop: () => Promise<{ reads: number; min: number; errors: string[] }> } {
  let running = true;
  let reads = 0;
  let min = Number.POSITIVE_INFINITY;
  const errors: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        const { count } = await es.count({ index: INDEX });
        reads++;
        min = Math.min(min, count);
      } catch (e) {
        errors.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const handle = { stop: async () => ((running = false), await loop, { reads, min, errors }) };
  stoppers.push(handle);
  return handle;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cdc-fanout-rebuild-snap-'));
  stateDir = join(dir, 'state');
  cfgDir = join(dir, 'connectors');
  mkdirSync(cfgDir);
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${T} (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`);
  await db.query(`INSERT INTO public.${T} (id, name, qty) SELECT g, 'row ' || g, g FROM generate_series(1, ${BASE}) g`);
  const source = `source:
  topic.prefix: ${T}
  database.hostname: ${pgUrl.hostname}
  database.port: ${pgUrl.port || 5432}
  database.user: ${decodeURIComponent(pgUrl.username || 'postgres')}
${pgUrl.password ? `  database.password: "${decodeURIComponent(pgUrl.password)}"\n` : ''}  database.dbname: ${pgUrl.pathname.slice(1) || 'postgres'}
  slot.name: ${T}_slot
  publication.name: ${T}_pub
  publication.autocreate.mode: filtered
  table.include.list: public\\.${T}
  topic.cleanup.policy: delete
  max.batch.wait.ms: 20
`;
  const rest = `kafka:
  bootstrap.servers: ${ep.kafkaBrokers.join(',')}
  topic.creation.partitions: 3
sinks:
  - name: search
    type: elasticsearch
    url: ${ep.elasticsearchUrl}
    tables: [public.${T}]
    checkpoint.index: ${CHECKPOINTS}
    batch.max.records: 20
    batch.max.wait.ms: 20
  - name: warehouse
    type: clickhouse
    url: ${ep.clickhouseUrl}
    database: ${DB}
    tables: [public.${T}]
    batch.max.records: 20
    batch.max.wait.ms: 20
`;
  writeFileSync(join(cfgDir, 'p.yaml'), `name: ${T}\n${source}  signal.data.collection: public.${T}_signal\n${rest}`);
  // The same pipeline without a signal table, for the error check (never run).
  mkdirSync(join(dir, 'nosignal'));
  writeFileSync(join(dir, 'nosignal', 'p.yaml'), `name: ${T}\n${source}${rest}`);
}, 60_000);

afterAll(async () => {
  for (const h of stoppers) await h.stop().catch(() => undefined);
  await daemon?.stop('SIGKILL');
  await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [`${T}_slot`]).catch(() => undefined);
  await db.query(`DROP PUBLICATION IF EXISTS ${T}_pub`).catch(() => undefined);
  await db.query(`DROP TABLE IF EXISTS public.${T}`).catch(() => undefined);
  await db.query(`DROP TABLE IF EXISTS public.${T}_signal`).catch(() => undefined);
  await db.end();
  await es.indices.delete({ index: [`${INDEX}*`, CHECKPOINTS], ignore_unavailable: true }).catch(() => undefined);
  await ch.command({ query: `DROP DATABASE IF EXISTS ${DB}` }).catch(() => undefined);
  await ch.close();
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(T));
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(T));
  if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('rebuild --from snapshot', () => {
  it('rebuilds Elasticsearch and ClickHouse from a fresh snapshot when the delete-retention topic lost its history, under live writes, equal to Postgres', { timeout: 1_200_000 }, async () => {
    const noSignal = await cli(['rebuild', T, '-c', join(dir, 'nosignal'), '--sink', 'search', '--from', 'snapshot']);
    expect(noSignal.code).toBe(1);
    expect(noSignal.stderr).toContain('--from snapshot needs source.signal.data.collection');

    daemon = await startDaemon(cfgDir, { CDC_FANOUT_STATE_DIR: stateDir });
    await waitFor(`${BASE} documents and rows`, async () =>
      (await es.indices.exists({ index: INDEX })) && (await es.count({ index: INDEX })).count >= BASE &&
      Number((await query<{ n: string }>(`SELECT count() AS n FROM ${DB}.${TABLE}_current`).catch(() => []))[0]?.n ?? 0) >= BASE, 180_000);

    const writer = startWriter();
    const reader = startReader();
    await new Promise((r) => setTimeout(r, 2000));
    // Retention: everything the topic held so far is gone.
    const admin = kafka.admin();
    await admin.connect();
    const before = await admin.fetchTopicOffsets(TOPIC);
    await admin.deleteTopicRecords({ topic: TOPIC, partitions: before.map((p) => ({ partition: p.partition, offset: p.high })) });
    const after = await admin.fetchTopicOffsets(TOPIC);
    await admin.disconnect();
    for (const p of after) expect(BigInt(p.low)).toBeGreaterThanOrEqual(BigInt(before.find((b) => b.partition === p.partition)!.high));
    const lost = before.reduce((s, p) => s + Number(p.high), 0);
    expect(lost).toBeGreaterThanOrEqual(BASE);

    // Elasticsearch: killed once the snapshot was requested (building), then resumed.
    const child = spawn(process.execPath, [bin, 'rebuild', T, '-c', cfgDir, '--sink', 'search', '--from', 'snapshot', '--grace', '0'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let ended = false;
    void exited.then(() => (ended = true));
    await waitFor(`the ES rebuild requested its snapshot (output so far: ${out})`, async () => ended || (await esState())?.snapshot?.signal !== undefined, 240_000, 100);
    expect(ended, `the rebuild ended before it could be killed:\n${out}`).toBe(false);
    child.kill('SIGKILL');
    await exited;
    const killed = await esState();
    expect(killed).toMatchObject({ generation: 1, phase: 'building', from: 'snapshot', snapshot: { tables: [`public.${T}`] } });
    // The generation starts at the topics' ends of before the request, not at offset 0.
    for (const o of killed?.snapshot?.startAt ?? []) expect(BigInt(o.offset)).toBeGreaterThanOrEqual(BigInt(after.find((p) => p.partition === o.partition)!.low));

    // Resuming with another --from is refused.
    const wrong = await cli(['rebuild', T, '-c', cfgDir, '--sink', 'search', '--from', 'log']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('--from snapshot to resume it');

    const r2 = await cli(['rebuild', T, '-c', cfgDir, '--sink', 'search', '--from', 'snapshot', '--grace', '0']);
    expect(r2.stderr).toBe('');
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain('generation 1 is live (resumed)');
    expect(Object.keys(await es.indices.get({ index: INDEX }))).toEqual([`${INDEX}${esSuffix(ES_GROUP, 1)}`]);

    // ClickHouse, writes still running.
    const r3 = await cli(['rebuild', T, '-c', cfgDir, '--sink', 'warehouse', '--from', 'snapshot', '--grace', '0']);
    expect(r3.stderr).toBe('');
    expect(r3.code).toBe(0);
    expect(r3.stdout).toContain('generation 1 is live');
    expect(await chState()).toMatchObject({ generation: 1, phase: 'done', from: 'snapshot', snapshot: { done: true } });
    const gen1 = `${TABLE}${chSuffix(CH_GROUP, 1)}`;
    expect((await query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${DB}' AND name = '${gen1}'`)).length).toBe(0);

    const changes = await writer.stop();
    expect(changes).toBeGreaterThan(0);
    await waitFor('Elasticsearch equal to Postgres', async () => (await reconcileEs()).length === 0, 120_000, 1000);
    await waitFor('ClickHouse equal to Postgres', async () => (await reconcileCh()).length === 0, 120_000, 1000);
    expect(await reconcileEs()).toEqual([]);
    expect(await reconcileCh()).toEqual([]);
    // (After the contents: a rebuild that skipped the snapshot must fail on them, not only on its output.)
    expect(r3.stdout).toMatch(/snapshot of public\.\S+: \d+ of ~\d+ rows read|waiting for the daemon to start the snapshot/);
    const seen = await reader.stop();
    console.log(`rebuild --from snapshot: ${lost} records deleted from the topic, ${changes} writer transactions; ES reader ${seen.reads} reads, min ${seen.min}, errors ${seen.errors.length}`);
    expect(seen.errors).toEqual([]);
    expect(seen.min).toBeGreaterThanOrEqual(BASE);
  });
});
