// `cdc-fanout rebuild` of a ClickHouse sink, under live writes, on both servers the sink supports:
// the stack's 18.16 (Ordinary database: RENAME TABLE) and a current engine (chdb 26.x: Atomic
// database, EXCHANGE TABLES). Postgres → `cdc-fanout run` (child process) → Kafka → ClickHouse,
// while a writer inserts, updates and deletes and a reader counts the table's `_current` view every
// few ms. The rebuild is killed with SIGKILL while it builds and in the grace period; each rerun
// resumes (the last one keeps the killed run's deadline). Then: the reader never saw an error or
// fewer than BASE rows; the table equals Postgres row by row; a second rebuild swaps again and drops
// the previous generation.
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generationSuffix } from '../../src/sinks/clickhouse/generations.js';
import { clickhouseTargets, stopTargets } from '../support/clickhouse-targets.js';
import type { DaemonHarness } from '../support/daemon-harness.js';
import { chCount, chQuery, chRebuildState, chRows, chSinkYaml, KILLED_GRACE_MS, liveLoadHarness, LiveLoad, RebuildRuns, runName, waitEqual } from '../support/live-load.js';

const targets = await clickhouseTargets();
afterAll(() => stopTargets(targets));

// The servers' runs share nothing (own table, topics, database, daemon, state dir): side by side, the
// waits that make up most of each run (the grace period, a killed run's consumer session, the
// rebuild's 2 s progress polls) overlap.
for (const target of targets) {
  describe.concurrent(`rebuild (clickhouse) [${target.name}]`, () => {
    const T = runName(`rbch_${target.tag}`);
    const DB = T;
    const TABLE = `public_${T}`;
    const CURRENT = `${DB}.${TABLE}_current`;
    const GROUP = `cdc-fanout.${T}.warehouse`;
    const ch = createClient({ url: target.url, log: { level: 127 } });
    const query = chQuery(ch);
    let h: DaemonHarness;
    let load: LiveLoad;
    let rebuild: RebuildRuns;

    const tables = async (): Promise<string[]> => (await query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${DB}' ORDER BY name`)).map((r) => r.name);
    const rebuildState = () => chRebuildState(ch, DB, GROUP);
    const reconcile = async (): Promise<string[]> => load.diff(await chRows(ch, CURRENT), 'ch');

    beforeAll(async () => {
      ({ h, load } = await liveLoadHarness(T, 'cdc-fanout-rebuild-ch-', [chSinkYaml({ name: 'warehouse', table: T, database: DB, url: target.url })]));
      rebuild = new RebuildRuns(h, 'warehouse');
    }, 60_000);

    afterAll(async () => {
      await load?.close();
      await ch.close();
      await h?.cleanup({ tables: [`public.${T}`], clickhouse: { url: target.url, databases: [DB] } });
    }, 60_000);

    it('under live writes: readers always see a complete table, kill -9 resumes, the generation swaps in, equal to Postgres', { timeout: 900_000 }, async () => {
      const BASE = load.base;
      await h.start();
      await h.waitFor(`${BASE} rows`, async () => (await tables()).includes(`${TABLE}_current`) && (await chCount(ch, CURRENT)) >= BASE, 180_000);

      const writer = load.startWriter();
      const reader = load.startCountReader(() => chCount(ch, CURRENT));
      const gen1 = `${TABLE}${generationSuffix(GROUP, 1)}`;
      const started = Date.now();

      await rebuild.killedWhen(
        'while building',
        async () => (await rebuildState())?.phase === 'building' && (await tables()).includes(gen1) && (await chCount(ch, `${DB}.${gen1}`)) > 100,
        ['--grace', '4000'],
      );
      expect((await rebuildState())?.phase).toBe('building');
      await rebuild.killedWhen('in the grace period', async () => (await rebuildState())?.phase === 'retiring', ['--grace', String(KILLED_GRACE_MS)]);
      const retiring = await rebuildState();
      expect(retiring).toMatchObject({ generation: 1, phase: 'retiring', swaps: [{ name: TABLE, generation: gen1 }] });
      // The previous generation is still there during the grace period.
      const previous = retiring?.swaps?.[0]?.previous[0] as string;
      expect(await tables()).toContain(previous);
      await rebuild.resumeInGrace(retiring);
      expect((await rebuildState())?.phase).toBe('done');
      expect(await tables()).not.toContain(previous);
      const firstMs = Date.now() - started;

      const changes = await writer.stop();
      expect(changes).toBeGreaterThan(0);
      await waitEqual('table equal to Postgres after generation 1', reconcile, { harness: h });

      await rebuild.runWhileWriting(load, 2, ['--grace', '0']);
      await waitEqual('table equal to Postgres after generation 2', reconcile, { harness: h });
      expect(await reconcile()).toEqual([]);
      // Only the live table, its view, and the sink's own tables remain.
      expect((await tables()).filter((t) => t.startsWith(TABLE))).toEqual([TABLE, `${TABLE}_current`]);

      const seen = await reader.stop();
      console.log(`rebuild clickhouse [${target.name}]: first rebuild (2 kills) ${firstMs} ms, ${changes} writer transactions; reader ${seen.reads} reads, min ${seen.min}, errors ${seen.errors.length}`);
      expect(seen.errors).toEqual([]);
      expect(seen.reads).toBeGreaterThan(100);
      expect(seen.min).toBeGreaterThanOrEqual(BASE);
    });
  });
}
