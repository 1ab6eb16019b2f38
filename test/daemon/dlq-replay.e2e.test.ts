// `dlq list` / `dlq replay` on the real stack: Postgres → `cdc-fanout run` (child process) → Kafka →
// Elasticsearch sink with errors.tolerance: dlq and a strict mappings file. A column added in
// Postgres is not in the mapping, so every later change of the table is rejected and dead-lettered.
// Replay before the fix: every record fails again, goes back to the DLQ tail once, and the replay
// ends (exit 3). The fix (the field added to the index mapping), then newer live changes of two of
// the dead-lettered rows, then the replay from the CLI with the daemon stopped: the two older
// dead-lettered changes are skipped as stale, the rest applied, the index reconciled row by row
// against Postgres; a rerun replays nothing and changes nothing. A replay killed (SIGKILL) between
// chunks resumes from its stored position: nothing double-applied (doc _version = commit LSN),
// nothing skipped.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import type { DlqListing, DlqReplayReport } from '../../src/sinks/runtime/dlq-replay.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { waitFor } from './helpers.js';

const ep = endpoints();
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const T = `dlq_${run}`;
const INDEX = `${T}.public.${T}`;
const CHECKPOINTS = `cdc-fanout-checkpoints-${T}`;
const DLQ_TOPIC = `${T}.dlq.search`;
const es = new Client({ node: ep.elasticsearchUrl });

// The CLI's default admin address (h.noDaemonPort) has nothing listening: it must not reach some other daemon.
let h: DaemonHarness;
let dir: string;
let cfgDir: string;
let db: pg.Client;

const cli = (args: string[]): ReturnType<DaemonHarness['cli']> => h.cli(args, 240_000);

async function list(): Promise<DlqListing> {
  const r = await cli(['dlq', 'list', T, '-c', cfgDir, '--sink', 'search', '--json']);
  if (r.code !== 0) throw new Error(`dlq list exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as DlqListing;
}

async function replay(extra: string[] = []): Promise<{ code: number; report: DlqReplayReport; stderr: string }> {
  const r = await cli(['dlq', 'replay', T, '-c', cfgDir, '--sink', 'search', '--json', ...extra]);
  if (r.code !== 0 && r.code !== 3) throw new Error(`dlq replay exited ${r.code}: ${r.stderr}\n${r.stdout}`);
  return { code: r.code, report: JSON.parse(r.stdout) as DlqReplayReport, stderr: r.stderr };
}

interface Row {
  id: number;
  name: string;
  qty: number;
  note: string | null;
}

async function esDocs(): Promise<Map<number, { doc: Partial<Row>; version: number }>> {
  await es.indices.refresh({ index: INDEX });
  const res = await es.search<Partial<Row>>({ index: INDEX, size: 1000, version: true, query: { match_all: {} } });
  return new Map(res.hits.hits.map((h) => [Number(h._id), { doc: h._source ?? {}, version: h._version ?? -1 }]));
}

/** Row-by-row differences between Postgres and the index (empty = reconciled). */
async function reconcile(): Promise<string[]> {
  const rows = (await db.query<Row>(`SELECT id, name, qty, note FROM public.${T} ORDER BY id`)).rows;
  const docs = await esDocs();
  const out: string[] = [];
  for (const r of rows) {
    const d = docs.get(r.id);
    if (!d) out.push(`missing ${r.id}`);
    else if (d.doc.name !== r.name || d.doc.qty !== r.qty || (d.doc.note ?? null) !== r.note) out.push(`stale ${r.id}: pg ${JSON.stringify(r)} es ${JSON.stringify(d.doc)}`);
  }
  for (const id of docs.keys()) if (!rows.some((r) => r.id === id)) out.push(`extra ${id}`);
  return out;
}

beforeAll(async () => {
  h = await DaemonHarness.create({ name: T, tmpPrefix: 'cdc-fanout-dlq-', cliEnv: { CDC_LOG_LEVEL: 'warn' } });
  ({ dir, cfgDir } = h);
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${T} (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`);
  // The user's strict mapping: a column added later in Postgres is refused until the mapping has it.
  writeFileSync(join(dir, 'mappings.json'), JSON.stringify({ dynamic: 'strict', properties: { id: { type: 'long' }, name: { type: 'keyword' }, qty: { type: 'integer' } } }));
  h.writeConfig(
    pipelineYaml({
      name: T,
      tables: `public\\.${T}`,
      sinks: `  - name: search
    type: elasticsearch
    url: ${ep.elasticsearchUrl}
    tables: [public.${T}]
    index.mappings.file: ${join(dir, 'mappings.json')}
    checkpoint.index: ${CHECKPOINTS}
    errors.tolerance: dlq
    batch.max.records: 7
    batch.max.wait.ms: 50
`,
    }),
  );
}, 60_000);

