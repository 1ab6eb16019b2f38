// Table lifecycle end to end (issue 20.2), as a user runs it: `cdc-fanout run` with one pipeline
// whose source selects `public\.<run>_.*` and three sinks that name no tables (Elasticsearch and
// ClickHouse follow the source's selection; Redis through `table.default`), on the real services.
// Tables that start matching — while the daemon streams, across a restart, and with a kill -9 in
// the middle of their snapshot — must reach Kafka and every sink with no config edit, each row
// reconciled against Postgres, including rows updated, deleted and inserted during the snapshot.
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { consume } from '../source/helpers.js';
import { waitFor, type DaemonProcess } from './helpers.js';

const ep = endpoints();
const run = `lc_${Date.now().toString(36)}`;
const T = { a: `${run}_a`, b: `${run}_b`, c: `${run}_c`, d: `${run}_d` } as const;
const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });
const REDIS_DB = 12;
const REDIS_URL = `${ep.redisUrl.replace(/\/\d*$/, '')}/${REDIS_DB}`;

let h: DaemonHarness;
let db: pg.Client;
let redis: Redis;

type Rows = Map<number, number>; // id → v

const yaml = pipelineYaml({
  name: run,
  tables: `'public\\.${run}_.*'`,
  source: ['snapshot.fetch.size: 50', 'table.discovery.interval.ms: 1000', 'table.removal.mode: truncate'],
  sinks: `  - name: search
    type: elasticsearch
    url: ${ep.elasticsearchUrl}
    topics.discovery.interval.ms: 1000
  - name: analytics
    type: clickhouse
    url: ${ep.clickhouseUrl}
    database: ${run}
    topics.discovery.interval.ms: 1000
  - name: cache
    type: redis
    url: ${REDIS_URL}
    topics.discovery.interval.ms: 1000
    truncate.mode: delete
    table.default: { keys: ["${run}:{table}:{id}"], mode: write-through }
`,
});

async function createTable(t: string, rows: number): Promise<void> {
  await db.query(`CREATE TABLE public.${t} (id int PRIMARY KEY, v int NOT NULL, note text)`);
  await db.query(`INSERT INTO public.${t} SELECT g, 0, 'row ' || g FROM generate_series(1, $1::int) g`, [rows]);
}

async function pgRows(t: string): Promise<Rows> {
  const r = await db.query<{ id: number; v: number }>(`SELECT id, v FROM public.${t}`);
  return new Map(r.rows.map((x) => [x.id, x.v]));
}

