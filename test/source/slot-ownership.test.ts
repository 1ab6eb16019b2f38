/**
 * Slot ownership and slot loss on the real stack (issue 13/19):
 *  - two pipelines configured with the same slot.name: the second refuses with the ownership error
 *    and leaves the first's slot alone (on main it dropped and recreated it: silent loss); the first
 *    then resumes with every change;
 *  - slot.takeover hands the slot over; the old owner then fails loudly instead of resuming past
 *    the changes the new owner consumed;
 *  - a slot dropped under a running pipeline: FAILED with the remedy; restart fails naming the gap;
 *    snapshot.mode=when_needed re-snapshots and the rows written meanwhile arrive.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_own');
const table = `public.${id}`;
const prefixA = `${id.replace(/_/g, '-')}-a`;
const prefixB = `${id.replace(/_/g, '-')}-b`;
const sources: PostgresSource[] = [];
const logger = process.env.CDC_TEST_LOG ? createLogger() : silentLogger;

function pipeline(name: string, prefix: string, extra: Record<string, unknown> = {}): PostgresSource {
  const s = new PostgresSource(
    { ...oneTableSource(id), name, 'topic.prefix': prefix, 'heartbeat.interval.ms': 300, 'slot.health.interval.ms': 300, ...extra },
    kafkaConfig,
    logger,
  );
  sources.push(s);
  return s;
}

async function sql(text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const c = await pgClient();
  try {
    return (await c.query(text, params)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

const idsIn = async (prefix: string, atLeast: number): Promise<number[]> => {
  const recs = await consume([`${prefix}.public.${id}`], (r) => new Set(r.map((x) => x.key)).size >= atLeast, 30000);
  return [...new Set(recs.map((r) => ((r.json?.after ?? r.json?.before) as { id: number }).id))].sort((a, b) => a - b);
};

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefixA, tables: [table] });
  await cleanup({ topicPrefix: prefixB });
});

describe('slot ownership', () => {
  it('a second pipeline with the same slot.name refuses; the first keeps its slot and loses nothing', async () => {
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
    await sql(`INSERT INTO ${table} SELECT g, 'snap' FROM generate_series(1, 5) g`);
    const a = pipeline(`${id}_a`, prefixA);
    await a.start();
    await waitFor(() => a.status().state === 'streaming', 30000, 'A streaming');
    await sql(`INSERT INTO ${table} VALUES (6, 'stream')`);
    await waitFor(() => a.status().eventsPublished >= 6, 30000, 'A published 6');
    await a.stop();

    const b = pipeline(`${id}_b`, prefixB);
    const err = await b.start().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(new RegExp(`replication slot "${id}" exists \\(active pid none, confirmed_flush_lsn [0-9A-F]+/[0-9A-F]+\\) but is not owned by pipeline "${id}_b"`));
    expect(err?.message).toContain('slot.takeover: true');
    expect(err?.message).toContain(`--take-over-slot ${id}_b`);
    expect(b.status().state).toBe('failed');

    // Written while A is down: the slot must still hold it for A.
    await sql(`INSERT INTO ${table} VALUES (7, 'while down')`);
    const a2 = pipeline(`${id}_a`, prefixA);
    await a2.start();
    expect(await idsIn(prefixA, 7)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await a2.stop();
  });

  it('slot.takeover hands the slot over; the previous owner then fails loudly instead of skipping what it missed', async () => {
    const b = pipeline(`${id}_b`, prefixB, { 'slot.takeover': true });
    await b.start();
    await waitFor(() => b.status().state === 'streaming', 30000, 'B streaming');
    await sql(`INSERT INTO ${table} VALUES (8, 'for B only')`);
    expect(await idsIn(prefixB, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await b.stop();

    const a = pipeline(`${id}_a`, prefixA);
    await expect(a.start()).rejects.toThrow(new RegExp(`replication slot "${id}" is confirmed up to .* but pipeline "${id}_a" only published up to .*snapshot\\.mode: when_needed`));
  });

  it('a slot dropped under a running pipeline: FAILED with the remedy; restart names the gap; when_needed re-snapshots', async () => {
    const b = pipeline(`${id}_b`, prefixB);
    await b.start();
    await waitFor(() => b.status().state === 'streaming', 30000, 'B streaming');
    const done = b.whenStopped().then(
      () => null,
      (e: unknown) => e as Error,
    );
    // Terminate the walsender (waiting for it to exit) and drop the slot in one statement, as a failover
    // without failover slots or an operator's cleanup would: the stream breaks and the slot is gone.
    await sql(`DO $$
      DECLARE p int;
      BEGIN
        SELECT active_pid INTO p FROM pg_replication_slots WHERE slot_name = '${id}';
        IF p IS NOT NULL THEN PERFORM pg_terminate_backend(p, 10000); END IF;
        PERFORM pg_drop_replication_slot('${id}');
      END $$`);
    expect(await sql('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [id])).toHaveLength(0);
    const err = await done;
    expect(b.status().state).toBe('failed');
    expect(err?.message).toMatch(new RegExp(`replication slot "${id}" vanished while the pipeline was running.*snapshot\\.mode: when_needed`));
    expect(b.status().error).toBe(err?.message);

    await sql(`INSERT INTO ${table} VALUES (9, 'while the slot was gone')`);
    const again = pipeline(`${id}_b`, prefixB);
    await expect(again.start()).rejects.toThrow(new RegExp(`replication slot "${id}" does not exist, but pipeline "${id}_b" committed offsets up to`));

    const healed = pipeline(`${id}_b`, prefixB, { 'snapshot.mode': 'when_needed' });
    await healed.start();
    await waitFor(() => healed.status().state === 'streaming', 30000, 're-snapshot done');
    expect(await idsIn(prefixB, 9)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await healed.stop();
  });
});
