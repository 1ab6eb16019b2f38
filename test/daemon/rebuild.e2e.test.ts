// `cdc-fanout rebuild` of an Elasticsearch sink on the real stack, under live writes: Postgres →
// `cdc-fanout run` (child process) → Kafka (compacted data topic) → Elasticsearch, while a writer
// keeps inserting, updating and deleting, and a reader polls the index name every few ms. The
// rebuild (CLI child process) is killed with SIGKILL while it builds and again while it waits out
// the grace period; each rerun resumes. Then: the reader never saw an error, an empty or a partial
// index (the table never has fewer than BASE rows); the name is an alias of generation 1 and the
// index written before generations is gone; the index equals Postgres row by row. A second rebuild
// (alias → alias, grace 0) drops generation 1 and again ends equal to Postgres.
import { Client } from '@elastic/elasticsearch';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { generationSuffix } from '../../src/sinks/elasticsearch/generations.js';
import type { RebuildState } from '../../src/sinks/generations.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { waitFor } from './helpers.js';

const ep = endpoints();
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const T = `rb_${run}`;
const INDEX = `${T}.public.${T}`;
const CHECKPOINTS = `cdc-fanout-checkpoints-${T}`;
const GROUP = `cdc-fanout.${T}.search`;
const BASE = 1500;
const es = new Client({ node: ep.elasticsearchUrl });

let h: DaemonHarness;
let cfgDir: string;
let db: pg.Client;

const cli = (args: string[]): ReturnType<DaemonHarness['cli']> => h.cli(args, 400_000);

async function rebuildState(): Promise<RebuildState | null> {
  const res = await es.get<{ rebuild?: RebuildState }>({ index: CHECKPOINTS, id: `rebuild|${GROUP}` }).catch(() => null);
  return res?._source?.rebuild ?? null;
}

/** The rebuild as a child process, SIGKILLed once `when` holds (polled). */
const rebuildKilledWhen = (what: string, when: () => Promise<boolean>, args: string[]): Promise<void> => h.cliKilledWhen(what, ['rebuild', T, '-c', cfgDir, '--sink', 'search', ...args], when);

interface Row {
  id: number;
  name: string;
  qty: number;
}

async function esDocs(index = INDEX): Promise<Map<number, Partial<Row>>> {
  await es.indices.refresh({ index });
  const out = new Map<number, Partial<Row>>();
  let page = await es.search<Partial<Row>>({ index, size: 5000, scroll: '1m', query: { match_all: {} } });
  while (page.hits.hits.length > 0) {
    for (const h of page.hits.hits) out.set(Number(h._id), h._source ?? {});
    page = await es.scroll<Partial<Row>>({ scroll_id: page._scroll_id!, scroll: '1m' });
  }
  return out;
}

/** Row-by-row differences between Postgres and the index (empty = equal). */
async function reconcile(): Promise<string[]> {
  const rows = (await db.query<Row>(`SELECT id, name, qty FROM public.${T} ORDER BY id`)).rows;
  const docs = await esDocs();
  const out: string[] = [];
  for (const r of rows) {
    const d = docs.get(r.id);
    if (!d) out.push(`missing ${r.id}`);
    else if (d.name !== r.name || d.qty !== r.qty) out.push(`stale ${r.id}: pg ${JSON.stringify(r)} es ${JSON.stringify(d)}`);
  }
  const ids = new Set(rows.map((r) => r.id));
  for (const id of docs.keys()) if (!ids.has(id)) out.push(`extra ${id}`);
  return out;
}

/** Live writes: updates of base rows, inserts and deletes of extra rows (ids > BASE), so the table never has fewer than BASE rows. */
const writers: { stop: () => Promise<number> }[] = [];
const readers: { stop: () => Promise<unknown> }[] = [];