/** Concurrent writes to `t` until stopped: updates (v+1), deletes and inserts of random rows. */
function churn(t: string, maxId: number): { stop: () => Promise<number> } {
  let stopped = false;
  let n = 0;
  const c = new pg.Client({ connectionString: ep.postgresUrl });
  const done = (async () => {
    await c.connect();
    let next = maxId + 1;
    while (!stopped) {
      const id = 1 + Math.floor(Math.random() * maxId);
      const k = n % 10;
      if (k === 7) await c.query(`DELETE FROM public.${t} WHERE id = $1`, [id]);
      else if (k === 8) await c.query(`INSERT INTO public.${t} VALUES ($1, 1, 'new') ON CONFLICT DO NOTHING`, [next++]);
      else await c.query(`UPDATE public.${t} SET v = v + 1 WHERE id = $1`, [id]);
      n++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await c.end();
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return n;
    },
  };
}

function diff(want: Rows, got: Rows): string[] {
  const out: string[] = [];
  for (const [id, v] of want) if (got.get(id) !== v) out.push(`id ${id}: postgres v=${v}, sink ${got.has(id) ? `v=${got.get(id)}` : 'missing'}`);
  for (const id of got.keys()) if (!want.has(id)) out.push(`id ${id}: in the sink, not in postgres`);
  return out;
}

/**
 * Latest state per key in the table's topic (read_committed): per key the event with the highest
 * position (headers cdc.commit_lsn, cdc.seq; offset order among equals), deletes removing the row.
 * Not the last by offset: a snapshot row (versioned at its consistent point) may follow newer
 * streamed changes of its key in the partition — consumers compare positions, as the sinks do.
 */
async function kafkaRows(t: string, want: Rows): Promise<Rows> {
  // Incremental: the predicate runs per record, so it only looks at the records added since.
  const newest = new Map<number, { lsn: bigint; seq: number; v: number | null }>();
  let seen = 0;
  // Ids whose newest Kafka state differs from Postgres (starts as every row: none read yet).
  const bad = new Set(want.keys());
  await consume(
    [`${run}.public.${t}`],
    (recs) => {
      for (; seen < recs.length; seen++) {
        const r = recs[seen]!;
        if (!r.key || r.json === null) continue; // tombstones follow their delete
        const id = (JSON.parse(r.key) as { id: number }).id;
        const lsn = BigInt(r.headers['cdc.commit_lsn'] ?? '0');
        const seq = Number(r.headers['cdc.seq'] ?? '0');
        const prev = newest.get(id);
        if (prev && (lsn < prev.lsn || (lsn === prev.lsn && seq < prev.seq))) continue;
        const after = r.json.after as { v: number } | null | undefined;
        const v = r.json.op === 'd' || !after ? null : after.v;
        newest.set(id, { lsn, seq, v });
        if ((want.get(id) ?? null) === v) bad.delete(id);
        else bad.add(id);
      }
      return bad.size === 0;
    },
    // Generous: after a kill -9 the stream re-decodes every database's WAL since its last confirm,
    // which on the shared test machine can be hundreds of MB.
    300_000,
  );
  return new Map([...newest].flatMap(([id, x]) => (x.v === null ? [] : [[id, x.v] as [number, number]])));
}

async function esRows(t: string): Promise<Rows> {
  const index = `${run}.public.${t}`.toLowerCase();
  await fetch(`${ep.elasticsearchUrl}/${index}/_refresh`, { method: 'POST' });
  const res = await fetch(`${ep.elasticsearchUrl}/${index}/_search?size=10000`);
  if (!res.ok) return new Map();
  const body = (await res.json()) as { hits: { hits: { _source: { id: number; v: number } }[] } };
  return new Map(body.hits.hits.map((h) => [h._source.id, h._source.v]));
}

async function chRows(t: string): Promise<Rows> {
  const rs = await ch.query({ query: `SELECT id, v FROM ${run}.public_${t} FINAL WHERE _deleted = 0`, format: 'JSONEachRow' });
  return new Map((await rs.json<{ id: number; v: number }>()).map((r) => [Number(r.id), Number(r.v)]));
}

async function redisRows(t: string): Promise<Rows> {
  const out: Rows = new Map();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${run}:${t}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const values = await redis.mget(...keys);
    values.forEach((v) => {
      if (v === null) return;
      const row = JSON.parse(v) as { id: number; v: number };
      out.set(row.id, row.v);
    });
  } while (cursor !== '0');
  return out;
}

