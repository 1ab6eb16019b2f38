/**
 * Incremental snapshot (watermarks) while streaming continues, on the real stack:
 *  - a table streamed with snapshot.mode=never (so Kafka holds only what the incremental snapshot
 *    and the stream put there) is snapshotted in 300-row chunks while a writer updates, deletes and
 *    inserts rows, with a pause and a resume in the middle: folding the topic in Kafka order
 *    (read_committed) gives exactly the table's final rows, row by row — no row lost, none left at
 *    an older value, no deleted row resurrected;
 *  - an `additional-conditions` filter limits the rows read.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafka, kafkaConfig, oneTableSource, pgClient, uniq, waitFor, type ConsumedRecord } from './helpers.js';

const sources: PostgresSource[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  for (const c of cleanups) await c().catch(() => undefined);
});

function setup(tag: string): { id: string; table: string; topic: string } {
  const id = uniq(tag);
  const prefix = id.replace(/_/g, '-');
  cleanups.push(() => cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [`public.${id}`] }));
  return { id, table: `public.${id}`, topic: `${prefix}.public.${id}` };
}

/** Folds change events per key in Kafka order: the state a read_committed consumer ends with. */
function fold(recs: readonly ConsumedRecord[]): Map<number, { ver: number; pad: string }> {
  const state = new Map<number, { ver: number; pad: string }>();
  for (const r of recs) {
    if (!r.json) continue;
    const op = String(r.json.op);
    const after = r.json.after as { id: number; ver: number; pad: string } | null;
    const before = r.json.before as { id: number } | null;
    if (op === 'd') state.delete(before!.id);
    else if (after) state.set(after.id, { ver: after.ver, pad: after.pad });
  }
  return state;
}

/**
 * A `consume` stop condition: true once the topic, folded in Kafka order, equals `expected` (kept
 * incrementally: each new record re-checks only its own key). Partitions are read in parallel, so
 * no single marker record can say "everything before it was read". `row` gives a record's key and
 * value (the value of a delete is ignored).
 */
function converged<K, V>(expected: ReadonlyMap<K, V>, row: (r: Record<string, unknown>) => [K, V]): (recs: readonly ConsumedRecord[]) => boolean {
  const state = new Map<K, V>();
  const wrong = new Set(expected.keys());
  let seen = 0;
  return (recs) => {
    for (; seen < recs.length; seen++) {
      const r = recs[seen]!;
      if (!r.json) continue;
      const [key, value] = row(r.json);
      if (r.json.op === 'd') state.delete(key);
      else state.set(key, value);
      const e = expected.get(key);
      const g = state.get(key);
      if ((e === undefined && g === undefined) || (e !== undefined && g !== undefined && JSON.stringify(e) === JSON.stringify(g))) wrong.delete(key);
      else wrong.add(key);
    }
    return wrong.size === 0;
  };
}

