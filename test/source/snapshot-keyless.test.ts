/**
 * A table without a primary key is snapshotted in chunks keyed on ctid, inside the slot's snapshot:
 * every row visible at the consistent point is read exactly once, although earlier updates moved
 * rows to other ctids and a concurrent writer keeps moving them while the snapshot runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const ROWS = 600;
const sources: PostgresSource[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const s of sources) await s.stop();
  for (const c of cleanups) await c();
});

describe('snapshot of a table without a primary key', () => {
  it.each([1, 3])('reads every row once, in ctid chunks, while rows move (snapshot.max.threads=%i)', async (threads) => {
    const id = uniq('src_keyless');
    const table = `public.${id}`;
    const prefix = id.replace(/_/g, '-');
    cleanups.push(() => cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [table] }));
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (n int NOT NULL, ver int NOT NULL, pad text)`);
      await c.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
      await c.query(`INSERT INTO ${table} SELECT g, 0, repeat('x', 40) FROM generate_series(1, ${ROWS}) g`);
      // Updates move rows to new ctids (after the others); deletes leave holes.
      await c.query(`UPDATE ${table} SET ver = 1 WHERE n % 5 = 0`);
      await c.query(`DELETE FROM ${table} WHERE n % 7 = 0`);
      const expected = new Set((await c.query(`SELECT n FROM ${table}`)).rows.map((r) => Number(r.n)));

      let writing = true;
      const writer = (async () => {
        const w = await pgClient();
        try {
          while (writing) await w.query(`UPDATE ${table} SET ver = ver + 1 WHERE n = $1`, [1 + Math.floor(Math.random() * ROWS)]);
        } finally {
          await w.end();
        }
      })();

      const source = new PostgresSource(oneTableSource(id, { 'snapshot.mode': 'initial', 'snapshot.fetch.size': 7, 'snapshot.max.threads': threads }), kafkaConfig, silentLogger);
      sources.push(source);
      await source.start();
      await waitFor(() => source.status().state === 'streaming', 60000, 'snapshot done');
      writing = false;
      await writer;

      const recs = await consume([`${prefix}.public.${id}`], (r) => r.filter((x) => (x.json as { op?: string } | null)?.op === 'r').length >= expected.size, 60000);
      const reads = recs.filter((r) => (r.json as { op?: string } | null)?.op === 'r').map((r) => Number((r.json as { after: { n: number } }).after.n));
      expect(reads.length).toBe(expected.size);
      expect(new Set(reads).size).toBe(expected.size);
      expect(reads.every((n) => expected.has(n))).toBe(true);
    } finally {
      await c.end();
    }
  }, 120_000);
});
