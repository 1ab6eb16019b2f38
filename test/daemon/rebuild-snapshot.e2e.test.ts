// `cdc-fanout rebuild --from snapshot` on the real stack, for Elasticsearch and ClickHouse (the
// stack's 18.16), under live writes, on a data topic with `cleanup.policy: delete` whose history is
// gone: after the sinks streamed the table (and some live changes), every record of the topic is
// deleted (DeleteRecords up to the high watermark — what retention does to old segments), so offset 0
// of the topic holds nothing of the table's base rows and a rebuild `--from log` could not recover
// them. The rebuild requests an incremental snapshot through the signal table, feeds the new
// generation from the topics' ends plus that snapshot, and swaps. The Elasticsearch rebuild is killed
// (SIGKILL) after it requested the snapshot and resumed. Both targets then equal Postgres row by row,
// and Elasticsearch readers never saw fewer than BASE documents.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { generationSuffix as chSuffix } from '../../src/sinks/clickhouse/generations.js';
import { generationSuffix as esSuffix } from '../../src/sinks/elasticsearch/generations.js';
import type { DaemonHarness } from '../support/daemon-harness.js';
import { testKafka } from '../support/kafka.js';
import { chCount, chQuery, chRebuildState, chRows, chSinkYaml, esDocs, esRebuildState, esSinkYaml, liveLoadHarness, liveLoadYaml, LiveLoad, RebuildRuns, runName, waitEqual } from '../support/live-load.js';

const ep = endpoints();
const T = runName('rbs');
const TOPIC = `${T}.public.${T}`;
const INDEX = TOPIC;
const CHECKPOINTS = `cdc-fanout-checkpoints-${T}`;
const ES_GROUP = `cdc-fanout.${T}.search`;
const CH_GROUP = `cdc-fanout.${T}.warehouse`;
const DB = T;
const TABLE = `public_${T}`;
const CURRENT = `${DB}.${TABLE}_current`;
const es = new Client({ node: ep.elasticsearchUrl });
const ch = createClient({ url: ep.clickhouseUrl, log: { level: 127 } });
const kafka = testKafka();

let h: DaemonHarness;
let load: LiveLoad;
let search: RebuildRuns;
let warehouse: RebuildRuns;

const esState = () => esRebuildState(es, CHECKPOINTS, ES_GROUP);
const chState = () => chRebuildState(ch, DB, CH_GROUP);
const reconcileEs = async (): Promise<string[]> => load.diff(await esDocs(es, INDEX), 'es');
const reconcileCh = async (): Promise<string[]> => load.diff(await chRows(ch, CURRENT), 'ch');

// Both sinks; the source's topics delete old records (retention) instead of compacting them.
const SINKS = [esSinkYaml({ name: 'search', table: T, checkpoints: CHECKPOINTS }), chSinkYaml({ name: 'warehouse', table: T, database: DB })];
const SOURCE = ['topic.cleanup.policy: delete'];

/** The sum of the data topic's high watermarks. */
async function topicEnd(): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(TOPIC)).reduce((s, p) => s + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  ({ h, load } = await liveLoadHarness(T, 'cdc-fanout-rebuild-snap-', SINKS, [...SOURCE, `signal.data.collection: public.${T}_signal`]));
  search = new RebuildRuns(h, 'search');
  warehouse = new RebuildRuns(h, 'warehouse');
  // The same pipeline without a signal table, for the error check (never run).
  mkdirSync(join(h.dir, 'nosignal'));
  writeFileSync(join(h.dir, 'nosignal', 'p.yaml'), liveLoadYaml(T, SINKS, SOURCE));
}, 60_000);

afterAll(async () => {
  await load?.close();
  await ch.close();
  await h?.cleanup({ tables: [`public.${T}`, `public.${T}_signal`], indices: [`${INDEX}*`, CHECKPOINTS], clickhouse: { databases: [DB] } });
}, 60_000);

