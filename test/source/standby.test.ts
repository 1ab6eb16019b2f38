/**
 * Daemon HA at the source level: two instances of the same pipeline (same config). The second waits
 * as `standby` (start() pending, the reason names the lease holder) while the first snapshots and
 * streams — it does not fence it, does not fail; when the first stops, the standby takes over from
 * the committed position: every row exactly once in Kafka. A standby stops promptly when asked. An
 * active source that loses its lease (its connection ended) fails instead of running on unleased.
 * (kill -9 takeover with two daemons: test/daemon/ha.e2e.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_standby');
const table = `public.${id}`;
const prefix = id.replace(/_/g, '-');
const topic = `${prefix}.public.${id}`;
const sources: PostgresSource[] = [];

function make(): PostgresSource {
  const s = new PostgresSource(
    oneTableSource(id, { 'snapshot.mode': 'initial', 'snapshot.fetch.size': 50, 'heartbeat.interval.ms': 500, 'standby.poll.interval.ms': 200 }),
    kafkaConfig,
    process.env.CDC_TEST_LOG ? createLogger().child({ instance: sources.length }) : silentLogger,
  );
  sources.push(s);
  return s;
}

beforeAll(async () => {
  const c = await pgClient();
  await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
  await c.query(`INSERT INTO ${table} SELECT g, 'seed' FROM generate_series(1, 500) g`);
  await c.end();
});

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [table] });
});

describe('standby source (daemon HA)', () => {
  it('a second instance waits as standby while the first runs, then takes over without loss or duplicates', async () => {
    const a = make();
    await a.start();
    // B starts while A snapshots or streams: it must wait, not start, not fence A.
    const b = make();
    const reasons: (string | null)[] = [];
    b.onStandby((r) => reasons.push(r));
    let bStarted = false;
    const bStart = b.start().then(() => {
      bStarted = true;
    });
    await waitFor(() => b.status().state === 'standby', 30000, 'B in standby');
    expect(b.status().standby).toMatch(/another daemon runs this pipeline's source \(lease of slot ".*" held by Postgres backend \d+/);
    expect(reasons[0]).toMatch(/standby/);

    const c = await pgClient();
    await waitFor(() => a.status().state === 'streaming', 60000, 'A streaming');
    await c.query(`INSERT INTO ${table} SELECT g, 'by-a' FROM generate_series(501, 600) g`);
    await waitFor(() => a.status().eventsPublished >= 600, 30000, 'A published snapshot + 100');
    expect(a.status().state).toBe('streaming');
    expect(b.status().state).toBe('standby');
    expect(bStarted).toBe(false);
    expect(b.status().eventsPublished).toBe(0);

    // A stops (a crash is the daemon e2e test): B takes over from A's committed position.
    await a.stop();
    await bStart;
    expect(reasons.at(-1)).toBeNull();
    await waitFor(() => b.status().state === 'streaming', 60000, 'B streaming');
    await c.query(`INSERT INTO ${table} SELECT g, 'by-b' FROM generate_series(601, 700) g`);
    await c.query(`UPDATE ${table} SET v = 'upd-b' WHERE id <= 10`);
    await waitFor(() => b.status().eventsPublished >= 110, 30000, 'B published 110');

    const recs = await consume([topic], (r) => r.length >= 710, 60000);
    await new Promise((r) => setTimeout(r, 1000));
    const all = await consume([topic], (r) => r.length > 710, 3000);
    const got = (all.length >= recs.length ? all : recs).map((r) => `${String(r.json!.op)}:${(r.json!.after as { id: number }).id}`);
    expect(got.length).toBe(710);
    expect(new Set(got).size).toBe(710);
    for (let i = 1; i <= 500; i++) expect(got).toContain(`r:${i}`);
    for (let i = 501; i <= 700; i++) expect(got).toContain(`c:${i}`);
    for (let i = 1; i <= 10; i++) expect(got).toContain(`u:${i}`);

    // A third instance waits behind B, and stops promptly while waiting.
    const third = make();
    const thirdStart = third.start();
    await waitFor(() => third.status().state === 'standby', 30000, 'third in standby');
    await third.stop();
    await thirdStart;
    expect(third.status().state).toBe('stopped');
    expect(b.status().state).toBe('streaming');
    await c.end();
  }, 180_000);

  it('an active source whose lease connection is ended fails loudly; the next instance takes over without loss', async () => {
    const b = sources.find((s) => s.status().state === 'streaming');
    expect(b).toBeDefined();
    const failed = b!.whenStopped().then(
      () => null,
      (e: unknown) => e as Error,
    );
    const c = await pgClient();
    const ended = await c.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1`, [`cdc-fanout:${id}:lease`]);
    expect(ended.rows).toHaveLength(1);
    expect(String((await failed)?.message)).toMatch(/lost the leadership lease of slot ".*": its Postgres connection/);
    expect(b!.status().state).toBe('failed');

    const d = make();
    await d.start();
    await waitFor(() => d.status().state === 'streaming', 60000, 'D streaming');
    await c.query(`INSERT INTO ${table} SELECT g, 'by-d' FROM generate_series(701, 750) g`);
    await waitFor(() => d.status().eventsPublished >= 50, 30000, 'D published 50');
    const recs = await consume([topic], (r) => r.length >= 760, 60000);
    const keys = recs.map((r) => `${String(r.json!.op)}:${(r.json!.after as { id: number }).id}`);
    expect(keys.length).toBe(760);
    expect(new Set(keys).size).toBe(760);
    for (let i = 701; i <= 750; i++) expect(keys).toContain(`c:${i}`);
    await c.end();
  }, 120_000);
});
