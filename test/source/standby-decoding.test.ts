/**
 * CDC from a hot standby (issue 19, deliverable 4): a real zonky PostgreSQL 16 primary and streaming
 * standby (CDC_STANDBY_PG for another ≥ 16; in the version matrix the version under test if ≥ 16;
 * test/support/pg-cluster.ts). The source runs with
 * database.hosts = primary,standby and database.target.session.attrs = standby: the slot is created
 * on the standby (the primary is asked for pg_log_standby_snapshot() meanwhile), the snapshot and
 * the stream are read there, and the writes a standby cannot serve — publication DDL and
 * heartbeat.action.query, the run-time table discovery — go to the primary. Changes made on the
 * primary reach Kafka exactly as the table ends up; the slot exists on the standby only; a table
 * created while streaming is snapshotted and then streamed. Skipped when zonky binaries cannot be had.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSource } from '../../src/source/check.js';
import { parseSourceConfig } from '../../src/source/config.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { pgClusterSupport, startPair, type PgPair } from '../support/pg-cluster.js';
import { cleanup, consume, kafkaConfig, uniq, waitFor } from './helpers.js';

const support = pgClusterSupport(process.env.CDC_STANDBY_PG ?? '16', 16);
const bin = 'bin' in support ? support.bin : null;
const major = 'major' in support ? support.major : 0;
const logger = process.env.CDC_TEST_LOG ? createLogger() : silentLogger;

const id = uniq('src_sbd');
const prefix = id.replace(/_/g, '-');
const sources: PostgresSource[] = [];
let pair: PgPair | null = null;

const config = (): Record<string, unknown> => ({
  'database.hosts': `127.0.0.1:${pair!.primary.port},127.0.0.1:${pair!.standby.port}`,
  'database.target.session.attrs': 'standby',
  'database.user': 'postgres',
  'database.dbname': 'postgres',
  name: id,
  'topic.prefix': prefix,
  'slot.name': id,
  'publication.name': `${id}_pub`,
  'publication.autocreate.mode': 'filtered',
  'table.include.list': 'public\\.t2?',
  'heartbeat.interval.ms': 300,
  'heartbeat.action.query': `INSERT INTO hb VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET at = now(), n = hb.n + 1`,
  'slot.health.interval.ms': 300,
  'table.discovery.interval.ms': 500,
});

beforeAll(async () => {
  if (!bin) return;
  pair = await startPair(bin, major);
}, 180000);

afterAll(async () => {
  for (const s of sources) await Promise.race([s.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10000))]);
  pair?.destroy();
  await cleanup({ topicPrefix: prefix });
}, 60000);

describe.skipIf(!bin)(`CDC from a hot standby (PostgreSQL ${major})`, () => {
  it('snapshots and streams from a slot on the standby; DDL and heartbeats go to the primary', async () => {
    const p = pair!;
    await p.primary.sql('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await p.primary.sql('CREATE TABLE hb (id int PRIMARY KEY, at timestamptz, n int DEFAULT 0)');
    await p.primary.sql(`INSERT INTO t SELECT g, 'seed' FROM generate_series(1, 300) g`);

    const check = await checkSource({ config: parseSourceConfig(config()), timeoutMs: 10000 });
    expect(check.report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(check.report.notes).toContain(`decoding on standby 127.0.0.1:${p.standby.port}`);

    const s = new PostgresSource(config(), kafkaConfig, logger);
    sources.push(s);
    await s.start();
    expect(s.config['database.port']).toBe(p.standby.port);
    await waitFor(() => s.status().state === 'streaming', 60000, 'streaming');

    // The slot lives on the standby only; the publication was created on the primary.
    expect(await p.standby.sql(`SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'logical'`, [id])).toHaveLength(1);
    expect(await p.primary.sql(`SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1`, [id])).toHaveLength(0);
    expect(await p.primary.sql(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [`${id}_pub`])).toHaveLength(1);

    await p.primary.sql(`INSERT INTO t SELECT g, 'ins' FROM generate_series(301, 400) g`);
    await p.primary.sql(`UPDATE t SET v = 'upd' WHERE id % 10 = 0`);
    await p.primary.sql(`DELETE FROM t WHERE id % 7 = 0`);
    await p.primary.sql(`INSERT INTO t VALUES (-1, 'sentinel')`);
    const truth = new Map((await p.primary.sql<{ id: number; v: string }>('SELECT id, v FROM t')).map((r) => [r.id, r.v]));

    const state = new Map<number, string>();
    let applied = 0;
    const same = (): boolean => state.size === truth.size && [...truth].every(([k, v]) => state.get(k) === v);
    const recs = await consume(
      [`${prefix}.public.t`],
      (r) => {
        for (const x of r.slice(applied)) {
          if (!x.json) continue;
          if (x.json.op === 'd') state.delete((x.json.before as { id: number }).id);
          else state.set((x.json.after as { id: number; v: string }).id, (x.json.after as { id: number; v: string }).v);
        }
        applied = r.length;
        return same();
      },
      90000,
    );
    expect(same()).toBe(true);
    expect(recs.filter((r) => r.json?.op === 'r')).toHaveLength(300);

    // heartbeat.action.query ran on the primary (a standby would refuse it), and the slot on the
    // standby is confirmed as the stream goes on.
    await waitFor(async () => ((await p.primary.sql<{ n: number }>('SELECT n FROM hb WHERE id = 1'))[0]?.n ?? 0) >= 2, 30000, 'heartbeats on the primary');
    await waitFor(() => s.status().slot?.walStatus === 'reserved', 30000, 'slot health from the standby');
    expect(s.status().error).toBeNull();

    // A table that joins at run time: the primary adds it to the publication and exports its
    // snapshot; its later changes are streamed from the standby.
    await p.primary.sql('CREATE TABLE t2 (id int PRIMARY KEY)');
    await p.primary.sql('INSERT INTO t2 SELECT generate_series(1, 50)');
    const ids = (r: readonly { json: Record<string, unknown> | null }[]): Set<number> => new Set(r.map((x) => (x.json?.after as { id: number } | null)?.id ?? 0));
    await consume([`${prefix}.public.t2`], (r) => ids(r).size >= 50, 60000);
    await p.primary.sql('INSERT INTO t2 SELECT generate_series(51, 60)');
    const t2 = await consume([`${prefix}.public.t2`], (r) => [...ids(r)].filter((i) => i > 0).length >= 60, 60000);
    expect([...ids(t2)].filter((i) => i > 0).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(s.status().error).toBeNull();
    await s.stop();
    await p.standby.sql(`SELECT pg_drop_replication_slot($1)`, [id]);
  }, 300000);
});
