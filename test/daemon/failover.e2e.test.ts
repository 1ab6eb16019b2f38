/**
 * Promotion of a standby under the daemon (issue 19.2, "every sink reconciles"): a real zonky
 * PostgreSQL 17 primary + streaming hot standby (test/support/pg-cluster.ts; CDC_FAILOVER_PG picks
 * another 17+ build), slot sync configured as docs/ha.md says (synchronized_standby_slots on the
 * primary, sync_replication_slots on the standby). `cdc-fanout run` as a child process runs one
 * pipeline with `database.hosts` listing both servers, `slot.failover: true`, and the three sinks on
 * the shared stack (Elasticsearch, ClickHouse, Redis write-through; unique index/database/keys).
 *
 * Mixed load (multi-row transactions: inserts, an update, a delete), each transaction also writing
 * its number of change events into an uncaptured `audit` table — so after the crash the promoted
 * server itself says how many change events committed (async replication may have lost the
 * primary's last transactions; those must not be in Kafka either). Then `pg_ctl stop -m immediate`
 * of the primary under load; the daemon's supervisor keeps restarting the source (no primary in
 * database.hosts), the standby is promoted, the next restart finds it and continues from the synced
 * slot; more load on the new primary; a new table (numeric column) created on it while the old
 * primary, first in database.hosts, is still down — ClickHouse must get its types from the source
 * catalog on the promoted server. The pipeline also has a signal table, whose watcher holds a
 * connection to the primary (its unhandled 'error' used to kill the daemon at the crash).
 * Asserted: every sink equals the promoted server's table row
 * by row; Kafka read_committed holds every committed change event exactly once, counted by
 * (key, cdc.commit_lsn, cdc.seq, op) — 0 lost, 0 duplicated, none the new primary does not have.
 *
 * 30–45 s here (2 shared cores); skipped (reason in the suite name) when zonky binaries cannot be had.
 */
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { checkKafka } from '../../scripts/verify/kafka-check.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { pgClusterSupport, startPair, type PgNode, type PgPair } from '../support/pg-cluster.js';
import { waitFor } from './helpers.js';

const support = pgClusterSupport(process.env.CDC_FAILOVER_PG ?? '17', 17);
const bin = 'bin' in support ? support.bin : null;
const major = 'major' in support ? support.major : 0;
const ep = endpoints();
const run = `dfo_${Date.now().toString(36)}`;
const TOPIC = `${run}.public.t`;
const REDIS_DB = 12;
const REDIS_URL = `${ep.redisUrl.replace(/\/\d*$/, '')}/${REDIS_DB}`;
const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });

let h: DaemonHarness | undefined;
let pair: PgPair | null = null;
let redis: Redis;

type Rows = Map<number, string>; // id → v

function yaml(p: PgPair): string {
  return pipelineYaml({
    name: run,
    server: [`database.hosts: 127.0.0.1:${p.primary.port},127.0.0.1:${p.standby.port}`, 'database.user: postgres', 'database.dbname: postgres'],
    tables: `'public\\.t2?'`,
    source: ['slot.failover: true', 'heartbeat.interval.ms: 300', 'slot.health.interval.ms: 500', 'table.discovery.interval.ms: 1000', 'signal.data.collection: public.signals'],
    sinks: `  - name: search
    type: elasticsearch
    url: ${ep.elasticsearchUrl}
  - name: analytics
    type: clickhouse
    url: ${ep.clickhouseUrl}
    database: ${run}
  - name: cache
    type: redis
    url: ${REDIS_URL}
    table.default: { keys: ["${run}:{table}:{id}"], mode: write-through }
`,
  });
}

/**
 * Mixed load on `node` until it fails or stop(): per transaction 5 inserts, an update of an earlier
 * row and (every third) a delete; the transaction's change-event count goes into `audit`.
 */
