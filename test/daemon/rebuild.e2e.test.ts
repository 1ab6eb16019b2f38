// `cdc-fanout rebuild` of an Elasticsearch sink on the real stack, under live writes: Postgres →
// `cdc-fanout run` (child process) → Kafka (compacted data topic) → Elasticsearch, while a writer
// keeps inserting, updating and deleting, and a reader polls the index name every few ms. The
// rebuild (CLI child process) is killed with SIGKILL while it builds and again while it waits out
// the grace period; each rerun resumes (the last one keeps the killed run's deadline). Then: the
// reader never saw an error, an empty or a partial index (the table never has fewer than BASE rows);
// the name is an alias of generation 1 and the index written before generations is gone; the index
// equals Postgres row by row. A second rebuild (alias → alias, grace 0) drops generation 1 and again
// ends equal to Postgres.
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { generationSuffix } from '../../src/sinks/elasticsearch/generations.js';
import type { DaemonHarness } from '../support/daemon-harness.js';
import { esDocs, esRebuildState, esSinkYaml, KILLED_GRACE_MS, liveLoadHarness, LiveLoad, RebuildRuns, runName, waitEqual } from '../support/live-load.js';

const ep = endpoints();
const T = runName('rb');
const INDEX = `${T}.public.${T}`;
const CHECKPOINTS = `cdc-fanout-checkpoints-${T}`;
const GROUP = `cdc-fanout.${T}.search`;
const es = new Client({ node: ep.elasticsearchUrl });

let h: DaemonHarness;
let load: LiveLoad;
let rebuild: RebuildRuns;

const rebuildState = () => esRebuildState(es, CHECKPOINTS, GROUP);
const reconcile = async (): Promise<string[]> => load.diff(await esDocs(es, INDEX), 'es');

beforeAll(async () => {
  ({ h, load } = await liveLoadHarness(T, 'cdc-fanout-rebuild-', [esSinkYaml({ name: 'search', table: T, checkpoints: CHECKPOINTS })]));
  rebuild = new RebuildRuns(h, 'search');
}, 60_000);

afterAll(async () => {
  // A failed test leaves the writer and reader running: stop them before the table goes.
  await load?.close();
  await h?.cleanup({ tables: [`public.${T}`], indices: [`${INDEX}*`, CHECKPOINTS] });
}, 60_000);

describe('rebuild (elasticsearch)', () => {
  it('under live writes: readers always see a complete index, kill -9 resumes, the alias flips to the new generation, equal to Postgres', { timeout: 900_000 }, async () => {
    const BASE = load.base;
    await h.start();
    await h.waitFor(`${BASE} documents`, async () => (await es.indices.exists({ index: INDEX })) && (await es.count({ index: INDEX })).count >= BASE, 180_000);
    // Before generations: a concrete index with the name readers use.
    expect(Object.keys(await es.indices.get({ index: INDEX }))).toEqual([INDEX]);

    const writer = load.startWriter();
    const reader = load.startCountReader(async () => (await es.count({ index: INDEX })).count);
    const gen1 = `${INDEX}${generationSuffix(GROUP, 1)}`;

    // Run 1: killed while building (its generation has documents, the swap has not happened).
    await rebuild.killedWhen(
      'while building',
      async () => (await rebuildState())?.phase === 'building' && (await es.indices.exists({ index: gen1 })) && (await es.count({ index: gen1 }).catch(() => ({ count: 0 }))).count > 100,
      ['--grace', '4000'],
    );
    expect((await rebuildState())?.phase).toBe('building');
    // Run 2: resumes (the same generation), killed in the grace period after the swap.
    await rebuild.killedWhen('in the grace period', async () => (await rebuildState())?.phase === 'retiring', ['--grace', String(KILLED_GRACE_MS)]);
    const retiring = await rebuildState();
    expect(retiring).toMatchObject({ generation: 1, phase: 'retiring', swaps: [{ name: INDEX, generation: gen1, legacy: true }] });
    // The flip happened: the name is an alias of generation 1; the pre-generation index is gone.
    expect(Object.keys(await es.indices.get({ index: INDEX }))).toEqual([gen1]);
    // Run 3: resumes in the grace period (the stored deadline, not a new one) and finishes.
    await rebuild.resumeInGrace(retiring);
    expect((await rebuildState())?.phase).toBe('done');

    // The live sink writes through the alias into generation 1.
    const changes = await writer.stop();
    expect(changes).toBeGreaterThan(0);
    await waitEqual('index equal to Postgres after generation 1', reconcile, { harness: h });

    // A second rebuild while writing and reading again: alias → alias, the previous generation dropped.
    await rebuild.runWhileWriting(load, 2, ['--grace', '0']);
    const gen2 = `${INDEX}${generationSuffix(GROUP, 2)}`;
    expect(Object.keys(await es.indices.get({ index: INDEX }))).toEqual([gen2]);
    expect(await es.indices.exists({ index: gen1 })).toBe(false);
    await waitEqual('index equal to Postgres after generation 2', reconcile, { harness: h });
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
    expect(new Set(groups.hits.hits.map((x) => x._source?.group))).toEqual(new Set([GROUP]));
  });
});
