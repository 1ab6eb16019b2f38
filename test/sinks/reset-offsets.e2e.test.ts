/**
 * `cdc-fanout reset-offsets --to earliest` for every sink type on the real stack (issue 17): one
 * pipeline with an Elasticsearch, a ClickHouse, a Redis (write-through) and a webhook sink, run by
 * the real daemon until every target equals the table; daemon stopped; each sink reset to the
 * earliest offsets — the command succeeds and the sink's OWN offset store (read back through its
 * plugin, as the runtime reads it) holds the earliest offset of every partition, backwards from
 * where it was; the restarted daemon re-delivers everything and every target ends in the table's
 * state again (versions make the replay re-apply to the same end state), with its offsets back at
 * the end of the topic. `--to <ISO time>` moves a sink to the first offset at or after that time.
 */
import { Client as EsClient } from '@elastic/elasticsearch';
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { loadSinkPlugin } from '../../src/sinks/registry.js';
import type { PartitionOffset } from '../../src/sinks/sink.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { testKafka } from '../support/kafka.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const ep = endpoints();
const run = Date.now().toString(36);
const T = `rst_${run}`;
const SECRET = `rst-secret-${run}-0123456789`;
const receiver = new WebhookReceiver(SECRET);
const es = new EsClient({ node: ep.elasticsearchUrl });
const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });
const redis = new Redis(ep.redisUrl);
const kafka = testKafka();
const topic = `${T}.public.${T}`;
let h: DaemonHarness;
let db: pg.Client;

/** Each sink's own fields (also written to the config file as YAML flow mappings, i.e. JSON). */
let sinks: Record<string, { type: string; own: Record<string, unknown> }> = {};
const sinkConfigs = (): typeof sinks => ({
  search: { type: 'elasticsearch', own: { url: ep.elasticsearchUrl, 'index.name.template': `${T}.{table}`, 'checkpoint.index': `${T}-checkpoints`, refresh: 'wait_for' } },
  warehouse: { type: 'clickhouse', own: { url: ep.clickhouseUrl, database: T } },
  cache: { type: 'redis', own: { url: ep.redisUrl, tables: [`public.${T}`], 'table.overrides': { [`public.${T}`]: { keys: [`${T}:item:{id}`], mode: 'write-through' } } } },
  hooks: { type: 'webhook', own: { url: receiver.url, 'signature.secret': SECRET, 'request.concurrency': 3 } },
});

beforeAll(async () => {
  await receiver.up();
  sinks = sinkConfigs(); // the receiver's url is known once it listens
  h = await DaemonHarness.create({ name: T, tmpPrefix: 'cdc-fanout-reset-' });
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${T} (id int PRIMARY KEY, name text)`);
  const sinkYaml = Object.entries(sinks)
    .map(([name, s]) => `  - ${JSON.stringify({ name, type: s.type, tables: [`public.${T}`], 'batch.max.wait.ms': 50, ...s.own })}`)
    .join('\n');
  h.writeConfig(pipelineYaml({ name: T, tables: `public.${T}`, sinks: sinkYaml }));
}, 60_000);

afterAll(async () => {
  await db.end();
  await es.close();
  await ch.close();
  await redis.quit();
  await receiver.close();
  await h.cleanup({ tables: [`public.${T}`], indices: [`${T}*`], clickhouse: { databases: [T] }, redis: { patterns: [`*${T}*`] } });
}, 120_000);

type Rows = Map<number, string>;

async function tableRows(): Promise<Rows> {
  const { rows } = await db.query<{ id: number; name: string }>(`SELECT id, name FROM public.${T}`);
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** What each target holds for the table: id → name. */
const targets: Record<string, () => Promise<Rows>> = {
  async search() {
    await es.indices.refresh({ index: `${T}.${T}`, ignore_unavailable: true });
    const r = await es.search<{ id: number; name: string }>({ index: `${T}.${T}`, size: 10_000, ignore_unavailable: true, query: { match_all: {} } });
    return new Map(r.hits.hits.map((h) => [h._source!.id, h._source!.name]));
  },
  async warehouse() {
    const exists = await (await ch.query({ query: `EXISTS TABLE ${T}.public_${T}`, format: 'TabSeparated' })).text();
    if (exists.trim() !== '1') return new Map();
    const rs = await ch.query({ query: `SELECT id, name FROM ${T}.public_${T} FINAL WHERE _deleted = 0`, format: 'JSONEachRow' });
    return new Map((await rs.json<{ id: number; name: string }>()).map((r) => [Number(r.id), r.name]));
  },
  async cache() {
    const keys = await redis.keys(`${T}:item:*`);
    const out: Rows = new Map();
    for (const k of keys) {
      const v = await redis.get(k);
      if (v !== null) {
        const row = JSON.parse(v) as { id: number; name: string };
        out.set(row.id, row.name);
      }
    }
    return out;
  },
  hooks() {
    const out: Rows = new Map();
    for (const v of receiver.state(`public.${T}`).values()) if (v) out.set(Number(v.id), String(v.name));
    return Promise.resolve(out);
  },
};

/** True when every target equals the table; otherwise throws naming the ones that do not (waitFor reports the last). */
async function allMatch(): Promise<true> {
  const table = await tableRows();
  const want = JSON.stringify([...table].sort(([a], [b]) => a - b));
  const behind: string[] = [];
  for (const [name, read] of Object.entries(targets)) {
    const got = await read();
    if (JSON.stringify([...got].sort(([a], [b]) => a - b)) !== want) behind.push(`${name} (${got.size} rows, ${[...table].filter(([id, v]) => got.get(id) !== v).length} differ)`);
  }
  if (behind.length) throw new Error(`not equal to the table's ${table.size} rows: ${behind.join(', ')}`);
  return true;
}

/** The offsets in the sink's own store, read through its plugin exactly as the runtime does. */
async function storedOffsets(name: string, partitions: readonly number[]): Promise<PartitionOffset[]> {
  const s = sinks[name]!;
  const plugin = await loadSinkPlugin(s.type);
  const sink = plugin.create(plugin.spec.parse(s.own), {
    pipeline: T,
    sinkName: name,
    topicPrefix: T,
    logger: silentLogger,
    kafka: kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(',') }),
  });
  await sink.open();
  try {
    return (await sink.loadOffsets(partitions.map((partition) => ({ topic, partition })))).sort((a, b) => a.partition - b.partition);
  } finally {
    await sink.close();
  }
}

