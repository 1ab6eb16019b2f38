// One pipeline split over two daemons (`cdc-fanout run --role source` and `--role sinks`, real
// Postgres, Kafka, Redis): the sinks daemon shows its source DISABLED with the reason, is ready
// without a source, and refuses a snapshot request with where to send it; the source daemon runs no
// sink; together they deliver every change (insert, update, delete, before and after a restart of
// the sinks daemon) row by row into the Redis write-through table, and the source daemon alone
// never touches the sink's store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { pipelines, startDaemon, waitFor, type DaemonProcess } from './helpers.js';

const ep = endpoints();
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const T = `drl_${run}`;
const OFFSETS = `cdc:offsets:cdc-fanout.${T}.cache`;

let h: DaemonHarness;
let db: pg.Client;
let redis: Redis;
let sourceDaemon: DaemonProcess | undefined;
const sourceState = mkdtempSync(join(tmpdir(), 'cdc-fanout-roles-source-'));

beforeAll(async () => {
  h = await DaemonHarness.create({ name: T, tmpPrefix: 'cdc-fanout-roles-' });
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${T} (id int PRIMARY KEY, v text)`);
  await db.query(`INSERT INTO public.${T} SELECT g, 'v' || g FROM generate_series(1, 100) g`);
  redis = new Redis(ep.redisUrl);
  h.writeConfig(
    pipelineYaml({
      name: T,
      tables: `public\\.${T}`,
      sinks: `  - name: cache
    type: redis
    url: ${ep.redisUrl}
    batch.max.wait.ms: 50
    tables: [public.${T}]
    table.overrides:
      public.${T}: { keys: ["${T}:row:{id}"], mode: write-through }
`,
    }),
  );
}, 60_000);

afterAll(async () => {
  await sourceDaemon?.stop('SIGKILL');
  await db.end();
  redis.disconnect();
  await h.cleanup({ tables: [`public.${T}`], redis: { patterns: [`${T}:*`], keys: [OFFSETS] } });
  rmSync(sourceState, { recursive: true, force: true });
}, 60_000);

/** Redis equals Postgres, row by row (no missing, no extra, no stale key). */
async function converged(): Promise<boolean> {
  const want = (await db.query<{ id: number; v: string }>(`SELECT id, v FROM public.${T} ORDER BY id`)).rows;
  const keys = await redis.keys(`${T}:row:*`);
  if (keys.length !== want.length) return false;
  const got = await redis.mget(...want.map((r) => `${T}:row:${r.id}`));
  return want.every((r, i) => {
    const doc = got[i] ? (JSON.parse(got[i]!) as { id: number; v: string }) : undefined;
    return doc?.id === r.id && doc.v === r.v;
  });
}

describe('run --role: source and sinks in two daemons', () => {
  it('the sinks daemon runs no source, the source daemon no sink, and together they deliver every change', { timeout: 240_000 }, async () => {
    await h.start(['--role', 'sinks']);
    const sinksOnly = await h.waitFor('the sinks daemon reports its source DISABLED', async () => {
      const p = await h.pipeline();
      return p.source.state === 'DISABLED' ? p : undefined;
    });
    expect(sinksOnly.source.reason).toContain('--role sinks');
    expect(sinksOnly.sinks.map((s) => s.name)).toEqual(['cache']);
    // No source here: no slot was made by this daemon.
    expect((await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [`${T}_slot`])).rowCount).toBe(0);
    const snap = await fetch(`${h.running().url}/pipelines/${T}/snapshot`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tables: [`public.${T}`] }) });
    expect(snap.status).toBe(409);
    expect(JSON.stringify(await snap.json())).toContain('--role source or all');

    sourceDaemon = await startDaemon(h.cfgDir, { CDC_FANOUT_STATE_DIR: sourceState }, ['--role', 'source']);
    const sourceOnly = await waitFor('the source daemon streams', async () => {
      const p = (await pipelines(sourceDaemon!.url)).find((x) => x.name === T);
      return p?.source.state === 'RUNNING' ? p : undefined;
    }, 90_000);
    expect(sourceOnly.sinks).toEqual([]);
    expect((await fetch(`${sourceDaemon.url}/ready`)).status).toBe(200);

    await h.waitFor('the snapshot reaches Redis through the sinks daemon', converged, 90_000);
    expect((await fetch(`${h.running().url}/ready`)).status).toBe(200);

    await db.query(`INSERT INTO public.${T} SELECT g, 'v' || g FROM generate_series(101, 300) g`);
    await db.query(`UPDATE public.${T} SET v = v || '-u' WHERE id % 3 = 0`);
    await db.query(`DELETE FROM public.${T} WHERE id % 7 = 0`);
    await h.waitFor('streamed changes reach Redis', converged, 90_000);

    // The sinks daemon restarts (SIGTERM) while the source daemon keeps streaming: it resumes from
    // the sink's own offsets, nothing lost, nothing re-applied out of order.
    expect(await h.stop()).toBe(0);
    await db.query(`UPDATE public.${T} SET v = v || '-while-down' WHERE id % 5 = 0`);
    await db.query(`INSERT INTO public.${T} SELECT g, 'v' || g FROM generate_series(301, 400) g`);
    await h.start(['--role', 'sinks']);
    await h.waitFor('changes made while the sinks daemon was down reach Redis', converged, 90_000);
    expect((await pipelines(sourceDaemon.url)).find((x) => x.name === T)?.source.eventsPublished).toBeGreaterThanOrEqual(100 + 200 + 100 + 100);
    expect(await sourceDaemon.stop()).toBe(0);
  });
});
