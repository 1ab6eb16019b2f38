/**
 * A failover slot on a primary without synchronized_standby_slots (docs/ha.md): the source can
 * publish WAL the standby never receives; after the promotion the stored position lies on the old
 * timeline past the new primary's switch point.
 *
 * PG 17 pair, a failover slot, but the primary without synchronized_standby_slots. The standby is
 * stopped, the primary writes ~2 MB of WAL and 5 captured rows that the source publishes (its
 * stored position is now beyond anything the standby has), the primary crashes, the standby is
 * promoted. Before the fix the source restarted on the synced slot without an error and the new
 * primary's next transactions, whose commit LSNs lie below the stored (old timeline) position, were
 * dropped by the restart dedup (streaming.ts: skip a transaction whose commit LSN < stored) —
 * measured 2026-11-30 on 17.5: stored 0/323C580, new primary at 0/3029350, 5 inserts on the new
 * primary → 0 events in Kafka. Now (slot-ownership.ts timelineGap) the restart fails naming the gap:
 * the stored record's timeline, the switch point and the stored position.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, createLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { pgClusterSupport, startPair, type PgPair } from '../support/pg-cluster.js';
import { cleanup, consume, kafkaConfig, uniq, waitFor } from './helpers.js';

const support = pgClusterSupport('17', 17);
const bin = 'bin' in support ? support.bin : null;
const logger = process.env.CDC_TEST_LOG ? createLogger() : silentLogger;
const id = uniq('src_tl');
let pair: PgPair | null = null;
const sources: PostgresSource[] = [];
const cfg = (): Record<string, unknown> => ({
  'database.hosts': `127.0.0.1:${pair!.primary.port},127.0.0.1:${pair!.standby.port}`,
  'database.user': 'postgres',
  'database.dbname': 'postgres',
  name: id,
  'topic.prefix': id.replace(/_/g, '-'),
  'slot.name': id,
  'publication.name': `${id}_pub`,
  'publication.autocreate.mode': 'filtered',
  'table.include.list': 'public\\.t',
  'heartbeat.interval.ms': 300,
  'slot.health.interval.ms': 500,
  'standby.poll.interval.ms': 200,
  'table.discovery.interval.ms': 0,
  'slot.failover': true,
});
const mk = (): PostgresSource => {
  const s = new PostgresSource(cfg(), kafkaConfig, logger);
  sources.push(s);
  return s;
};

beforeAll(async () => {
  if (!bin) return;
  // No synchronized_standby_slots on the primary: that is the configuration under test.
  pair = await startPair(bin, 17, { standby: { sync_replication_slots: 'on' } });
}, 180000);

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  pair?.destroy();
  await cleanup({ topicPrefix: id.replace(/_/g, '-') });
}, 60000);

describe.skipIf(!bin)('failover slot without synchronized_standby_slots', () => {
  it('a restart after a promotion that lost published WAL fails naming the gap (timeline, switch point, stored position) instead of skipping the new primary\'s changes', async () => {
    const p = pair!;
    await p.primary.sql('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await p.primary.sql(`INSERT INTO t SELECT g, 'seed' FROM generate_series(1, 10) g`);
    const a = mk();
    await a.start();
    await waitFor(() => a.status().state === 'streaming', 60000, 'streaming');
    await p.primary.sql(`INSERT INTO t VALUES (100, 'before')`);
    await waitFor(() => a.status().eventsPublished >= 11, 60000, 'published');
    const mark = (await p.primary.sql<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l;
    let n = 1000;
    await waitFor(async () => (await p.primary.sql(`INSERT INTO t VALUES (${n++}, 'tick')`), await p.primary.sql('SELECT pg_log_standby_snapshot()'), await p.standby.sql<{ ok: boolean }>(`SELECT synced AND NOT temporary AND $1::text IS NOT NULL AS ok FROM pg_replication_slots WHERE slot_name = $2`, [mark, id]))[0]?.ok === true, 120000, 'synced');
    await p.primary.sql(`ALTER SYSTEM SET synchronized_standby_slots = ''`);
    await p.primary.sql('SELECT pg_reload_conf()');
    await new Promise((r) => setTimeout(r, 1000));
    p.standby.stop();
    // WAL the standby never gets, published by A: ~2 MB (padding table not captured) + captured rows.
    await p.primary.sql(`CREATE TABLE pad (x text)`);
    await p.primary.sql(`INSERT INTO pad SELECT repeat('x', 1000) FROM generate_series(1, 2000)`);
    for (let i = 0; i < 5; i++) await p.primary.sql(`INSERT INTO t VALUES (${200 + i}, 'lost-on-standby')`);
    const lostAt = (await p.primary.sql<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l;
    await waitFor(async () => a.status().lastCommittedLsn !== null && (await p.primary.sql<{ ok: boolean }>('SELECT $1::pg_lsn >= $2::pg_lsn AS ok', [a.status().lastCommittedLsn, lostAt]))[0]!.ok === true || (await p.primary.sql<{ ok: boolean }>('SELECT $1::pg_lsn + 200 >= $2::pg_lsn AS ok', [a.status().lastCommittedLsn ?? '0/0', lostAt]))[0]!.ok === true, 60000, 'published lost rows');
    console.log('A stored', a.status().lastCommittedLsn, 'primary wal', (await p.primary.sql<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l);
    p.primary.crash();
    await waitFor(() => a.status().state === 'failed', 60000, 'failed');
    p.standby.start();
    p.standby.promote();
    console.log('new primary wal', (await p.standby.sql<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l, (await p.standby.sql(`SELECT slot_name, confirmed_flush_lsn::text, synced, temporary FROM pg_replication_slots`)));
    let a2: PostgresSource | null = null;
    let err: string | null = null;
    for (let i = 0; i < 20 && !a2; i++) {
      const s = mk();
      try { await s.start(); a2 = s; } catch (e) { err = (e as Error).message; await new Promise((r) => setTimeout(r, 500)); }
    }
    console.log('restart', a2 ? 'ok' : 'failed', err);
    if (!a2) {
      expect(err).toMatch(/on timeline 1, but this server left timeline 1 at [0-9A-F]+\/[0-9A-F]+ \(promoted to a later timeline, now 2\)/);
      return;
    }
    await waitFor(() => a2.status().state === 'streaming', 60000, 'streaming again');
    for (let i = 0; i < 5; i++) await p.standby.sql(`INSERT INTO t VALUES (${300 + i}, 'new-timeline')`);
    console.log('new primary wal after', (await p.standby.sql<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l);
    if (!a2) throw new Error('unreachable');
    const recs = await consume([`${id.replace(/_/g, '-')}.public.t`], (r) => r.filter((x) => (x.json?.after as { v?: string } | null)?.v === 'new-timeline').length >= 5, 20000);
    const got = recs.filter((x) => (x.json?.after as { v?: string } | null)?.v === 'new-timeline').length;
    console.log('new-timeline events in Kafka', got, 'published by a2', a2.status().eventsPublished);
    expect(got).toBe(5);
  }, 300000);
});
