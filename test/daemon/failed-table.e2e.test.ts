// One table's record a sink can never apply stops only that table, seen through the real daemon
// (`cdc-fanout run` as a child process, real Postgres, Kafka, Redis): a Redis write-through table
// whose write.key cannot be computed for a row (its column is NULL) is listed in the sink's
// `failedTables` in /pipelines and logged with the table and the remedy, the sink stays RUNNING and
// its other table keeps converging row by row against Postgres; the sink's resume action retries
// the table from its stored offset (the same record stops it again: nothing was skipped).
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { waitFor } from './helpers.js';

const ep = endpoints();
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const T = `dft_${run}`;
const A = `${T}_a`;
const B = `${T}_b`;

let h: DaemonHarness;
let db: pg.Client;
let redis: Redis;

beforeAll(async () => {
  h = await DaemonHarness.create({ name: T, tmpPrefix: 'cdc-fanout-failed-table-' });
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${A} (id int PRIMARY KEY, code text)`);
  await db.query(`CREATE TABLE public.${B} (id int PRIMARY KEY, v text)`);
  redis = new Redis(ep.redisUrl);
  h.writeConfig(
    pipelineYaml({
      name: T,
      tables: `public\\.${T}_(a|b)`,
      sinks: `  - name: cache
    type: redis
    url: ${ep.redisUrl}
    batch.max.wait.ms: 50
    tables: [public.${A}, public.${B}]
    table.overrides:
      public.${A}: { keys: ["${T}:a:{code}"], mode: write-through }
      public.${B}: { keys: ["${T}:b:{id}"], mode: write-through }
`,
    }),
  );
  // both topics exist (snapshot) before the sink subscribes
  await db.query(`INSERT INTO public.${A} SELECT g, 'c' || g FROM generate_series(1, 10) g`);
  await db.query(`INSERT INTO public.${B} SELECT g, 'b' || g FROM generate_series(1, 10) g`);
  await h.start();
}, 90_000);

afterAll(async () => {
  await db.end();
  redis.disconnect();
  await h.cleanup({ tables: [`public.${A}`, `public.${B}`], redis: { patterns: [`${T}:*`], keys: [`cdc:offsets:cdc-fanout.${T}.cache`] } });
}, 60_000);

/** B in Redis equals B in Postgres, row by row. */
async function bConverged(): Promise<boolean> {
  const want = (await db.query(`SELECT id, v FROM public.${B} ORDER BY id`)).rows as { id: number; v: string }[];
  const keys = await redis.keys(`${T}:b:*`);
  if (keys.length !== want.length) return false;
  for (const row of want) {
    const got = await redis.get(`${T}:b:${row.id}`);
    if (got === null) return false;
    const doc = JSON.parse(got) as { id: number; v: string };
    if (doc.id !== row.id || doc.v !== row.v) return false;
  }
  return true;
}

describe('a failed table in the running daemon', () => {
  it('is listed with its error and retried by resume, while the other table of the sink goes on', { timeout: 240_000 }, async () => {
    await waitFor('both tables applied', async () => (await bConverged()) && (await redis.get(`${T}:a:c10`)) !== null, 90_000);
    await db.query(`INSERT INTO public.${A} VALUES (11, NULL)`); // no write.key for this row
    await db.query(`INSERT INTO public.${A} VALUES (12, 'c12')`);
    const failed = await waitFor('A listed as failed', async () => {
      const s = await h.sink('cache');
      return s.failedTables.length > 0 ? s : undefined;
    });
    expect(failed.state).toBe('RUNNING');
    const [t] = failed.failedTables;
    expect(t).toMatchObject({ state: 'FAILED', table: `public.${A}`, topic: `${T}.public.${A}` });
    expect(t!.error).toContain('write.key template');
    expect(t!.error).toContain(`POST /pipelines/${T}/sinks/cache/resume`);
    expect(h.running().output()).toContain(`table public.${A} stopped (the other tables of the sink go on)`);

    for (let round = 1; round <= 3; round++) {
      await db.query(`INSERT INTO public.${B} SELECT g, 'b' || g FROM generate_series(${round * 100}, ${round * 100 + 20}) g`);
      await db.query(`UPDATE public.${B} SET v = v || '-r${round}' WHERE id % 2 = 0`);
      await waitFor(`B converged after round ${round}`, async () => bConverged(), 60_000);
    }
    // nothing of A's failed partition past the record: its stored offset is still where it resumes
    // (id 12 may sit on another partition, applied before the table stopped: partitions are independent)
    const offsetsKey = `cdc:offsets:cdc-fanout.${T}.cache`;
    expect(await redis.hget(offsetsKey, `${t!.topic}:${t!.partition}`)).toBe(t!.resumeFrom);

    const res = await fetch(`${h.running().url}/pipelines/${T}/sinks/cache/resume`, { method: 'POST' });
    expect(res.ok).toBe(true);
    const again = await waitFor('A stops again at the same record', async () => {
      const s = await h.sink('cache');
      const f = s.failedTables[0];
      return f && f.since !== t!.since ? f : undefined;
    });
    expect(again.offset).toBe(t!.offset);
    expect(again.resumeFrom).toBe(t!.resumeFrom);
    expect(await redis.hget(offsetsKey, `${t!.topic}:${t!.partition}`)).toBe(t!.resumeFrom);
    expect(await redis.exists(`${T}:a:null`, `${T}:a:`)).toBe(0);
    expect((await h.sink('cache')).state).toBe('RUNNING');
  });
});
