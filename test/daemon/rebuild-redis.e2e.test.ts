// `cdc-fanout rebuild` of a Redis write-through sink on the real stack, under live writes: Postgres
// → `cdc-fanout run` (child process) → Kafka (compacted data topic) → Redis, while a writer keeps
// updating, inserting and deleting, and a reader follows the reader contract of docs/rebuild.md
// (GET the generation pointer, then MGET every base row's key in that namespace) every few ms. The
// rebuild (CLI child process) is SIGKILLed while it builds and again in the grace period; each rerun
// resumes (the last one keeps the killed run's deadline). Then: every read found all BASE rows (never
// a partial generation) and no row's qty ever went backwards (qty only grows in Postgres: the
// generation the pointer names always holds every change the live sink had applied); the pointer
// names generation 1; generation 0's rows (and only they: an application key under the same prefix
// stays) are gone; generation 1 equals Postgres key by key and has exactly as many row keys as
// Postgres has rows. A second rebuild (namespace → namespace) drops generation 1 and again ends equal
// to Postgres. A sink with only invalidate tables and a rebuild with --tables are refused with a
// clear message.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import type { RebuildState } from '../../src/sinks/generations.js';
import { generationNamespace } from '../../src/sinks/redis/generations.js';
import type { DaemonHarness } from '../support/daemon-harness.js';
import { diffRows, KILLED_GRACE_MS, liveLoadHarness, liveLoadYaml, LiveLoad, RebuildRuns, runName, waitEqual, type Row } from '../support/live-load.js';

const ep = endpoints();
const T = runName('rr');
const GROUP = `cdc-fanout.${T}.cache`;
const POINTER = `cdc:generation:${GROUP}`;
const ROW = `${T}:row:`;
const redis = new Redis(ep.redisUrl);
// An application's own keys next to the sink's: one under the row prefix, one under an invalidation template.
const APP_KEYS = [`${ROW}note`, `${T}:name:app`];

let h: DaemonHarness;
let load: LiveLoad;
let rebuild: RebuildRuns;

async function rebuildState(): Promise<RebuildState | null> {
  const text = await redis.get(`cdc:rebuild:${GROUP}`);
  return text === null ? null : (JSON.parse(text) as RebuildState);
}

