/**
 * Events larger than Kafka accepts, on the real stack (issue 13, deliverable 3):
 *  - schemas.enable=true with default settings: 2048 wide events per batch are ~2–8 MB; before,
 *    nothing reached Kafka ("Producing messages failed." forever). Now every row arrives.
 *  - one ~5 MB TOASTed text under event.oversize.handling.mode fail / truncate / skip.
 *  - a data topic created beforehand with a small max.message.bytes is respected (batches split
 *    below it, an oversize event truncated below it).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/observability/metrics.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafka, kafkaConfig, oneTableSource, pgClient, uniq, waitFor, type ConsumedRecord } from './helpers.js';

const logger = process.env.CDC_TEST_LOG ? createLogger() : silentLogger;
const sources: PostgresSource[] = [];
const ids: string[] = [];
const BIG = 5 * 1024 * 1024;

afterAll(async () => {
  for (const s of sources) await s.stop().catch(() => undefined);
  for (const id of ids) await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: id.replace(/_/g, '-'), tables: [`public.${id}`] });
}, 120_000);

function names(kind: string): { id: string; table: string; topic: string } {
  const id = uniq(`src_big_${kind}`);
  ids.push(id);
  return { id, table: `public.${id}`, topic: `${id.replace(/_/g, '-')}.public.${id}` };
}

async function topicMaxMessageBytes(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['max.message.bytes'] }] });
    return Number(r.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
  } finally {
    await admin.disconnect();
  }
}

async function start(id: string, extra: Record<string, unknown>): Promise<PostgresSource> {
  const s = new PostgresSource(oneTableSource(id, extra), kafkaConfig, logger);
  sources.push(s);
  await s.start();
  await waitFor(() => s.status().state === 'streaming' || s.status().state === 'failed', 60_000, 'streaming');
  return s;
}

function idOf(r: ConsumedRecord): number {
  const k = JSON.parse(r.key ?? '{}') as { id?: number; payload?: { id: number } };
  return Number(k.payload?.id ?? k.id);
}

describe('oversize events', () => {
  it('schemas.enable=true with default batching: a few thousand wide rows all reach Kafka', async () => {
    const { id, table, topic } = names('schema');
    const ROWS = 3000;
    const c = await pgClient();
    try {
      // ~15 columns of realistic width: with the Connect schema each event is ~4 KB.
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text, email text, city text, street text, zip text, note text,
        amount numeric(12,2), qty int, ratio double precision, active boolean, created timestamptz, updated timestamp, birthday date, tags text[], doc jsonb)`);
      const row = `g, 'name ' || g, 'user' || g || '@example.com', 'city ' || (g % 97), repeat('street ', 8) || g, lpad(g::text, 5, '0'), repeat('note ', 60),
        g * 1.25, g % 17, g / 7.0, g % 2 = 0, now(), now()::timestamp, date '2000-01-01' + g, ARRAY['a','b',g::text], jsonb_build_object('k', g, 'v', repeat('j', 200))`;
      await c.query(`INSERT INTO ${table} SELECT ${row} FROM generate_series(1, ${ROWS}) g`);
      const s = await start(id, { 'schemas.enable': true });
      // Streaming too: one transaction of 2,500 wide rows (one Kafka transaction, several requests).
      await c.query(`INSERT INTO ${table} SELECT ${row} FROM generate_series(${ROWS + 1}, ${ROWS + 2500}) g`);
      const recs = await consume([topic], (r) => r.length >= ROWS + 2500, 120_000);
      expect(s.status().error).toBeNull();
      expect(recs).toHaveLength(ROWS + 2500); // no duplicates
      expect(new Set(recs.map(idOf)).size).toBe(ROWS + 2500);
      const sizes = recs.map((r) => Buffer.byteLength(r.value ?? '', 'utf8'));
      expect(Math.min(...sizes)).toBeGreaterThan(3000);
      expect((recs[0]?.json as { schema?: unknown }).schema).toBeDefined();
      // The topic was created with max.message.bytes = max.request.size.
      expect(await topicMaxMessageBytes(topic)).toBe(kafkaConfig['max.request.size']);
    } finally {
      await c.end();
    }
  }, 240_000);

  it('fail: stops with an error naming table, key, size and limit; nothing after it is published', async () => {
    const { id, table, topic } = names('fail');
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, body text)`);
      const s = await start(id, {});
      await c.query(`INSERT INTO ${table} VALUES (1, 'small')`);
      await consume([topic], (r) => r.length >= 1);
      await c.query(`INSERT INTO ${table} VALUES (2, repeat('x', ${BIG}))`);
      await c.query(`INSERT INTO ${table} VALUES (3, 'after')`);
      const err = await s.whenStopped().then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err?.name).toBe('OversizeEventError');
      expect(s.status().state).toBe('failed');
      const msg = s.status().error ?? '';
      expect(msg).toContain(table);
      expect(msg).toContain('{"id":2}');
      expect(msg).toMatch(/5,2\d\d,\d{3} bytes/);
      expect(msg).toContain(`accepts at most ${kafkaConfig['max.request.size'].toLocaleString('en-US')} bytes`);
      expect(msg).toContain('event.oversize.handling.mode');
      expect(msg).toContain('max.message.bytes');
      const recs = await consume([topic], () => false, 3000);
      expect(recs.map(idOf)).toEqual([1]);
    } finally {
      await c.end();
    }
  }, 180_000);

  it('truncate: the event arrives cut below the limit, with the marker and the cdc.truncated header', async () => {
    const { id, table, topic } = names('trunc');
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, body text, doc jsonb, small text)`);
      const s = await start(id, { 'event.oversize.handling.mode': 'truncate', 'schemas.enable': true });
      await c.query(`INSERT INTO ${table} VALUES (1, repeat('é', ${BIG / 2}), jsonb_build_object('k', repeat('j', 300000)), 'kept')`);
      await c.query(`INSERT INTO ${table} VALUES (2, 'small', '{}', 'x')`);
      const recs = await consume([topic], (r) => r.length >= 2, 90_000);
      expect(s.status().error).toBeNull();
      recs.sort((a, b) => idOf(a) - idOf(b));
      expect(recs.map(idOf)).toEqual([1, 2]);
      const big = recs[0] as ConsumedRecord;
      expect(Buffer.byteLength(big.value ?? '', 'utf8')).toBeLessThanOrEqual(kafkaConfig['max.request.size']);
      expect(big.headers['cdc.truncated']).toBe('after.body');
      const after = (big.json as { payload: { after: { body: string; doc: string; small: string } } }).payload.after;
      expect(after.small).toBe('kept');
      expect(after.doc.length).toBeGreaterThan(300000); // the second-largest value fits: left whole
      const m = /^(é+)…\[truncated (\d+) bytes\]$/.exec(after.body);
      expect(m).not.toBeNull();
      expect(Buffer.byteLength(m![1]!, 'utf8') + Number(m![2])).toBe(BIG); // kept + removed = original bytes
      expect(recs[1]?.headers['cdc.truncated']).toBeUndefined();
      const counted = (await metrics.sourceEventsOversize.get()).values.find((v) => v.labels.pipeline === id && v.labels.action === 'truncated');
      expect(counted?.value).toBe(1);
    } finally {
      await c.end();
    }
  }, 180_000);

  it('skip: the event is dropped and counted, its position commits, later events flow', async () => {
    const { id, table, topic } = names('skip');
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, body text)`);
      const s = await start(id, { 'event.oversize.handling.mode': 'skip' });
      await c.query(`INSERT INTO ${table} VALUES (1, 'small')`);
      await c.query(`INSERT INTO ${table} VALUES (2, repeat('x', ${BIG}))`);
      const lsn = (await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
      await c.query(`INSERT INTO ${table} VALUES (3, 'after')`);
      const recs = await consume([topic], (r) => r.length >= 2, 90_000);
      expect(recs.map(idOf).sort()).toEqual([1, 3]);
      expect(s.status().error).toBeNull();
      const counted = (await metrics.sourceEventsOversize.get()).values.find((v) => v.labels.pipeline === id && v.labels.action === 'skipped');
      expect(counted?.value).toBe(1);
      // The committed position moved past the skipped event's transaction.
      await waitFor(() => {
        const committed = s.status().lastCommittedLsn;
        return committed !== null && lsnGreater(committed, lsn);
      }, 30_000, 'commit past the skipped event');
    } finally {
      await c.end();
    }
  }, 180_000);

  it('a topic created with a small max.message.bytes is respected', async () => {
    const { id, table, topic } = names('small');
    const LIMIT = 20_000;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'max.message.bytes', value: String(LIMIT) }] }] });
    await admin.disconnect();
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, body text)`);
      await c.query(`INSERT INTO ${table} SELECT g, repeat('r', 1000) FROM generate_series(1, 400) g`);
      await c.query(`INSERT INTO ${table} VALUES (401, repeat('b', 50000))`);
      const s = await start(id, { 'event.oversize.handling.mode': 'truncate' });
      await c.query(`INSERT INTO ${table} SELECT g, repeat('s', 1000) FROM generate_series(402, 800) g`);
      const recs = await consume([topic], (r) => r.length >= 800, 90_000);
      expect(s.status().error).toBeNull();
      expect(new Set(recs.map(idOf)).size).toBe(800);
      const big = recs.find((r) => idOf(r) === 401) as ConsumedRecord;
      expect(big.headers['cdc.truncated']).toBe('after.body');
      expect(Buffer.byteLength(big.value ?? '', 'utf8')).toBeLessThan(LIMIT);
      expect(await topicMaxMessageBytes(topic)).toBe(LIMIT); // left alone
    } finally {
      await c.end();
    }
  }, 180_000);
});

function lsnGreater(a: string, b: string): boolean {
  const v = (x: string): bigint => {
    const [hi, lo] = x.split('/');
    return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
  };
  return v(a) > v(b);
}