it('reset-offsets --to earliest rewinds every sink type\'s own store; the re-delivery ends in the same state', { timeout: 420_000 }, async () => {
  await h.start();
  await db.query(`INSERT INTO public.${T} (id, name) SELECT g, 'row ' || g FROM generate_series(1, 120) g`);
  await db.query(`UPDATE public.${T} SET name = name || ' v2' WHERE id % 3 = 0`);
  await db.query(`DELETE FROM public.${T} WHERE id % 10 = 0`);
  await h.waitFor('every target to equal the table', allMatch, 180_000, 1000);
  expect(await h.stop('SIGTERM')).toBe(0);

  const admin = kafka.admin();
  await admin.connect();
  const marks = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const partitions = marks.map((m) => m.partition).sort((a, b) => a - b);
  const at = (which: 'low' | 'high'): PartitionOffset[] => marks.map((m) => ({ topic, partition: m.partition, offset: m[which] })).sort((a, b) => a.partition - b.partition);
  expect(at('high').some((o) => o.offset !== '0')).toBe(true);

  for (const name of Object.keys(sinks)) {
    // every sink consumed to the end before the stop (the final commit markers included)
    expect(await storedOffsets(name, partitions), `${name} before the reset`).toEqual(at('high'));
    const reset = await h.cli(['reset-offsets', T, '--config', h.cfgDir, '--sink', name, '--to', 'earliest', '--yes']);
    expect(reset.stderr, name).toBe('');
    expect(reset.code, name).toBe(0);
    expect(await storedOffsets(name, partitions), `${name} after the reset`).toEqual(at('low'));
  }

  const before = receiver.delivered.length;
  const seen = new Set(receiver.seen);
  await h.start();
  // a change after the reset too: the replayed older events must not win over it
  await db.query(`UPDATE public.${T} SET name = name || ' v3' WHERE id % 4 = 0`);
  await h.waitFor('every sink back at the end of the topic', async () => {
    const admin2 = kafka.admin();
    await admin2.connect();
    const end = await admin2.fetchTopicOffsets(topic).finally(() => admin2.disconnect());
    const want = JSON.stringify(end.map((m) => ({ topic, partition: m.partition, offset: m.high })).sort((a, b) => a.partition - b.partition));
    for (const name of Object.keys(sinks)) if (JSON.stringify(await storedOffsets(name, partitions)) !== want) return false;
    return true;
  }, 180_000, 2000);
  await h.waitFor('every target to equal the table again', allMatch, 60_000, 1000);
  // the webhook re-delivered the old events under their old ids
  expect(receiver.delivered.length - before).toBeGreaterThanOrEqual(seen.size);
  expect(await h.stop('SIGTERM')).toBe(0);

  // --to <time>: the first offset at or after it — a time before every event is the start, one after
  // every event the end
  const admin3 = kafka.admin();
  await admin3.connect();
  const now = await admin3.fetchTopicOffsets(topic).finally(() => admin3.disconnect());
  const ends = (which: 'low' | 'high'): PartitionOffset[] => now.map((m) => ({ topic, partition: m.partition, offset: m[which] })).sort((a, b) => a.partition - b.partition);
  for (const [to, want] of [['2001-01-01T00:00:00Z', ends('low')], [new Date(Date.now() + 3_600_000).toISOString(), ends('high')]] as const) {
    const r = await h.cli(['reset-offsets', T, '--config', h.cfgDir, '--sink', 'cache', '--to', to, '--yes']);
    expect(r.stderr, to).toBe('');
    expect(r.code, to).toBe(0);
    expect(await storedOffsets('cache', partitions), to).toEqual(want);
  }
});