/** Every sink (and the topic) equals Postgres for table t, row by row. */
async function reconciled(t: string): Promise<void> {
  const want = await pgRows(t);
  expect(diff(want, await kafkaRows(t, want)), `kafka ${t}`).toEqual([]);
  const sinks: [string, (t: string) => Promise<Rows>][] = [
    ['elasticsearch', esRows],
    ['clickhouse', chRows],
    ['redis', redisRows],
  ];
  for (const [name, read] of sinks) {
    let last: string[] = [];
    await waitFor(
      `${name} to equal postgres for ${t}`,
      async () => {
        last = diff(want, await read(t).catch(() => new Map<number, number>()));
        return last.length === 0;
      },
      180_000,
      1000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}; first differences: ${last.slice(0, 5).join('; ')} (${last.length} in all)`);
    });
  }
}

const logged = (d: DaemonProcess, text: string): boolean => d.output().includes(text);

beforeAll(async () => {
  h = await DaemonHarness.create({ name: run, tmpPrefix: 'cdc-fanout-lifecycle-' });
  h.writeConfig(yaml);
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  redis = new Redis(REDIS_URL);
  await createTable(T.a, 200);
}, 60_000);

afterAll(async () => {
  await db.end();
  redis.disconnect();
  await ch.close();
  await h.cleanup({
    slots: [`${run}_slot_tables`],
    tables: Object.values(T).map((t) => `public.${t}`),
    topicPrefix: `${run}.`,
    indices: Object.values(T).map((t) => `${run}.public.${t}`),
    clickhouse: { databases: [run] },
    redis: { url: REDIS_URL, patterns: [`${run}:*`, `cdc:ver@cdc-fanout.${run}.*`], keys: [`cdc:offsets:cdc-fanout.${run}.cache`] },
  });
}, 120_000);

describe('table lifecycle: tables that start matching reach Kafka and every sink', () => {
  it('the initial table flows to the sinks that name no tables', async () => {
    await h.start();
    await reconciled(T.a);
  }, 300_000);

  it('a table created while streaming is detected, snapshotted under concurrent writes, and reconciles', async () => {
    const d = h.running();
    await createTable(T.b, 2000);
    // Writes start before the table is detected and go on through its snapshot (20 chunks).
    const writes = churn(T.b, 2000);
    await waitFor('the snapshot of the new table', async () => logged(d, `snapshot of new tables done: public.${T.b}`), 180_000, 200);
    const n = await writes.stop();
    expect(n).toBeGreaterThan(0);
    expect(logged(d, `table public.${T.b} now matches the table selection (while streaming)`)).toBe(true);
    await reconciled(T.b);
    await reconciled(T.a);
  }, 400_000);

  it('a table created while the daemon is stopped is snapshotted at the next start', async () => {
    expect(await h.stop()).toBe(0);
    await createTable(T.c, 500);
    const d = await h.start();
    const writes = churn(T.c, 500);
    await waitFor('the snapshot of the table found at start-up', async () => logged(d, `snapshot of new tables done: public.${T.c}`), 180_000, 200);
    await writes.stop();
    expect(logged(d, `table public.${T.c} now matches the table selection (at start-up)`)).toBe(true);
    await reconciled(T.c);
  }, 400_000);

  it('kill -9 between the publication add and the end of the snapshot: the next start still converges', async () => {
    const d = h.running();
    const key = `${run}:tables`;
    let killed = false;
    // Killed the moment the offsets topic holds a checkpoint of the new table's unfinished snapshot:
    // the table is in the publication, some of its rows are in Kafka, the rest are not.
    const watching = consume(
      [`${run}.cdc-fanout.offsets`],
      (recs) => {
        const hit = recs.some((r) => {
          if (r.key !== key || !r.json) return false;
          const snap = r.json.snapshot as { completed: boolean; last_key: unknown } | null;
          return ((r.json.run as string[] | null) ?? []).includes(`public.${T.d}`) && snap !== null && !snap.completed && snap.last_key !== null;
        });
        if (hit && !killed) {
          killed = true;
          d.proc.kill('SIGKILL');
        }
        return hit;
      },
      240_000,
    );
    await createTable(T.d, 8000);
    const writes = churn(T.d, 8000);
    await watching;
    await d.exited;
    expect(killed).toBe(true);
    expect(logged(d, `table public.${T.d} now matches the table selection (while streaming)`)).toBe(true);
    expect(logged(d, `snapshot of new tables done: public.${T.d}`)).toBe(false);
    const again = await h.start();
    await waitFor('the resumed snapshot to finish', async () => logged(again, `snapshot of new tables done: public.${T.d}`), 240_000, 200);
    await writes.stop();
    expect(logged(again, 'resuming the snapshot of new tables')).toBe(true);
    await reconciled(T.d);
    for (const t of [T.a, T.b, T.c]) await reconciled(t);
  }, 600_000);

  it('DROP TABLE with table.removal.mode=truncate: every sink removes the table\'s rows; the other tables stay', async () => {
    const d = h.running();
    const sinks: [string, (t: string) => Promise<Rows>][] = [
      ['elasticsearch', esRows],
      ['clickhouse', chRows],
      ['redis', redisRows],
    ];
    // The sinks hold the table's rows before the DROP (else "empty afterwards" proves nothing).
    for (const [name, read] of sinks) expect((await read(T.c)).size, name).toBeGreaterThan(0);
    await db.query(`DROP TABLE public.${T.c}`);
    await waitFor('the truncate of the dropped table', async () => logged(d, `published a TRUNCATE for public.${T.c}`), 120_000, 200);
    expect(logged(d, `table public.${T.c} no longer matches the table selection or was dropped (while streaming)`)).toBe(true);
    const empty = new Map<number, number>();
    for (const [name, read] of sinks) {
      await waitFor(`${name} to hold no row of the dropped table`, async () => diff(empty, await read(T.c)).length === 0, 180_000, 1000);
    }
    for (const t of [T.a, T.b, T.d]) await reconciled(t);
    expect(await h.stop()).toBe(0);
  }, 600_000);
});