async function scanCount(pattern: string): Promise<number> {
  let n = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

const rowKey = (ns: string | null, id: number): string => `${ns === null ? '' : `${ns}:`}${ROW}${id}`;

/** Key-by-key differences between Postgres and the generation the pointer names (empty = equal), plus the key count. */
async function reconcile(): Promise<string[]> {
  const ns = await redis.get(POINTER);
  const rows = await load.rows();
  const values = rows.length ? await redis.mget(...rows.map((r) => rowKey(ns, r.id))) : [];
  const found = new Map<number, Row>();
  rows.forEach((r, i) => {
    const v = values[i];
    if (v) found.set(r.id, JSON.parse(v) as Row);
  });
  const out = diffRows(rows, found, 'redis');
  // Deleted rows' keys are gone: the namespace holds exactly one row key per Postgres row (plus the
  // application's own key when the namespace is generation 0's plain one).
  const keys = (await scanCount(`${ns === null ? '' : `${ns}:`}${ROW}*`)) - (ns === null ? 1 : 0);
  if (keys !== rows.length) out.push(`count: ${keys} row keys in ${ns ?? 'generation 0'}, ${rows.length} rows in Postgres`);
  return out;
}

interface ReadStats {
  reads: number;
  /** Reads that lacked a base row (a partial generation). */
  partial: string[];
  /** A base row whose qty was lower than an earlier read had seen (a generation behind the one before). */
  regressions: string[];
  errors: string[];
  namespaces: Set<string>;
}

/** The reader contract, on its own connection: GET the pointer, then the keys in the namespace it names (plain keys when absent). */
function startReader(): { stop: () => Promise<ReadStats> } {
  const r = new Redis(ep.redisUrl);
  const seen = new Map<number, number>();
  const ids = Array.from({ length: load.base }, (_, i) => i + 1);
  return load.startLoop<ReadStats>(
    { reads: 0, partial: [], regressions: [], errors: [], namespaces: new Set() },
    async (stats) => {
      const ns = await r.get(POINTER);
      const values = await r.mget(...ids.map((id) => rowKey(ns, id)));
      stats.reads++;
      stats.namespaces.add(ns ?? '(generation 0)');
      const missing = ids.filter((_, i) => !values[i]);
      if (missing.length > 0) stats.partial.push(`${ns ?? 'generation 0'}: ${missing.length} base rows missing, e.g. ${missing.slice(0, 3).join(', ')}`);
      values.forEach((v, i) => {
        if (!v) return;
        const id = ids[i]!;
        const qty = (JSON.parse(v) as Row).qty;
        const before = seen.get(id) ?? 0;
        if (qty < before) stats.regressions.push(`row ${id}: qty ${qty} after ${before} (${ns ?? 'generation 0'})`);
        else seen.set(id, qty);
      });
    },
    { close: () => r.disconnect() },
  );
}

beforeAll(async () => {
  ({ h, load } = await liveLoadHarness(T, 'cdc-fanout-rebuild-redis-', [
    `  - name: cache
    type: redis
    url: ${ep.redisUrl}
    tables: [public.${T}]
    table.overrides:
      public.${T}: { keys: ["${ROW}{id}", "${T}:name:{name}"], mode: write-through }
    batch.max.records: 20
    batch.max.wait.ms: 20
`,
  ]));
  rebuild = new RebuildRuns(h, 'cache');
  await Promise.all(APP_KEYS.map((k) => redis.set(k, 'application')));
}, 60_000);

afterAll(async () => {
  await load?.close();
  const hash = createHash('sha256').update(GROUP).digest('hex').slice(0, 6);
  await h?.cleanup({ tables: [`public.${T}`], redis: { patterns: [`*${T}*`, `g*-${hash}:*`, `cdc:ver@g*-${hash}:*`] } });
  redis.disconnect();
}, 60_000);

describe('rebuild (redis)', () => {
  it('refuses an invalidate-only sink and --tables, saying why', async () => {
    const other = join(h.dir, 'invalidate');
    mkdirSync(other);
    writeFileSync(
      join(other, 'p.yaml'),
      liveLoadYaml(T, [
        `  - name: inval
    type: redis
    url: ${ep.redisUrl}
    tables: [public.${T}]
    table.overrides:
      public.${T}: { keys: ["${T}:inval:{id}"] }
`,
      ]),
    );
    // Two independent refusals: run side by side.
    const [inval, tables] = await Promise.all([new RebuildRuns(h, 'inval', other).run(), rebuild.run(['--tables', `public.${T}`])]);
    expect(inval.code).toBe(1);
    expect(inval.stderr).toContain('has no write-through tables');
    expect(inval.stderr).toContain('there is no generation to rebuild');
    expect(tables.code).toBe(1);
    expect(tables.stderr).toContain('run the rebuild without --tables');
    expect(await redis.exists(`cdc:rebuild:${GROUP}`, `cdc:rebuild:cdc-fanout.${T}.inval`)).toBe(0);
  }, 60_000);

  it('under live writes: readers through the pointer always see a complete generation that never steps back, kill -9 resumes, equal to Postgres', { timeout: 900_000 }, async () => {
    const BASE = load.base;
    await h.start();
    await h.waitFor(`${BASE} rows in Redis`, async () => (await scanCount(`${ROW}*`)) >= BASE + 1, 180_000);
    expect(await redis.exists(POINTER)).toBe(0); // generation 0: plain keys

    const writer = load.startWriter();
    const reader = startReader();
    const ns1 = generationNamespace(GROUP, 1);

    // Run 1: killed while building (its namespace has rows, the pointer still names generation 0).
    await rebuild.killedWhen('while building', async () => (await rebuildState())?.phase === 'building' && (await scanCount(`${ns1}:${ROW}*`)) > 100, ['--grace', '4000'], 50);
    expect((await rebuildState())?.phase).toBe('building');
    expect(await redis.exists(POINTER)).toBe(0);
    // Run 2: resumes (the same generation), killed in the grace period after the flip.
    await rebuild.killedWhen('in the grace period', async () => (await rebuildState())?.phase === 'retiring', ['--grace', String(KILLED_GRACE_MS)], 50);
    const retiring = await rebuildState();
    expect(retiring).toMatchObject({ generation: 1, phase: 'retiring', swaps: [{ name: POINTER, generation: ns1, previous: [], legacy: true }] });
    expect(await redis.get(POINTER)).toBe(ns1);
    // Run 3: resumes in the grace period (the stored deadline) and drops generation 0.
    await rebuild.resumeInGrace(retiring);
    expect((await rebuildState())?.phase).toBe('done');
    // Generation 0's rows and versions are gone; the application's keys are not.
    expect(await scanCount(`cdc:ver@${GROUP}:*`)).toBe(0);
    expect(await scanCount(`${ROW}*`)).toBe(1);
    expect(await redis.mget(...APP_KEYS)).toEqual(['application', 'application']);
    expect(await redis.exists(`cdc:offsets:${GROUP}.rebuild.g1`)).toBe(0);

    // The live sink writes generation 1.
    const changes = await writer.stop();
    expect(changes).toBeGreaterThan(0);
    await waitEqual('generation 1 equal to Postgres', reconcile, { harness: h });

    // A second rebuild under writes and reads: namespace → namespace, generation 1 dropped after the grace period.
    await rebuild.runWhileWriting(load, 2, ['--grace', '3000']);
    const ns2 = generationNamespace(GROUP, 2);
    expect(await redis.get(POINTER)).toBe(ns2);
    expect(await scanCount(`${ns1}:*`)).toBe(0);
    expect(await scanCount(`cdc:ver@${ns1}:*`)).toBe(0);
    await waitEqual('generation 2 equal to Postgres', reconcile, { harness: h });
    expect(await reconcile()).toEqual([]);

    const seen = await reader.stop();
    console.log(`rebuild redis: ${changes} writer transactions during the first rebuild; reader ${seen.reads} reads over ${[...seen.namespaces].join(' → ')}; partial ${seen.partial.length}, regressions ${seen.regressions.length}, errors ${seen.errors.length}`);
    expect(seen.errors).toEqual([]);
    expect(seen.partial).toEqual([]);
    expect(seen.regressions.slice(0, 10)).toEqual([]);
    expect(seen.reads).toBeGreaterThan(100);
    expect([...seen.namespaces]).toEqual(['(generation 0)', ns1, ns2]);
  });
});