describe('rebuild --from snapshot', () => {
  it('rebuilds Elasticsearch and ClickHouse from a fresh snapshot when the delete-retention topic lost its history, under live writes, equal to Postgres', { timeout: 1_200_000 }, async () => {
    const BASE = load.base;
    // The refusal needs no daemon: it runs while the daemon starts and streams the table.
    const noSignalRun = new RebuildRuns(h, 'search', join(h.dir, 'nosignal')).run(['--from', 'snapshot']);
    await h.start();
    await h.waitFor(`${BASE} documents and rows`, async () => (await es.indices.exists({ index: INDEX })) && (await es.count({ index: INDEX })).count >= BASE && (await chCount(ch, CURRENT).catch(() => 0)) >= BASE, 180_000);
    const noSignal = await noSignalRun;
    expect(noSignal.code).toBe(1);
    expect(noSignal.stderr).toContain('--from snapshot needs source.signal.data.collection');

    const writer = load.startWriter();
    const reader = load.startCountReader(async () => (await es.count({ index: INDEX })).count);
    // Live changes reach the topic before its history goes (not only the initial load is lost).
    const loaded = await topicEnd();
    await h.waitFor('live changes in the data topic', async () => (await topicEnd()) >= loaded + 20, 60_000, 100);
    // Retention: everything the topic held so far is gone.
    const admin = kafka.admin();
    await admin.connect();
    const before = await admin.fetchTopicOffsets(TOPIC);
    await admin.deleteTopicRecords({ topic: TOPIC, partitions: before.map((p) => ({ partition: p.partition, offset: p.high })) });
    const after = await admin.fetchTopicOffsets(TOPIC);
    await admin.disconnect();
    for (const p of after) expect(BigInt(p.low)).toBeGreaterThanOrEqual(BigInt(before.find((b) => b.partition === p.partition)!.high));
    const lost = before.reduce((s, p) => s + Number(p.high), 0);
    expect(lost).toBeGreaterThanOrEqual(BASE);

    // Elasticsearch: killed once the snapshot was requested (building), then resumed.
    await search.killedWhen('after it requested its snapshot', async () => (await esState())?.snapshot?.signal !== undefined, ['--from', 'snapshot', '--grace', '0']);
    const killed = await esState();
    expect(killed).toMatchObject({ generation: 1, phase: 'building', from: 'snapshot', snapshot: { tables: [`public.${T}`] } });
    // The generation starts at the topics' ends of before the request, not at offset 0.
    for (const o of killed?.snapshot?.startAt ?? []) expect(BigInt(o.offset)).toBeGreaterThanOrEqual(BigInt(after.find((p) => p.partition === o.partition)!.low));

    // Resuming with another --from is refused.
    const wrong = await search.run(['--from', 'log']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('--from snapshot to resume it');

    const r2 = await search.run(['--from', 'snapshot', '--grace', '0'], 600_000);
    expect(r2.stderr).toBe('');
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain('generation 1 is live (resumed)');
    expect(Object.keys(await es.indices.get({ index: INDEX }))).toEqual([`${INDEX}${esSuffix(ES_GROUP, 1)}`]);

    // ClickHouse, writes still running.
    const r3 = await warehouse.run(['--from', 'snapshot', '--grace', '0'], 600_000);
    expect(r3.stderr).toBe('');
    expect(r3.code).toBe(0);
    expect(r3.stdout).toContain('generation 1 is live');
    expect(await chState()).toMatchObject({ generation: 1, phase: 'done', from: 'snapshot', snapshot: { done: true } });
    const gen1 = `${TABLE}${chSuffix(CH_GROUP, 1)}`;
    expect((await chQuery(ch)<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${DB}' AND name = '${gen1}'`)).length).toBe(0);

    const changes = await writer.stop();
    expect(changes).toBeGreaterThan(0);
    await Promise.all([waitEqual('Elasticsearch equal to Postgres', reconcileEs, { harness: h }), waitEqual('ClickHouse equal to Postgres', reconcileCh, { harness: h })]);
    expect(await reconcileEs()).toEqual([]);
    expect(await reconcileCh()).toEqual([]);
    // (After the contents: a rebuild that skipped the snapshot must fail on them, not only on its output.)
    expect(r3.stdout).toMatch(/snapshot of public\.\S+: \d+ of ~\d+ rows read|waiting for the daemon to start the snapshot/);
    const seen = await reader.stop();
    console.log(`rebuild --from snapshot: ${lost} records deleted from the topic, ${changes} writer transactions; ES reader ${seen.reads} reads, min ${seen.min}, errors ${seen.errors.length}`);
    expect(seen.errors).toEqual([]);
    expect(seen.min).toBeGreaterThanOrEqual(BASE);
  });
});
