/**
 * Generated columns, feature-detected by server version (run on every version by the matrix,
 * `npm run test:pg-matrix`): on PG 18+ the publication cdc-fanout creates publishes STORED generated
 * columns (publish_generated_columns = stored), so snapshot rows and streamed changes both carry
 * them with the server's values, and VIRTUAL ones (never publishable) are absent from both. Before
 * 18 pgoutput cannot send them: they are absent from snapshot and stream alike (never one without
 * the other), and the start-up warning names them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_gen');
const table = `public.${id}`;
const prefix = id.replace(/_/g, '-');
const topic = `${prefix}.public.${id}`;
const sources: PostgresSource[] = [];
let version = 0;
const warnings: string[] = [];

/** A logger whose warnings the test reads (and prints with CDC_TEST_LOG). */
function capturing(): Logger {
  const base = createLogger({ level: process.env.CDC_TEST_LOG ? 'info' : 'silent' });
  const wrap = (l: Logger): Logger =>
    new Proxy(l, {
      get(target, prop, recv) {
        if (prop === 'warn') {
          return (obj: unknown, msg?: string) => {
            warnings.push(typeof obj === 'string' ? obj : String(msg ?? ''));
            return (target.warn as (o: unknown, m?: string) => void).call(target, obj, msg);
          };
        }
        if (prop === 'child') return (b: Record<string, unknown>) => wrap(target.child(b));
        return Reflect.get(target, prop, recv) as unknown;
      },
    });
  return wrap(base);
}

beforeAll(async () => {
  const c = await pgClient();
  version = Number((await c.query<{ v: string }>('SHOW server_version_num')).rows[0]!.v);
  const virtual = version >= 180000 ? ', v3 int GENERATED ALWAYS AS (a + 1) VIRTUAL' : '';
  await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, a int NOT NULL, doubled int GENERATED ALWAYS AS (a * 2) STORED${virtual})`);
  await c.query(`INSERT INTO ${table} (id, a) SELECT g, g FROM generate_series(1, 5) g`);
  await c.end();
});

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [table] });
});

describe('generated columns (feature-detected: published on PG 18+)', () => {
  it('snapshot and stream carry the same columns: stored generated ones on 18+, none before', async () => {
    const s = new PostgresSource(oneTableSource(id, { 'snapshot.mode': 'initial', 'heartbeat.interval.ms': 500 }), kafkaConfig, capturing());
    sources.push(s);
    await s.start();
    await waitFor(() => s.status().state === 'streaming', 60000, 'streaming');
    const c = await pgClient();
    await c.query(`INSERT INTO ${table} (id, a) VALUES (6, 6)`);
    await c.query(`UPDATE ${table} SET a = 10 WHERE id = 1`);
    await c.end();
    const recs = await consume([topic], (r) => r.length >= 7, 60000);
    const after = (op: string, key: number): Record<string, unknown> => {
      const r = recs.find((x) => x.json?.op === op && (x.json.after as { id: number }).id === key);
      expect(r, `${op} ${key}`).toBeDefined();
      return r!.json!.after as Record<string, unknown>;
    };
    const snap = after('r', 3);
    const ins = after('c', 6);
    const upd = after('u', 1);
    if (version >= 180000) {
      expect(snap).toEqual({ id: 3, a: 3, doubled: 6 });
      expect(ins).toEqual({ id: 6, a: 6, doubled: 12 });
      expect(upd).toEqual({ id: 1, a: 10, doubled: 20 });
      expect(warnings.join('\n')).toMatch(/v3: VIRTUAL generated columns cannot be published/);
      expect(warnings.join('\n')).not.toMatch(/doubled/);
    } else {
      expect(snap).toEqual({ id: 3, a: 3 });
      expect(ins).toEqual({ id: 6, a: 6 });
      expect(upd).toEqual({ id: 1, a: 10 });
      expect(warnings.join('\n')).toMatch(/doubled: Postgres before 18 cannot publish generated columns/);
    }
  }, 120_000);
});
