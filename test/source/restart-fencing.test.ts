/**
 * Restart: a new instance started from an older slot position drops everything already committed
 * to Kafka (position ≤ stored) and publishes the rest exactly once.
 * Fencing: a second instance with the same connector name fences the first (which stops with
 * ProducerFencedError); a third instance on an active slot fails with a clear error naming the pid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { ProducerFencedError } from '../../src/kafka/producer.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, pgClient, pgConfig, uniq, waitFor } from './helpers.js';

const id = uniq('src_rst');
const table = `public.${id}`;
const prefix = id.replace(/_/g, '-');
const topic = `${prefix}.public.${id}`;
const pub = `${id}_pub`;
const sources: PostgresSource[] = [];

// The slots are created by the test (pg_create_logical_replication_slot), not by a pipeline: the
// pipelines take them over (slot.takeover) — without it they would refuse a slot they do not own.
function make(name: string, slot: string): PostgresSource {
  const s = new PostgresSource(
    { ...pgConfig(), name, 'topic.prefix': prefix, 'slot.name': slot, 'publication.name': pub, 'publication.autocreate.mode': 'disabled', 'snapshot.mode': 'never', 'slot.takeover': true },
    kafkaConfig,
    process.env.CDC_TEST_LOG ? createLogger().child({ instance: sources.length }) : silentLogger,
  );
  sources.push(s);
  return s;
}

async function insertTxs(from: number, txs: number, perTx: number): Promise<void> {
  const c = await pgClient();
  for (let t = 0; t < txs; t++) {
    const start = from + t * perTx;
    await c.query(`INSERT INTO ${table} SELECT g, 'r' FROM generate_series(${start}, ${start + perTx - 1}) g`);
  }
  await c.end();
}

beforeAll(async () => {
  const c = await pgClient();
  await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
  await c.query(`CREATE PUBLICATION ${pub} FOR TABLE ${table}`);
  await c.end();
});

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  await cleanup({ slot: `${id}_bak`, publication: pub, topicPrefix: prefix, tables: [table] });
  for (const slot of [id, `${id}_b`, `${id}_f1`, `${id}_f2`]) await cleanup({ slot });
});

describe('restart and fencing', () => {
  it('restart from an older slot position publishes no duplicates', async () => {
    const c = await pgClient();
    await c.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [id]);
    await c.query(`SELECT pg_copy_logical_replication_slot($1, $2)`, [id, `${id}_bak`]);

    const a = make(id, id);
    await a.start();
    await insertTxs(1, 10, 10);
    await waitFor(() => a.status().eventsPublished === 100, 30000, 'first 100 events');
    await a.stop();

    await insertTxs(101, 5, 10);
    // Rewind: the slot goes back to where it was before the first 100 (Kafka already has them).
    await c.query(`SELECT pg_drop_replication_slot($1)`, [id]);
    await c.query(`SELECT pg_copy_logical_replication_slot($1, $2)`, [`${id}_bak`, id]);
    await c.end();

    const b = make(id, id);
    await b.start();
    await waitFor(() => b.status().eventsPublished === 50, 30000, 'next 50 events');
    const recs = await consume([topic], (r) => r.length >= 150, 15000);
    await new Promise((r) => setTimeout(r, 1000));
    const again = await consume([topic], (r) => r.length > 150, 3000);
    expect(again.length).toBe(150);
    const ids = recs.map((r) => (r.json!.after as { id: number }).id).sort((x, y) => x - y);
    expect(ids).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    await b.stop();
  });

  it('a second instance with the same connector name fences the first; an active slot is a clear error', async () => {
    const c = await pgClient();
    // Same position for both (a copy): the second instance's slot must not be ahead of what the first published (that would be a gap).
    await c.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [`${id}_f1`]);
    await c.query(`SELECT pg_copy_logical_replication_slot($1, $2)`, [`${id}_f1`, `${id}_f2`]);
    const first = make(`${id}_fence`, `${id}_f1`);
    await first.start();
    const firstDone = first.whenStopped().then(
      () => null,
      (e: unknown) => e,
    );
    const second = make(`${id}_fence`, `${id}_f2`);
    await second.start(); // initialises the same transactionalId → bumps the epoch
    await c.query(`INSERT INTO ${table} VALUES (1000, 'fence')`);
    const err = await firstDone;
    expect(err).toBeInstanceOf(ProducerFencedError);
    expect(String((err as Error).message)).toMatch(/fenced/);
    expect(first.status().state).toBe('failed');
    await waitFor(() => second.status().eventsPublished >= 1, 30000, 'second instance publishes');

    const third = make(`${id}_other`, `${id}_f2`);
    await expect(third.start()).rejects.toThrow(/active in another process \(pid \d+\)/);
    await c.end();
  });
});