afterAll(async () => {
  await db.end();
  await h.cleanup({ tables: [`public.${T}`], indices: [INDEX, CHECKPOINTS] });
}, 60_000);

describe('dlq replay', () => {
  it('dead-lettered changes are replayed once the cause is fixed: stale ones skipped, failures kept, reruns change nothing, reconciled with Postgres', { timeout: 600_000 }, async () => {
    await h.start();
    await db.query(`INSERT INTO public.${T} (id, name, qty) SELECT g, 'row ' || g, g FROM generate_series(1, 20) g`);
    await waitFor('20 documents', async () => (await es.indices.exists({ index: INDEX })) && (await esDocs()).size === 20, 120_000);

    // The cause: a new column the strict mapping refuses. 20 inserts + 10 updates → 30 dead letters.
    await db.query(`ALTER TABLE public.${T} ADD COLUMN note text`);
    await db.query(`INSERT INTO public.${T} (id, name, qty, note) SELECT g, 'row ' || g, g, 'note ' || g FROM generate_series(21, 40) g`);
    await db.query(`UPDATE public.${T} SET qty = qty + 100, note = 'updated ' || id WHERE id <= 10`);
    const before = await waitFor('30 dead-lettered records', async () => {
      const l = await list();
      return l.total === 30 ? l : undefined;
    }, 120_000);
    expect(before.pending).toBe(30);
    expect(before.tables).toHaveLength(1);
    expect(before.tables[0]).toMatchObject({ table: `public.${T}`, total: 30, pending: 30 });
    expect(before.tables[0]!.errors[0]!.message).toContain('strict_dynamic_mapping_exception');
    expect(before.partitions.every((p) => p.replayedTo === null)).toBe(true);

    // Errors a user can act on.
    const noSink = await cli(['dlq', 'replay', T, '-c', cfgDir, '--sink', 'nope']);
    expect(noSink.code).toBe(1);
    expect(noSink.stderr).toContain(`pipeline "${T}" has no sink "nope" (have: search)`);
    const noPipeline = await cli(['dlq', 'list', 'nope', '-c', cfgDir, '--sink', 'search']);
    expect(noPipeline.code).toBe(1);
    expect(noPipeline.stderr).toContain(`no pipeline "nope"`);
    const badTable = await cli(['dlq', 'replay', T, '-c', cfgDir, '--sink', 'search', '--table', 'public.other']);
    expect(badTable.code).toBe(1);
    expect(badTable.stderr).toContain(`does not consume table "public.other" (its tables: public.${T})`);
    const unreachable = await cli(['dlq', 'replay', T, '-c', cfgDir, '--sink', 'search', '--admin', `http://127.0.0.1:${h.noDaemonPort}`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach the daemon at http://127.0.0.1:${h.noDaemonPort}`);

    // Dry run through the daemon: counts, changes nothing.
    const dry = await replay(['--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toContain('it applies the replay');
    expect(dry.report).toMatchObject({ dryRun: true, read: 30, replayed: 30, failedAgain: 0 });
    expect((await list()).pending).toBe(30);

    // Replay before the fix (the daemon applies it): every record fails again, goes back to the
    // DLQ tail once, and the replay ends (exit 3) — it does not chase its own re-dead-letters.
    const early = await replay();
    expect(early.code).toBe(3);
    expect(early.report).toMatchObject({ dryRun: false, read: 30, replayed: 30, applied: 0, failedAgain: 30, interrupted: false });
    expect(early.report.failures[0]!.error).toContain('strict_dynamic_mapping_exception');
    const afterEarly = await list();
    expect(afterEarly).toMatchObject({ total: 60, pending: 30 });

    // The fix, then newer live changes of two dead-lettered rows (an update and an insert).
    await es.indices.putMapping({ index: INDEX, properties: { note: { type: 'keyword' } } });
    writeFileSync(join(dir, 'mappings.json'), JSON.stringify({ dynamic: 'strict', properties: { id: { type: 'long' }, name: { type: 'keyword' }, qty: { type: 'integer' }, note: { type: 'keyword' } } }));
    await db.query(`UPDATE public.${T} SET name = 'newer', note = 'newest' WHERE id IN (5, 25)`);
    await waitFor('the newer live changes applied', async () => {
      const d = await esDocs();
      return d.get(5)?.doc.name === 'newer' && d.get(25)?.doc.name === 'newer';
    }, 120_000);
    expect((await reconcile()).length).toBeGreaterThan(0); // rows 1-10 (but 5) and 21-40 (but 25) still behind

    // Daemon stopped: the CLI replays in its own process.
    expect(await h.stop()).toBe(0);
    const fixed = await replay();
    expect(fixed.stderr).toContain('replaying in this process');
    expect(fixed.code).toBe(0);
    // 30 pending (the re-dead-lettered copies); rows 5 and 25 already hold newer changes → stale.
    expect(fixed.report).toMatchObject({ read: 30, replayed: 30, applied: 28, stale: 2, failedAgain: 0, interrupted: false });
    expect(await reconcile()).toEqual([]);
    const docs = await esDocs();
    expect(docs.get(5)?.doc).toMatchObject({ name: 'newer', note: 'newest', qty: 105 });
    expect(docs.get(7)?.doc).toMatchObject({ name: 'row 7', note: 'updated 7', qty: 107 });

    // A rerun reads nothing and changes nothing.
    const versions = new Map([...docs].map(([id, d]) => [id, d.version]));
    const rerun = await replay();
    expect(rerun.code).toBe(0);
    expect(rerun.report).toMatchObject({ read: 0, replayed: 0, applied: 0, failedAgain: 0 });
    expect(new Map([...(await esDocs())].map(([id, d]) => [id, d.version]))).toEqual(versions);
    expect(await list()).toMatchObject({ total: 60, pending: 0 });
  });

  it('a replay killed (SIGKILL) between chunks resumes from its stored position: nothing skipped, nothing applied twice', { timeout: 600_000 }, async () => {
    // A second cause: another new column. 10 updates of the 40 rows → 400 dead letters (DLQ offsets 60..459).
    await h.start();
    await db.query(`ALTER TABLE public.${T} ADD COLUMN extra int`);
    for (let i = 1; i <= 10; i++) await db.query(`UPDATE public.${T} SET qty = qty + 1, extra = ${i}`);
    await waitFor('400 more dead-lettered records', async () => (await list()).total === 460, 180_000);
    await es.indices.putMapping({ index: INDEX, properties: { extra: { type: 'integer' } } });
    expect(await h.stop()).toBe(0);

    // The replay in a child process, killed once its stored position is past the start and before the end.
    const checkpointId = `cdc-fanout.${T}.search|${DLQ_TOPIC}|0`;
    const stored = async (): Promise<bigint | null> => {
      const r = await es.get<{ offset: string }>({ index: CHECKPOINTS, id: checkpointId, realtime: true }).catch(() => null);
      return r?._source ? BigInt(r._source.offset) : null;
    };
    expect(await stored()).toBe(60n);
    let killedAt: bigint | null = null;
    await h.cliKilledWhen(
      'mid-way',
      ['dlq', 'replay', T, '-c', cfgDir, '--sink', 'search', '--json'],
      async () => {
        const at = await stored();
        if (at === null || at <= 60n || at >= 460n) return false;
        killedAt = at;
        return true;
      },
      240_000,
      20,
    );
    expect(killedAt, 'the replay finished before it could be killed mid-way').not.toBeNull();
    const afterKill = await stored();
    expect(afterKill! >= killedAt!).toBe(true);
    expect(afterKill! < 460n).toBe(true);

    // The rerun starts exactly at the stored position and reads to the end.
    const rerun = await replay();
    expect(rerun.code).toBe(0);
    console.log(`dlq kill -9: killed with the replay position at ${killedAt}, stored after the kill ${afterKill}; rerun read ${rerun.report.read}, applied ${rerun.report.applied}, stale ${rerun.report.stale}`);
    expect(rerun.report.partitions).toEqual([{ partition: 0, from: afterKill!.toString(), to: '460' }]);
    expect(rerun.report.read).toBe(Number(460n - afterKill!));
    expect(rerun.report.failedAgain).toBe(0);
    expect(rerun.report.applied + rerun.report.stale).toBe(rerun.report.replayed);
    expect(await stored()).toBe(460n);
    expect(await reconcile()).toEqual([]);
    const docs = await esDocs();
    const extras = (await db.query<{ id: number; extra: number }>(`SELECT id, extra FROM public.${T}`)).rows;
    for (const r of extras) expect((docs.get(r.id)?.doc as { extra?: number } | undefined)?.extra, `row ${r.id}`).toBe(r.extra);
    expect(await list()).toMatchObject({ total: 460, pending: 0 });
  });
});
