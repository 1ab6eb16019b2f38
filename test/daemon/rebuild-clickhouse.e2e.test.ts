// `cdc-fanout rebuild` of a ClickHouse sink, under live writes, on both servers the sink supports:
// the stack's 18.16 (Ordinary database: RENAME TABLE) and a current engine (chdb 26.x: Atomic
// database, EXCHANGE TABLES). Postgres → `cdc-fanout run` (child process) → Kafka → ClickHouse,
// while a writer inserts, updates and deletes and a reader counts the table's `_current` view every
// few ms. The rebuild is killed with SIGKILL while it builds and in the grace period; each rerun
// resumes. Then: the reader never saw an error or fewer than BASE rows; the table equals Postgres
// row by row; a second rebuild swaps again and drops the previous generation.
import { createClient } from '@clickhouse/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { generationSuffix } from '../../src/sinks/clickhouse/generations.js';
import type { RebuildState } from '../../src/sinks/generations.js';
import { clickhouseTargets, stopTargets } from '../support/clickhouse-targets.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { waitFor } from './helpers.js';

const targets = await clickhouseTargets();
afterAll(() => stopTargets(targets));

const ep = endpoints();
const BASE = 1500;

interface Row {
  id: number;
  name: string;
  qty: number;
}

for (const target of targets) {
  describe(`rebuild (clickhouse) [${target.name}]`, () => {
    const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
    const T = `rbch_${target.tag}_${run}`;
    const DB = T;
    const TABLE = `public_${T}`;
    const GROUP = `cdc-fanout.${T}.warehouse`;
    const ch = createClient({ url: target.url, log: { level: 127 } });
    const writers: { stop: () => Promise<number> }[] = [];
    const readers: { stop: () => Promise<unknown> }[] = [];
    let h: DaemonHarness;
    let cfgDir: string;
    let db: pg.Client;

    const cli = (args: string[]): ReturnType<DaemonHarness['cli']> => h.cli(args, 400_000);
    const query = async <T>(sql: string): Promise<T[]> => (await (await ch.query({ query: sql, format: 'JSONEachRow' })).json()) as T[];
    const tables = async (): Promise<string[]> => (await query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${DB}' ORDER BY name`)).map((r) => r.name);
    const rebuildState = async (): Promise<RebuildState | null> => {
      const r = await query<{ s: string }>(`SELECT argMax(state, updated_at) AS s FROM ${DB}.cdc_fanout_checkpoints_generations WHERE group = '${GROUP}' GROUP BY group`).catch(() => []);
      return r[0] ? (JSON.parse(r[0].s) as RebuildState) : null;
    };

    const rebuildKilledWhen = (what: string, when: () => Promise<boolean>, args: string[]): Promise<void> => h.cliKilledWhen(what, ['rebuild', T, '-c', cfgDir, '--sink', 'warehouse', ...args], when);

    async function reconcile(): Promise<string[]> {
      const rows = (await db.query<Row>(`SELECT id, name, qty FROM public.${T} ORDER BY id`)).rows;
      const docs = new Map((await query<Row>(`SELECT id, name, qty FROM ${DB}.${TABLE}_current`)).map((r) => [Number(r.id), r]));
      const out: string[] = [];
      for (const r of rows) {
        const d = docs.get(r.id);
        if (!d) out.push(`missing ${r.id}`);
        else if (d.name !== r.name || Number(d.qty) !== r.qty) out.push(`stale ${r.id}: pg ${JSON.stringify(r)} ch ${JSON.stringify(d)}`);
      }
      const ids = new Set(rows.map((r) => r.id));
      for (const id of docs.keys()) if (!ids.has(id)) out.push(`extra ${id}`);
      return out;
    }

    function startWriter(): { stop: () => Promise<number> } {
      let running = true;
      let n = 0;
      const loop = (async () => {
        const w = new pg.Client({ connectionString: ep.postgresUrl });
        await w.connect();
        try {
          while (running) {
            const id = 1 + Math.floor(Math.random() * BASE);
            await w.query('BEGIN');
            await w.query(`UPDATE public.${T} SET qty = qty + 1, name = 'upd ' || $1::text WHERE id = $2`, [n, id]);
            if (n % 3 === 0) await w.query(`INSERT INTO public.${T} (id, name, qty) VALUES ($1, 'extra', 0) ON CONFLICT (id) DO UPDATE SET qty = public.${T}.qty + 1`, [BASE + 1 + Math.floor(Math.random() * 200)]);
            if (n % 5 === 0) await w.query(`DELETE FROM public.${T} WHERE id = $1`, [BASE + 1 + Math.floor(Math.random() * 200)]);
            await w.query('COMMIT');
            n++;
            await new Promise((r) => setTimeout(r, 5));
          }
        } finally {
          await w.end();
        }
      })();
      const handle = {
        stop: async () => {
          running = false;
          await loop;
          return n;
        },
      };
      writers.push(handle);
      return handle;
    }

    /** Counts the table's current view as a reader would: every answer, and every error. */
    function startReader(): { stop: () => Promise<{ reads: number; min: number; errors: string[] }> } {
      let running = true;
      let reads = 0;
      let min = Number.POSITIVE_INFINITY;
      const errors: string[] = [];
      const loop = (async () => {
        while (running) {
          try {
            const [r] = await query<{ n: string }>(`SELECT count() AS n FROM ${DB}.${TABLE}_current`);
            reads++;
            min = Math.min(min, Number(r?.n ?? 0));
          } catch (e) {
            errors.push((e as Error).message);
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const handle = {
        stop: async () => {
          running = false;
          await loop;
          return { reads, min, errors };
        },
      };
      readers.push(handle);
      return handle;
    }

    beforeAll(async () => {
      h = await DaemonHarness.create({ name: T, tmpPrefix: 'cdc-fanout-rebuild-ch-', cliEnv: { CDC_LOG_LEVEL: 'warn' } });
      cfgDir = h.cfgDir;
      db = new pg.Client({ connectionString: ep.postgresUrl });
      await db.connect();
      await db.query(`CREATE TABLE public.${T} (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`);
      await db.query(`INSERT INTO public.${T} (id, name, qty) SELECT g, 'row ' || g, g FROM generate_series(1, ${BASE}) g`);
      h.writeConfig(
        pipelineYaml({
          name: T,
          tables: `public\\.${T}`,
          kafka: ['topic.creation.partitions: 3'],
          sinks: `  - name: warehouse
    type: clickhouse
    url: ${target.url}
    database: ${DB}
    tables: [public.${T}]
    batch.max.records: 20
    batch.max.wait.ms: 20
`,
        }),
      );
    }, 60_000);

    afterAll(async () => {
      for (const w of [...writers, ...readers]) await w.stop().catch(() => undefined);
      await db.end();
      await ch.close();
      await h.cleanup({ tables: [`public.${T}`], clickhouse: { url: target.url, databases: [DB] } });
    }, 60_000);

    it('under live writes: readers always see a complete table, kill -9 resumes, the generation swaps in, equal to Postgres', { timeout: 900_000 }, async () => {
      await h.start();
      await waitFor(`${BASE} rows`, async () => (await tables()).includes(`${TABLE}_current`) && Number((await query<{ n: string }>(`SELECT count() AS n FROM ${DB}.${TABLE}_current`))[0]?.n) >= BASE, 180_000);

      const writer = startWriter();
      const reader = startReader();
      const gen1 = `${TABLE}${generationSuffix(GROUP, 1)}`;
      const started = Date.now();

      await rebuildKilledWhen(
        'while building',
        async () => (await rebuildState())?.phase === 'building' && (await tables()).includes(gen1) && Number((await query<{ n: string }>(`SELECT count() AS n FROM ${DB}.${gen1}`))[0]?.n) > 100,
        ['--grace', '4000'],
      );
      expect((await rebuildState())?.phase).toBe('building');
      await rebuildKilledWhen('in the grace period', async () => (await rebuildState())?.phase === 'retiring', ['--grace', '60000']);
      const retiring = await rebuildState();
      expect(retiring).toMatchObject({ generation: 1, phase: 'retiring', swaps: [{ name: TABLE, generation: gen1 }] });
      // The previous generation is still there during the grace period.
      const previous = retiring?.swaps?.[0]?.previous[0] as string;
      expect(await tables()).toContain(previous);
      const r3 = await cli(['rebuild', T, '-c', cfgDir, '--sink', 'warehouse', '--grace', '0']);
      expect(r3.stderr).toBe('');
      expect(r3.code).toBe(0);
      expect(r3.stdout).toContain('generation 1 is live (resumed)');
      expect((await rebuildState())?.phase).toBe('done');
      expect(await tables()).not.toContain(previous);
      const firstMs = Date.now() - started;

      const changes = await writer.stop();
      expect(changes).toBeGreaterThan(0);
      await waitFor('table equal to Postgres after generation 1', async () => (await reconcile()).length === 0, 120_000, 1000);

      const writer2 = startWriter();
      const r4 = await cli(['rebuild', T, '-c', cfgDir, '--sink', 'warehouse', '--grace', '0']);
      expect(r4.code, r4.stderr).toBe(0);
      expect(r4.stdout).toContain('generation 2 is live');
      await writer2.stop();
      await waitFor('table equal to Postgres after generation 2', async () => (await reconcile()).length === 0, 120_000, 1000);
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