describe('incremental snapshot', () => {
  it('reconciles row by row with concurrent updates, deletes and inserts (pause and resume midway)', async () => {
    const { id, table, topic } = setup('src_incr');
    const ROWS = 6000;
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, ver int NOT NULL, pad text)`);
      await c.query(`INSERT INTO ${table} SELECT g, 0, md5(g::text) FROM generate_series(1, ${ROWS}) g`);
      const source = new PostgresSource(oneTableSource(id, { 'snapshot.mode': 'never', 'incremental.snapshot.chunk.size': 300 }), kafkaConfig, silentLogger);
      sources.push(source);
      await source.start();
      await waitFor(() => source.status().state === 'streaming', 60000, 'streaming');

      // Writer: random updates, deletes and inserts, one row per transaction, until told to stop.
      let writing = true;
      let ops = 0;
      const writer = (async () => {
        const w = await pgClient();
        let next = ROWS + 1;
        try {
          while (writing) {
            const k = 1 + Math.floor(Math.random() * (next - 1));
            const r = Math.random();
            if (r < 0.6) await w.query(`UPDATE ${table} SET ver = ver + 1, pad = md5(random()::text) WHERE id = $1`, [k]);
            else if (r < 0.8) await w.query(`DELETE FROM ${table} WHERE id = $1`, [k]);
            else await w.query(`INSERT INTO ${table} VALUES ($1, 0, 'new')`, [next++]);
            ops++;
          }
        } finally {
          await w.end();
        }
      })();

      const id1 = await source.incrementalSnapshot({ tables: [table] });
      await waitFor(() => (source.status().incremental?.rows ?? 0) > 1000, 120000, 'incremental progress');
      await source.controlSnapshot('pause');
      await waitFor(() => source.status().incremental?.state === 'paused', 30000, 'paused');
      await expect(source.controlSnapshot('pause')).rejects.toThrow(/already paused/);
      await source.controlSnapshot('resume');
      await waitFor(() => source.status().incremental?.state === 'done', 180000, 'incremental snapshot done');
      const st = source.status().incremental!;
      expect(st.id).toBe(id1);
      writing = false;
      await writer;
      expect(ops).toBeGreaterThan(50);

      const expected = new Map((await c.query(`SELECT id, ver, pad FROM ${table}`)).rows.map((r) => [Number(r.id), { ver: Number(r.ver), pad: String(r.pad) }]));
      // Read until Kafka converges to Postgres (or the timeout: then the comparison below shows what differs).
      const recs = await consume([topic], converged(expected, (j) => {
        const row = (j.after ?? j.before) as { id: number; ver: number; pad: string };
        return [row.id, { ver: row.ver, pad: row.pad }];
      }), 120000);
      const got = fold(recs);
      const reads = recs.filter((r) => r.json?.op === 'r');
      expect(reads.length).toBeGreaterThan(ROWS / 2);
      expect(reads.every((r) => (r.json!.source as { snapshot: string }).snapshot === 'incremental')).toBe(true);
      const wrong: string[] = [];
      for (const [k, v] of expected) {
        const g = got.get(k);
        if (!g || g.ver !== v.ver || g.pad !== v.pad) wrong.push(`${k}: pg ${JSON.stringify(v)} kafka ${JSON.stringify(g ?? null)}`);
      }
      for (const k of got.keys()) if (!expected.has(k)) wrong.push(`${k}: deleted in pg, present in kafka`);
      expect(wrong.slice(0, 10)).toEqual([]);
      expect(got.size).toBe(expected.size);
    } finally {
      await c.end();
    }
  }, 400_000);

  it('reads only the rows an additional condition selects; refuses a keyless table and a bad filter', async () => {
    const { id, table, topic } = setup('src_incr_cond');
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, ver int NOT NULL, pad text)`);
      await c.query(`INSERT INTO ${table} SELECT g, 0, 'x' FROM generate_series(1, 1000) g`);
      const source = new PostgresSource(oneTableSource(id, { 'snapshot.mode': 'never', 'incremental.snapshot.chunk.size': 128 }), kafkaConfig, silentLogger);
      sources.push(source);
      await source.start();
      await waitFor(() => source.status().state === 'streaming', 60000, 'streaming');
      await expect(source.incrementalSnapshot({ tables: [table], conditions: { [table]: 'no_such_column > 1' } })).rejects.toThrow(/not a valid filter/);
      await expect(source.incrementalSnapshot({ tables: ['public.nope'] })).rejects.toThrow(/not captured/);
      await source.incrementalSnapshot({ tables: [table], conditions: { [table]: 'id % 10 = 0' } });
      await waitFor(() => source.status().incremental?.state === 'done', 120000, 'done');
      const recs = await consume([topic], (r) => r.length >= 100, 60000);
      const ids = recs.filter((r) => r.json?.op === 'r').map((r) => (r.json!.after as { id: number }).id);
      expect(ids.length).toBe(100);
      expect(ids.every((i) => i % 10 === 0)).toBe(true);
      expect(new Set(ids).size).toBe(100);
    } finally {
      await c.end();
    }
  }, 300_000);

  it('stop ends it at a chunk boundary: the state counts exactly the rows in Kafka; a stopped snapshot cannot be paused', async () => {
    const { id, table, topic } = setup('src_incr_stop');
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, ver int NOT NULL, pad text)`);
      await c.query(`INSERT INTO ${table} SELECT g, 0, 'x' FROM generate_series(1, 20000) g`);
      const source = new PostgresSource(oneTableSource(id, { 'snapshot.mode': 'never', 'incremental.snapshot.chunk.size': 100 }), kafkaConfig, silentLogger);
      sources.push(source);
      await source.start();
      await waitFor(() => source.status().state === 'streaming', 60000, 'streaming');
      await source.incrementalSnapshot({ tables: [table] });
      await waitFor(() => (source.status().incremental?.rows ?? 0) >= 300, 120000, 'progress');
      await source.controlSnapshot('stop');
      await waitFor(() => source.status().incremental?.state === 'stopped', 60000, 'stopped');
      const rows = source.status().incremental!.rows;
      expect(rows).toBeLessThan(20000);
      await expect(source.controlSnapshot('pause')).rejects.toThrow(/no incremental snapshot is running/);
      const reads = (r: readonly ConsumedRecord[]): number => r.filter((x) => x.json?.op === 'r').length;
      expect(reads(await consume([topic], (r) => reads(r) >= rows, 60000))).toBe(rows);
      // and nothing beyond them (a dropped chunk published anyway would show here)
      expect(reads(await consume([topic], (r) => reads(r) > rows, 5000))).toBe(rows);
    } finally {
      await c.end();
    }
  }, 300_000);

  it('is scoped to its pipeline: another pipeline on the same database (logical messages are database-wide) neither joins it nor publishes its watermarks', async () => {
    const a = setup('src_incr_a');
    const b = setup('src_incr_b');
    const c = await pgClient();
    try {
      for (const t of [a.table, b.table]) {
        await c.query(`CREATE TABLE ${t} (id int PRIMARY KEY, ver int NOT NULL, pad text)`);
        await c.query(`INSERT INTO ${t} SELECT g, 0, 'x' FROM generate_series(1, 500) g`);
      }
      const srcA = new PostgresSource(oneTableSource(a.id, { 'snapshot.mode': 'never', 'incremental.snapshot.chunk.size': 100 }), kafkaConfig, silentLogger);
      const srcB = new PostgresSource(oneTableSource(b.id, { 'snapshot.mode': 'never' }), kafkaConfig, silentLogger);
      sources.push(srcA, srcB);
      await srcA.start();
      await srcB.start();
      await waitFor(() => srcA.status().state === 'streaming' && srcB.status().state === 'streaming', 60000, 'streaming');
      await srcA.incrementalSnapshot({ tables: [a.table] });
      await waitFor(() => srcA.status().incremental?.state === 'done', 120000, 'done');
      // B has seen A's messages once it has seen a later change of its own table
      await c.query(`UPDATE ${b.table} SET ver = 1 WHERE id = 1`);
      await consume([b.topic], (r) => r.some((x) => x.json?.op === 'u'), 60000);
      expect(srcB.status().incremental).toBeNull();
      // (other tests may emit messages of their own into the database: only ours must be absent)
      const messageTopic = `${b.id.replace(/_/g, '-')}.message`;
      const admin = kafka.admin();
      await admin.connect();
      const exists = (await admin.listTopics()).includes(messageTopic);
      await admin.disconnect();
      const msgs = exists ? await consume([messageTopic], () => false, 3000) : [];
      expect(msgs.filter((m) => String((m.json?.message as { prefix?: string } | undefined)?.prefix ?? '').startsWith('cdc-fanout.incremental'))).toEqual([]);
    } finally {
      await c.end();
    }
  }, 300_000);

  it('reconciles a table with a composite text + timestamptz key under concurrent updates and deletes', async () => {
    const { id, table, topic } = setup('src_incr_ck');
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (region text, at timestamptz, ver int NOT NULL, PRIMARY KEY (region, at))`);
      await c.query(`INSERT INTO ${table} SELECT 'r' || (g % 7), timestamptz '2026-01-01 00:00:00.123456+00' + g * interval '1 second', 0 FROM generate_series(1, 3000) g`);
      const source = new PostgresSource(oneTableSource(id, { 'snapshot.mode': 'never', 'incremental.snapshot.chunk.size': 97 }), kafkaConfig, silentLogger);
      sources.push(source);
      await source.start();
      await waitFor(() => source.status().state === 'streaming', 60000, 'streaming');
      let writing = true;
      const writer = (async () => {
        const w = await pgClient();
        try {
          while (writing) {
            const g = 1 + Math.floor(Math.random() * 3000);
            const where = `region = 'r' || (${g} % 7) AND at = timestamptz '2026-01-01 00:00:00.123456+00' + ${g} * interval '1 second'`;
            if (Math.random() < 0.8) await w.query(`UPDATE ${table} SET ver = ver + 1 WHERE ${where}`);
            else await w.query(`DELETE FROM ${table} WHERE ${where}`);
          }
        } finally {
          await w.end();
        }
      })();
      await source.incrementalSnapshot({ tables: [table] });
      await waitFor(() => source.status().incremental?.state === 'done', 180000, 'done');
      writing = false;
      await writer;
      const key = (region: string, at: string): string => `${region}|${new Date(at).toISOString()}`;
      const expected = new Map((await c.query(`SELECT region, at::text AS at, ver FROM ${table}`)).rows.map((r) => [key(String(r.region), String(r.at)), Number(r.ver)]));
      const fold = (recs: readonly ConsumedRecord[]): Map<string, number> => {
        const m = new Map<string, number>();
        for (const r of recs) {
          if (!r.json) continue;
          const row = (r.json.after ?? r.json.before) as { region: string; at: string; ver: number };
          if (r.json.op === 'd') m.delete(key(row.region, row.at));
          else m.set(key(row.region, row.at), row.ver);
        }
        return m;
      };
      const recs = await consume([topic], converged(expected, (j) => {
        const row = (j.after ?? j.before) as { region: string; at: string; ver: number };
        return [key(row.region, row.at), row.ver];
      }), 120000);
      const got = fold(recs);
      const wrong = [...expected].filter(([k, v]) => got.get(k) !== v).map(([k, v]) => `${k}: pg ${v} kafka ${got.get(k)}`);
      expect(wrong.slice(0, 10)).toEqual([]);
      expect(got.size).toBe(expected.size);
    } finally {
      await c.end();
    }
  }, 300_000);
});
