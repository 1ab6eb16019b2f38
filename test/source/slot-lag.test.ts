/**
 * Slot health on the real stack: while only an uncaptured table and another database are written,
 * the slot still advances past that WAL (idle confirmations, recorded in the offsets topic first),
 * the lag metrics and the source status report it, and a restart afterwards passes the start-up
 * gap check (the slot is ahead of the last data commit only by the recorded idle watermark).
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLsn } from '../../src/events/change.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { metrics } from '../../src/observability/metrics.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, ep, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_lag');
const otherDb = `${id}_db`;
const prefix = id.replace(/_/g, '-');
const sources: PostgresSource[] = [];
const logger = process.env.CDC_TEST_LOG ? createLogger() : silentLogger;

function otherDbClient(): pg.Client {
  const u = new URL(ep.postgresUrl);
  u.pathname = `/${otherDb}`;
  return new pg.Client({ connectionString: u.toString() });
}

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [`public.${id}`, `public.${id}_busy`] });
  const c = await pgClient();
  await c.query(`DROP DATABASE IF EXISTS ${otherDb}`).catch(() => undefined);
  await c.end();
});

describe('slot lag', () => {
  it('stays bounded while only uncaptured tables and another database are written; metrics and status show it', async () => {
    const c = await pgClient();
    await c.query(`CREATE TABLE public.${id} (id int PRIMARY KEY, v text)`);
    await c.query(`CREATE TABLE public.${id}_busy (id serial PRIMARY KEY, v text)`);
    await c.query(`CREATE DATABASE ${otherDb}`);
    const o = otherDbClient();
    await o.connect();
    await o.query('CREATE TABLE busy (id serial PRIMARY KEY, v text)');

    const make = (): PostgresSource => {
      const s = new PostgresSource(oneTableSource(id, { 'snapshot.mode': 'never', 'heartbeat.interval.ms': 300, 'slot.health.interval.ms': 300 }), kafkaConfig, logger);
      sources.push(s);
      return s;
    };
    const source = make();
    try {
      await source.start();
      await waitFor(() => source.status().state === 'streaming' && source.status().slot !== null, 30000, 'streaming with a slot health poll');

      // One captured change first: the stored position is then a real commit LSN below the busy WAL.
      await c.query(`INSERT INTO public.${id} VALUES (0, 'before')`);
      await waitFor(() => source.status().eventsPublished === 1, 30000, 'the captured change');
      const before = parseLsn((await c.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l as string);
      for (let i = 0; i < 10; i++) {
        await c.query(`INSERT INTO public.${id}_busy (v) SELECT repeat('x', 200) FROM generate_series(1, 2000)`);
        await o.query(`INSERT INTO busy (v) SELECT repeat('y', 200) FROM generate_series(1, 2000)`);
      }
      const after = parseLsn((await c.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l as string);
      const written = Number(after - before);
      expect(written).toBeGreaterThan(4_000_000);

      // The slot moves past all of it although no captured change was made.
      await waitFor(
        async () => (await c.query('SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2', [`${(after >> 32n).toString(16)}/${(after & 0xffffffffn).toString(16)}`, id])).rows[0]?.ok === true,
        30000,
        'slot confirmed past the uncaptured WAL',
      );
      // Our own measurement agrees: lag well below what was written, exported as metrics and in the status.
      await waitFor(() => (source.status().slot?.lagBytes ?? Infinity) < written / 2, 30000, 'reported slot lag below the written WAL');
      const st = source.status().slot!;
      expect(st).toMatchObject({ slot: id, exists: true, walStatus: expect.stringMatching(/reserved|extended/) as unknown as string });
      expect(st.lagMs).not.toBeNull();
      expect(st.retainedBytes).not.toBeNull();
      // The metrics are exported from the same poll (status does not read them back).
      const exported = async (m: typeof metrics.slotLagBytes) => (await m.get()).values.find((v) => v.labels.pipeline === id);
      const lagBytes = await exported(metrics.slotLagBytes);
      const lagMs = await exported(metrics.slotLagMs);
      expect(lagBytes?.value).toBeLessThan(written);
      expect(lagMs?.value).toBeGreaterThanOrEqual(0);
      expect(source.status().eventsPublished).toBe(1);
      await source.stop();

      // The slot is now far ahead of the last data commit: only the idle watermark in the
      // offsets topic proves nothing was skipped. A restart must accept it and keep streaming.
      const again = make();
      await again.start();
      await waitFor(() => again.status().state === 'streaming', 30000, 'restart streams');
      await c.query(`INSERT INTO public.${id} VALUES (1, 'after restart')`);
      await waitFor(() => again.status().eventsPublished === 1, 30000, 'the change after the restart');
      expect(again.status().error).toBeNull();
      await again.stop();
    } finally {
      await o.end();
      await c.end();
    }
  });
});
