/**
 * Initial snapshot consistent with the slot, under concurrent writes: every row is read once (op r)
 * at the consistent point, and streaming continues from exactly there — per key, the row versions
 * seen after the snapshot row are consecutive (no gap, no duplicate). Also: a transaction open before
 * the slot is created and committed while it is being created appears exactly once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_snap');
const table = `public.${id}`;
const prefix = id.replace(/_/g, '-');
const topic = `${prefix}.public.${id}`;
const ROWS = 3000;
let source: PostgresSource | undefined;

afterAll(async () => {
  await source?.stop();
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [table] });
});

describe('snapshot + streaming handoff', () => {
  it('no gap, no duplicate across the consistent point', async () => {
    const c = await pgClient();
    await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, ver int NOT NULL, pad text)`);
    await c.query(`INSERT INTO ${table} SELECT g, 0, repeat('x', 50) FROM generate_series(1, ${ROWS}) g`);
    await c.query('ANALYZE ' + table);

    // A transaction open before the slot exists; committed while CREATE_REPLICATION_SLOT waits for it.
    const spanning = await pgClient();
    await spanning.query('BEGIN');
    await spanning.query(`INSERT INTO ${table} VALUES (${ROWS + 1}, 0, 'spanning')`);

    // Concurrent writer: bumps ver of random rows, one row per transaction.
    let writing = true;
    let updates = 0;
    const writer = (async () => {
      const w = await pgClient();
      try {
        while (writing) {
          const k = 1 + Math.floor(Math.random() * ROWS);
          await w.query(`UPDATE ${table} SET ver = ver + 1 WHERE id = $1`, [k]);
          updates++;
        }
      } finally {
        writing = false;
        await w.end();
      }
    })();

    source = new PostgresSource(
      oneTableSource(id, {
        'snapshot.mode': 'initial',
        'snapshot.fetch.size': 250,
      }),
      kafkaConfig,
      process.env.CDC_TEST_LOG ? createLogger() : silentLogger,
    );
    const starting = source.start().catch(async (e: unknown) => {
      writing = false;
      throw e;
    });
    await new Promise((r) => setTimeout(r, 1000));
    await spanning.query('COMMIT');
    await spanning.end();
    await starting;
    try {
      await waitFor(() => {
        const st = source!.status();
        if (st.state === 'failed') throw new Error(`source failed: ${st.error}`);
        return st.state === 'streaming';
      }, 60000, 'streaming');
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      writing = false;
      await writer;
    }
    expect(updates).toBeGreaterThan(50);

    const final = new Map<number, number>((await c.query(`SELECT id, ver FROM ${table}`)).rows.map((r) => [r.id as number, r.ver as number]));
    await c.end();
    const recs = await consume([topic], (rs) => {
      const last = new Map<number, number>();
      for (const r of rs) if (r.json) last.set((r.json.after as { id: number }).id, (r.json.after as { ver: number }).ver);
      return [...final].every(([k, v]) => last.get(k) === v);
    });
    const perKey = new Map<number, { op: string; ver: number }[]>();
    for (const r of recs) {
      if (!r.json) continue;
      const a = r.json.after as { id: number; ver: number };
      if (!perKey.has(a.id)) perKey.set(a.id, []);
      perKey.get(a.id)!.push({ op: String(r.json.op), ver: a.ver });
    }
    expect(perKey.size).toBe(ROWS + 1);
    for (const [k, evs] of perKey) {
      // exactly one snapshot read or one insert first, then consecutive versions, ending at PG's
      expect(evs.filter((e) => e.op === 'r' || e.op === 'c').length, `key ${k}`).toBe(1);
      for (let i = 1; i < evs.length; i++) expect(evs[i]!.ver, `key ${k} event ${i}`).toBe(evs[i - 1]!.ver + 1);
      expect(evs[evs.length - 1]!.ver).toBe(final.get(k));
    }
    const reads = recs.filter((r) => r.json?.op === 'r');
    expect(reads.length).toBe(ROWS + 1); // the spanning tx committed before the consistent point
    expect(new Set(reads.map((r) => r.headers['cdc.commit_lsn'])).size).toBe(1);
    // Like Debezium: the snapshot's final row (highest key of the only table) is marked "last", its
    // first "first", the rest "true".
    const markers = reads.map((r) => ({ id: (r.json!.after as { id: number }).id, snapshot: (r.json!.source as { snapshot: string }).snapshot }));
    expect(markers.filter((m) => m.snapshot === 'last')).toEqual([{ id: ROWS + 1, snapshot: 'last' }]);
    expect(markers.filter((m) => m.snapshot === 'first')).toEqual([{ id: 1, snapshot: 'first' }]);
    expect(markers.filter((m) => m.snapshot !== 'last' && m.snapshot !== 'first').every((m) => m.snapshot === 'true')).toBe(true);
    const st = source.status();
    expect(st.snapshot?.rowsDone).toBe(ROWS + 1);
    // Per table, as status shows it: rows published and the table's own estimate (ANALYZE above;
    // autovacuum under the concurrent writer may count the spanning row too).
    expect(st.snapshotTables).toEqual([{ table, rowsDone: ROWS + 1, rowsEstimated: expect.any(Number) as unknown as number, finished: true }]);
    expect(st.snapshotTables[0]!.rowsEstimated).toBeGreaterThanOrEqual(ROWS);
    expect(st.snapshotTables[0]!.rowsEstimated).toBeLessThanOrEqual(ROWS + 1);
  });
});