function load(node: PgNode, startId: number): { stop(): Promise<number>; next: () => number } {
  let stopped = false;
  let nextId = startId;
  let txs = 0;
  const done = (async () => {
    while (!stopped) {
      const base = nextId;
      nextId += 5;
      try {
        await node.sql(
          `WITH i AS (INSERT INTO t SELECT g, 'ins' FROM generate_series(${base}, ${base + 4}) g RETURNING 1),
                u AS (UPDATE t SET v = 'upd-' || ${base} WHERE id = ${base - 3} RETURNING 1),
                d AS (DELETE FROM t WHERE id = ${base - 7} AND ${base} % 3 = 0 RETURNING 1)
           INSERT INTO audit SELECT (SELECT count(*) FROM i) + (SELECT count(*) FROM u) + (SELECT count(*) FROM d)`,
        );
        txs++;
      } catch {
        return; // the primary went away
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return txs;
    },
    next: () => nextId,
  };
}

async function table(node: PgNode): Promise<Rows> {
  return new Map((await node.sql<{ id: number; v: string }>('SELECT id, v FROM t')).map((r) => [r.id, r.v]));
}

function diff(want: Rows, got: Rows): string[] {
  const out: string[] = [];
  for (const [id, v] of want) if (got.get(id) !== v) out.push(`id ${id}: postgres v=${v}, sink ${got.has(id) ? `v=${got.get(id)}` : 'missing'}`);
  for (const [id, v] of got) if (!want.has(id)) out.push(`id ${id}: in the sink (v=${v}), not in postgres`);
  return out;
}

async function esRows(t = 't'): Promise<Rows> {
  const index = `${run}.public.${t}`.toLowerCase();
  await fetch(`${ep.elasticsearchUrl}/${index}/_refresh`, { method: 'POST' });
  const res = await fetch(`${ep.elasticsearchUrl}/${index}/_search?size=10000`);
  if (!res.ok) return new Map();
  const body = (await res.json()) as { hits: { hits: { _source: { id: number; v: string | number } }[] } };
  return new Map(body.hits.hits.map((h) => [h._source.id, String(h._source.v)]));
}

async function chRows(t = 't'): Promise<Rows> {
  const rs = await ch.query({ query: `SELECT id, v FROM ${run}.public_${t} FINAL WHERE _deleted = 0`, format: 'JSONEachRow' });
  const rows = await rs.json<{ id: number; v: string | number }>();
  const out: Rows = new Map(rows.map((r) => [Number(r.id), String(r.v)]));
  if (out.size !== rows.length) throw new Error(`clickhouse holds ${rows.length - out.size} duplicated keys`);
  return out;
}

async function redisRows(t = 't'): Promise<Rows> {
  const out: Rows = new Map();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${run}:${t}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    for (const v of await redis.mget(...keys)) {
      if (v === null) continue;
      const row = JSON.parse(v) as { id: number; v: string | number };
      out.set(row.id, String(row.v));
    }
  } while (cursor !== '0');
  return out;
}

beforeAll(async () => {
  if (!bin) return;
  h = await DaemonHarness.create({ name: run, tmpPrefix: 'cdc-fanout-failover-' });
  redis = new Redis(REDIS_URL);
  pair = await startPair(bin, major, { primary: { synchronized_standby_slots: 'standby1' }, standby: { sync_replication_slots: 'on' } });
  h.writeConfig(yaml(pair));
}, 180_000);

afterAll(async () => {
  await h?.daemon?.stop('SIGKILL');
  pair?.destroy(); // the slots live only in the private cluster
  if (!bin || !h) return;
  redis.disconnect();
  await ch.close();
  await h.cleanup({
    pg: false,
    topicPrefix: `${run}.`,
    indices: [TOPIC, `${run}.public.t2`],
    clickhouse: { databases: [run] },
    redis: { url: REDIS_URL, patterns: [`${run}:*`, `cdc:ver@cdc-fanout.${run}.*`], keys: [`cdc:offsets:cdc-fanout.${run}.cache`] },
  });
}, 120_000);

const title = `daemon failover: promotion of a streaming standby (PostgreSQL ${major || 17}, failover slot, ES + ClickHouse + Redis)`;
describe.skipIf(!bin)('skip' in support ? `${title} — SKIPPED: ${support.skip}` : title, () => {
  it('the supervisor finds the promoted standby and continues from the synced slot: every sink reconciles; 0 lost, 0 duplicated in Kafka', async () => {
    const p = pair!;
    await p.primary.sql('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await p.primary.sql('CREATE TABLE audit (n int NOT NULL)');
    await p.primary.sql(`INSERT INTO t SELECT g, 'seed' FROM generate_series(1, 200) g`);
    const harness = h!;
    const d = await harness.start();
    onTestFailed(() => console.log(`daemon output (last 6000 chars):\n${d.output().slice(-6000)}`));
    const status = () => harness.pipeline();
    await waitFor('source RUNNING on the primary', async () => (await status()).source.state === 'RUNNING', 120_000);

    const w = load(p.primary, 1000);
    await waitFor('load flowing through the source', async () => (await status()).source.eventsPublished > 600, 120_000);
    // The failover slot is synced (persistent) on the standby and confirmed past a mark taken under load.
    const mark = (await p.primary.sql<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l;
    await waitFor(
      'failover slot synced to the standby past the mark',
      async () => (await p.standby.sql<{ ok: boolean }>(`SELECT synced AND NOT temporary AND confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2`, [mark, `${run}_slot`]))[0]?.ok === true,
      60_000,
    );
    const restartsBefore = (await status()).source.restarts;

    // Hard stop under load; the supervisor's restarts fail while no server is primary.
    p.primary.crash();
    const txsBefore = await w.stop();
    expect(txsBefore).toBeGreaterThan(0);
    // /pipelines says why the source is down (FAILED with the reason, not a silent restart loop).
    const down = await waitFor(
      'the source FAILED for want of a primary',
      async () => {
        const s = (await status()).source;
        return s.state === 'FAILED' && /no primary among the Postgres servers of database\.hosts/.test(s.reason ?? '') ? s : undefined;
      },
      90_000,
      100,
    );
    expect(down.reason).toContain(`127.0.0.1:${p.standby.port}: standby (in recovery)`);
    expect(down.nextRestartAt).toBeDefined();
    p.standby.promote();

    await waitFor(
      'source RUNNING again, on the promoted standby',
      async () => {
        const s = (await status()).source;
        return s.state === 'RUNNING' && s.restarts > restartsBefore;
      },
      120_000,
      200,
    );
    const eventsAtTakeover = (await status()).source.eventsPublished;
    const w2 = load(p.standby, w.next() + 100);
    await waitFor('the source publishes from the new primary', async () => (await status()).source.eventsPublished > eventsAtTakeover + 200, 120_000);
    const txsAfter = await w2.stop();
    expect(txsAfter).toBeGreaterThan(0);
    await p.standby.sql(`INSERT INTO t VALUES (-1, 'sentinel')`);
    await p.standby.sql('INSERT INTO audit VALUES (1)');

    // A table created after the failover (the old primary, first in database.hosts, still down):
    // discovered, snapshotted, and created in ClickHouse with the column types read from the source
    // catalog — which has to skip the dead first server.
    await p.standby.sql('CREATE TABLE t2 (id int PRIMARY KEY, v numeric(10,2))');
    await p.standby.sql(`INSERT INTO t2 SELECT g, g / 4.0 FROM generate_series(1, 50) g`);

    // Every sink equals the promoted server's table, row by row.
    const want = await table(p.standby);
    const sinks: [string, (t?: string) => Promise<Rows>][] = [
      ['elasticsearch', esRows],
      ['clickhouse', chRows],
      ['redis', redisRows],
    ];
    for (const [name, read] of sinks) {
      let last: string[] = [];
      await waitFor(
        `${name} to equal the promoted server's table`,
        async () => {
          last = diff(want, await read().catch(() => new Map<number, string>()));
          return last.length === 0;
        },
        180_000,
        1000,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}; first differences: ${last.slice(0, 5).join('; ')} (${last.length} in all)`);
      });
    }

    await waitFor(
      'public.t2 in every sink',
      async () => {
        const [es, chr, rd] = await Promise.all([esRows('t2'), chRows('t2'), redisRows('t2')]);
        return [es, chr, rd].every((m) => m.size === 50 && Number(m.get(50)) === 12.5 && Number(m.get(1)) === 0.25);
      },
      180_000,
      1000,
    );
    const chType = await ch.query({ query: `SELECT type FROM system.columns WHERE database = '${run}' AND table = 'public_t2' AND name = 'v'`, format: 'JSONEachRow' });
    // numeric(10,2) from the catalog (inferred from values it would not be a Decimal of that precision).
    expect((await chType.json<{ type: string }>()).map((r) => r.type)).toEqual(['Nullable(Decimal(10, 2))']);

    // Kafka read_committed: every change event the promoted server committed, exactly once.
    const expected = Number((await p.standby.sql<{ n: string }>('SELECT sum(n)::text AS n FROM audit'))[0]!.n);
    // scripts/verify's checker: reads until `expected` + the seed's snapshot reads, then until 5 s pass quietly.
    const k = await checkKafka(ep.kafkaBrokers, [TOPIC], expected, expected + 200, 180_000);
    const text = JSON.stringify(k);
    expect(k.withoutPosition, text).toBe(0);
    expect(k.duplicates, text).toBe(0);
    expect(k.missingChangeEvents, text).toBe(0);
    expect(k.examples, text).toEqual([]); // would name change events the promoted server never committed
    expect(k.byOp.r, text).toBe(200); // the seed's snapshot, once

    const after = await status();
    expect(after.source.state).toBe('RUNNING');
    expect(after.sinks.map((s) => s.state)).toEqual(['RUNNING', 'RUNNING', 'RUNNING']);
    // The restart connected to the promoted standby (source log line at start).
    expect(d.output()).toContain(`"server":"127.0.0.1:${p.standby.port}"`);
    console.log(
      `failover e2e (PG ${major}): ${txsBefore} tx before the crash, ${txsAfter} after; ${expected} change events committed, Kafka ${k.records} records (${JSON.stringify(k.byOp)}, ${k.tombstones} tombstones); ${want.size} rows; source restarts ${after.source.restarts - restartsBefore}`,
    );
  }, 400_000);
});