function startWriter(): { stop: () => Promise<number> } {
  let running = true;
  let n = 0;
  const loop = (async () => {
    const w = new pg.Client({ connectionString: ep.postgresUrl });
    await w.connect();
    try {
      while (running) {
        const id = 1 + Math.floor(Math.random() * BASE);
        const extra = BASE + 1 + Math.floor(Math.random() * 200);
        await w.query('BEGIN');
        await w.query(`UPDATE public.${T} SET qty = qty + 1, name = 'upd ' || $1::text WHERE id = $2`, [n, id]);
        if (n % 3 === 0) await w.query(`INSERT INTO public.${T} (id, name, qty) VALUES ($1, 'extra', 0) ON CONFLICT (id) DO UPDATE SET qty = public.${T}.qty + 1`, [extra]);
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

/** Polls the index name as a search client would: every answer's count, and every error. */
function startReader(): { stop: () => Promise<{ reads: number; min: number; errors: string[] }> } {
  let running = true;
  let reads = 0;
  let min = Number.POSITIVE_INFINITY;
  const errors: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        const { count } = await es.count({ index: INDEX });
        reads++;
        min = Math.min(min, count);
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
  h = await DaemonHarness.create({ name: T, tmpPrefix: 'cdc-fanout-rebuild-', cliEnv: { CDC_LOG_LEVEL: 'warn' } });
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
      sinks: `  - name: search
    type: elasticsearch
    url: ${ep.elasticsearchUrl}
    tables: [public.${T}]
    checkpoint.index: ${CHECKPOINTS}
    batch.max.records: 20
    batch.max.wait.ms: 20
`,
    }),
  );
}, 60_000);

afterAll(async () => {
  // A failed test leaves them running: stop them before the table goes.
  for (const w of [...writers, ...readers]) await w.stop().catch(() => undefined);
  await db.end();
  await h.cleanup({ tables: [`public.${T}`], indices: [`${INDEX}*`, CHECKPOINTS] });
}, 60_000);

describe('rebuild (elasticsearch)', () => {
  it('under live writes: readers always see a complete index, kill -9 resumes, the alias flips to the new generation, equal to Postgres', { timeout: 900_000 }, async () => {
    await h.start();
    await waitFor(`${BASE} documents`, async () => (await es.indices.exists({ index: INDEX })) && (await es.count({ index: INDEX })).count >= BASE, 180_000);
    // Before generations: a concrete index with the name readers use.
    expect(Object.keys(await es.indices.get({ index: INDEX }))).toEqual([INDEX]);

    const writer = startWriter();
    const reader = startReader();
    const gen1 = `${INDEX}${generationSuffix(GROUP, 1)}`;

    // Run 1: killed while building (its generation has documents, the swap has not happened).
    await rebuildKilledWhen(
      'while building',
      async () => (await rebuildState())?.phase === 'building' && (await es.indices.exists({ index: gen1 })) && (await es.count({ index: gen1 }).catch(() => ({ count: 0 }))).count > 100,
      ['--grace', '4000'],
    );
    expect((await rebuildState())?.phase).toBe('building');
    // Run 2: resumes (the same generation), killed in the grace period after the swap.
    await rebuildKilledWhen('in the grace period', async () => (await rebuildState())?.phase === 'retiring', ['--grace', '60000']);
    const retiring = await rebuildState();
    expect(retiring).toMatchObject({ generation: 1, phase: 'retiring', swaps: [{ name: INDEX, generation: gen1, legacy: true }] });
    // The flip happened: the name is an alias of generation 1; the pre-generation index is gone.
    expect(Object.keys(await es.indices.get({ index: INDEX }))).toEqual([gen1]);
    // Run 3: resumes in the grace period (the stored deadline, not a new one) and finishes.
    const r3 = await cli(['rebuild', T, '-c', cfgDir, '--sink', 'search', '--grace', '0']);
    expect(r3.stderr).toBe('');
    expect(r3.code).toBe(0);
    expect(r3.stdout).toContain('generation 1 is live (resumed)');
    expect((await rebuildState())?.phase).toBe('done');

    // The live sink writes through the alias into generation 1.
    const changes = await writer.stop();
    expect(changes).toBeGreaterThan(0);
    await waitFor('index equal to Postgres after generation 1', async () => (await reconcile()).length === 0, 120_000, 1000);

    // A second rebuild while writing and reading again: alias → alias, the previous generation dropped.
    const writer2 = startWriter();
    const r4 = await cli(['rebuild', T, '-c', cfgDir, '--sink', 'search', '--grace', '0']);
    expect(r4.code, r4.stderr).toBe(0);
    expect(r4.stdout).toContain('generation 2 is live');
    await writer2.stop();
    const gen2 = `${INDEX}${generationSuffix(GROUP, 2)}`;
    expect(Object.keys(await es.indices.get({ index: INDEX }))).toEqual([gen2]);
    expect(await es.indices.exists({ index: gen1 })).toBe(false);
    await waitFor('index equal to Postgres after generation 2', async () => (await reconcile()).length === 0, 120_000, 1000);
    expect(await reconcile()).toEqual([]);

    const seen = await reader.stop();
    console.log(`rebuild elasticsearch: ${changes} writer transactions during the first rebuild; reader ${seen.reads} reads, min ${seen.min}, errors ${seen.errors.length}`);
    // Every read during both rebuilds answered, and never with fewer documents than the table ever had.
    expect(seen.errors).toEqual([]);
    expect(seen.reads).toBeGreaterThan(100);
    expect(seen.min).toBeGreaterThanOrEqual(BASE);
    // The rebuild groups' checkpoints are gone; the live group's remain.
    await es.indices.refresh({ index: CHECKPOINTS });
    const groups = await es.search<{ group?: string }>({ index: CHECKPOINTS, size: 100, query: { exists: { field: 'offset' } } });
    expect(new Set(groups.hits.hits.map((h) => h._source?.group))).toEqual(new Set([GROUP]));
  });
});
