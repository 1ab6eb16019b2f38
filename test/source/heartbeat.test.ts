/**
 * heartbeat.action.query: run on a normal connection every heartbeat.interval.ms. Here it upserts a
 * captured heartbeat table (Debezium's recipe), so heartbeat events reach Kafka while the captured
 * data table is idle and the server is busy writing an uncaptured table, and the slot's
 * confirmed_flush_lsn moves past that unrelated WAL. A failing action query is logged and retried,
 * and does not stop streaming.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_hb');
const prefix = id.replace(/_/g, '-');
const hbTable = `public.${id}_hb`;
const busyTable = `public.${id}_busy`;
const sources: PostgresSource[] = [];

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [`public.${id}`, hbTable, busyTable] });
  await cleanup({ slot: `${id}_bad`, publication: `${id}_bad_pub`, topicPrefix: `${prefix}-bad` });
});

describe('heartbeat.action.query', () => {
  it('runs every interval: heartbeat events reach Kafka and the slot passes busy, uncaptured WAL', async () => {
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE public.${id} (id int PRIMARY KEY, v text)`);
      await c.query(`CREATE TABLE ${hbTable} (id int PRIMARY KEY, beat timestamptz NOT NULL)`);
      await c.query(`CREATE TABLE ${busyTable} (id serial PRIMARY KEY, v text)`);
      const source = new PostgresSource(
        oneTableSource(id, {
          'snapshot.mode': 'never',
          'table.include.list': `public\\.${id},public\\.${id}_hb`,
          'heartbeat.interval.ms': 300,
          'heartbeat.action.query': `INSERT INTO ${hbTable} (id, beat) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET beat = now()`,
        }),
        kafkaConfig,
        pino({ level: 'silent' }),
      );
      sources.push(source);
      await source.start();
      await waitFor(() => source.status().state === 'streaming', 30000, 'streaming');

      // The server is busy elsewhere: WAL the publication does not carry.
      for (let i = 0; i < 20; i++) await c.query(`INSERT INTO ${busyTable} (v) SELECT repeat('x', 200) FROM generate_series(1, 1000)`);
      const walAfterBusy = (await c.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l as string;

      await waitFor(
        async () =>
          (await c.query('SELECT confirmed_flush_lsn >= $1::pg_lsn AS passed FROM pg_replication_slots WHERE slot_name = $2', [walAfterBusy, id])).rows[0]?.passed === true,
        20000,
        'slot confirmed past the busy WAL',
      );
      const beats = await consume([`${prefix}.public.${id}_hb`], (r) => r.length >= 5, 20000);
      expect(beats.length).toBeGreaterThanOrEqual(5);
      // The first beat inserts the row, later ones update it; every one is a real change event.
      expect(beats[0]?.json).toMatchObject({ op: 'c', after: { id: 1 } });
      expect(beats.slice(1).every((b) => (b.json as { op?: string } | null)?.op === 'u')).toBe(true);
      // Nothing was captured from the busy table.
      expect(source.status().eventsPublished).toBeGreaterThanOrEqual(5);
    } finally {
      await c.end();
    }
  }, 120_000);

  it('logs a failing action query as a warning, retries it, and keeps streaming', async () => {
    const lines: Array<{ level: number; msg: string; err?: { message?: string } }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as (typeof lines)[number]);
        cb();
      },
    });
    const bad = `${id}_bad`;
    const source = new PostgresSource(
      {
        ...oneTableSource(bad, { 'snapshot.mode': 'never', 'heartbeat.interval.ms': 200, 'heartbeat.action.query': 'UPDATE no_such_heartbeat_table SET x = 1' }),
        'table.include.list': `public\\.${id}`,
        'topic.prefix': `${prefix}-bad`,
      },
      kafkaConfig,
      pino({ level: 'warn' }, sink),
    );
    sources.push(source);
    await source.start();
    await waitFor(() => source.status().state === 'streaming', 30000, 'streaming');
    await waitFor(() => lines.filter((l) => l.msg.includes('heartbeat failed')).length >= 2, 10000, 'two heartbeat warnings');
    const warning = lines.find((l) => l.msg.includes('heartbeat failed'));
    expect(warning?.level).toBe(40);
    expect(warning?.err?.message).toContain('no_such_heartbeat_table');

    const c = await pgClient();
    try {
      await c.query(`INSERT INTO public.${id} VALUES (7, 'still streaming')`);
    } finally {
      await c.end();
    }
    const recs = await consume([`${prefix}-bad.public.${id}`], (r) => r.some((x) => x.key?.includes('7') === true), 30000);
    expect(recs.some((r) => (r.json as { after?: { v?: string } } | null)?.after?.v === 'still streaming')).toBe(true);
    expect(source.status().error).toBeNull();
  }, 120_000);
});
