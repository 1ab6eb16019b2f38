// Truthful status on the real stack (`cdc-fanout run` as a child process, real Postgres, Kafka,
// Redis): a sink whose Elasticsearch is unreachable (a free port, nothing listening) shows why,
// /ready is not ready and `status` exits non-zero; a sink waiting for a topic shows lag "unknown"
// (never 0); a paused sink's lag is the number of records behind, computed from Kafka's end offsets;
// `status`, `snapshot` and `reset-offsets` find a daemon started on a non-default admin port through
// its record file.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { waitFor } from './helpers.js';
import { freePort } from '../support/ports.js';

const ep = endpoints();
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const T = `dst_${run}`;
// Nothing listens here: the Elasticsearch sink can never open (also the CLI's default admin port).
const DEAD_ES_PORT = await freePort();
const ADMIN_PORT = await freePort();

let h: DaemonHarness;
let stateDir: string;
let cfgDir: string;
let db: pg.Client;
let redis: Redis;

beforeAll(async () => {
  h = await DaemonHarness.create({ name: T, tmpPrefix: 'cdc-fanout-status-', noDaemonPort: DEAD_ES_PORT });
  ({ stateDir, cfgDir } = h);
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${T} (id int PRIMARY KEY, name text)`);
  await db.query(`CREATE TABLE public.${T}_signal (id text PRIMARY KEY, type text NOT NULL, data text)`);
  redis = new Redis(ep.redisUrl);
  h.writeConfig(
    pipelineYaml({
      name: T,
      // also matches public.${T}_later, a table never created: the ghost sink waits for its topic
      tables: `public\\.${T}(_later)?`,
      source: [`signal.data.collection: public.${T}_signal`],
      sinks: `  - name: cache
    type: redis
    url: ${ep.redisUrl}
    batch.max.wait.ms: 50
    tables: [public.${T}]
    table.overrides:
      public.${T}: { keys: ["${T}:item:{id}"], mode: write-through }
  - name: search
    type: elasticsearch
    url: http://127.0.0.1:${DEAD_ES_PORT}
    request.timeout.ms: 2000
    errors.retry.max.backoff.ms: 2000
    tables: [public.${T}]
  - name: ghost
    type: redis
    url: ${ep.redisUrl}
    tables: [public.${T}_later]
    table.overrides:
      public.${T}_later: { keys: ["${T}:ghost:{id}"] }
`,
    }),
  );
}, 60_000);

afterAll(async () => {
  await db.end();
  redis.disconnect();
  await h.cleanup({ tables: [`public.${T}`, `public.${T}_signal`], redis: { patterns: [`${T}:*`], keys: [`cdc:offsets:cdc-fanout.${T}.cache`, `cdc:offsets:cdc-fanout.${T}.ghost`] } });
}, 60_000);

const cli = (args: string[]): ReturnType<DaemonHarness['cli']> => h.cli(args);

describe('truthful status', () => {
  it('a sink whose Elasticsearch is unreachable says why, /ready is 503 and `status --config` (non-default port, found through the daemon record) exits 2', { timeout: 180_000 }, async () => {
    const daemon = await h.start(['--admin-port', String(ADMIN_PORT)]);
    expect(daemon.url).toBe(`http://127.0.0.1:${ADMIN_PORT}`);
    await db.query(`INSERT INTO public.${T} (id, name) SELECT g, 'row ' || g FROM generate_series(1, 50) g`);
    const search = await waitFor('search sink shows why it cannot start', async () => {
      const s = await h.sink('search');
      return s.state !== 'RUNNING' && s.reason?.includes(`127.0.0.1:${DEAD_ES_PORT}`) ? s : undefined;
    }, 60_000);
    expect(['STARTING', 'RESTARTING', 'FAILED']).toContain(search.state);
    expect(search.reason).toContain('cannot reach');
    expect(search.reason).toMatch(/retry \d+ at \d\d:\d\d:\d\d UTC/);
    expect(search.lastError?.message).toContain(`127.0.0.1:${DEAD_ES_PORT}`);
    expect(Number.isNaN(Date.parse(search.lastError!.at))).toBe(false);
    expect(search.lag).toBeNull();

    // the ghost sink waits for its topic: STARTING with the reason, lag unknown — never 0
    const ghost = await waitFor('ghost sink waits for its topic', async () => {
      const s = await h.sink('ghost');
      return s.reason?.startsWith('waiting for topics') ? s : undefined;
    }, 60_000);
    expect(ghost.state).toBe('STARTING');
    expect(ghost.reason).toBe(`waiting for topics: ${T}.public.${T}_later`);
    expect(ghost.lag).toBeNull();
    expect(ghost.timeLagMs).toBeNull();

    const ready = await fetch(`${daemon.url}/ready`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { ready: boolean; notReady: string[] };
    expect(body.ready).toBe(false);
    expect(body.notReady.some((l) => l.startsWith(`${T}/sink:search: `) && l.includes('cannot reach'))).toBe(true);
    expect(body.notReady).toContain(`${T}/sink:ghost: STARTING (waiting for topics: ${T}.public.${T}_later)`);
    expect((await fetch(`${daemon.url}/health`)).status).toBe(200);

    // the healthy sink of the same pipeline keeps applying
    await waitFor('cache sink applied the rows', async () => (await redis.exists(...Array.from({ length: 50 }, (_, i) => `${T}:item:${i + 1}`))) === 50, 90_000, 500);
    // The initial snapshot, from the source itself: the table was never analyzed, so no estimate
    // (null, not 0); the 50-row insert races the snapshot's start, so it read all or none of them.
    const source = (await h.pipeline()).source;
    expect(source.snapshot).toEqual([{ table: `public.${T}`, done: expect.any(Number) as unknown as number, total: null, finished: true }]);
    expect([0, 50]).toContain(source.snapshot[0]!.done);

    const st = await cli(['status', '--config', cfgDir]);
    expect(st.code).toBe(2);
    expect(st.stdout).toMatch(new RegExp(`  sink search \\[elasticsearch\\]  (STARTING|RESTARTING|FAILED) \\(.*cannot reach.*\\)  lag unknown \\(unknown\\)`));
    expect(st.stdout).toContain('  sink ghost [redis]  STARTING (waiting for topics');
    expect(st.stdout).toMatch(/ {6}last error \d{4}-\d\d-\d\dT.*127\.0\.0\.1:/);
    expect(st.stderr).toContain(`${T}/sink:search is `);
    expect(st.stderr).toContain(`${T}/sink:ghost is STARTING: waiting for topics`);
    // a file inside the config directory finds the same daemon
    expect((await cli(['status', '--config', join(cfgDir, 'p.yaml'), '--json'])).code).toBe(2);
  });

  it('a paused sink\'s lag is the records behind (from end offsets), its time lag grows; --max-lag turns the exit code', { timeout: 180_000 }, async () => {
    const url = h.running().url;
    await waitFor('cache caught up (lag 0)', async () => (await h.sink('cache')).lag === 0, 60_000, 500);
    const paused = await fetch(`${url}/pipelines/${T}/sinks/cache/pause`, { method: 'POST' });
    expect(paused.status).toBe(200);
    await db.query(`INSERT INTO public.${T} (id, name) SELECT g, 'row ' || g FROM generate_series(101, 140) g`);
    const behind = await waitFor('lag shows the 40 unapplied rows', async () => {
      const s = await h.sink('cache');
      return s.lag !== null && s.lag >= 40 ? s : undefined;
    }, 60_000, 500);
    expect(behind.state).toBe('PAUSED');
    expect(behind.reason).toContain('paused');
    // 40 change events plus at most one transaction marker per partition
    expect(behind.lag).toBeLessThanOrEqual(40 + behind.partitions.length);
    expect(behind.partitions.reduce((n, p) => n + (p.lag ?? 0), 0)).toBe(behind.lag);
    for (const p of behind.partitions) expect(BigInt(p.highWatermark!) - BigInt(p.offset!)).toBe(BigInt(p.lag!));
    const grown = await waitFor('time lag known and growing', async () => {
      const s = await h.sink('cache');
      return s.timeLagMs !== null && s.timeLagMs > 0 ? s : undefined;
    }, 30_000, 500);
    expect(grown.timeLagMs).toBeGreaterThan(0);

    const st = await cli(['status', '--config', cfgDir, '--max-lag', '10']);
    expect(st.code).toBe(2);
    expect(st.stderr).toMatch(new RegExp(`${T}/sink:cache lag \\d+ > --max-lag 10`));

    expect((await fetch(`${url}/pipelines/${T}/sinks/cache/resume`, { method: 'POST' })).status).toBe(200);
    const caught = await waitFor('lag back to 0 after resume', async () => {
      const s = await h.sink('cache');
      return s.lag === 0 ? s : undefined;
    }, 60_000, 500);
    expect(caught.timeLagMs).toBe(0);
    expect(await redis.exists(`${T}:item:140`)).toBe(1);
  });

  it('snapshot finds the daemon through its record; with the daemon gone, status/snapshot say which address they tried', { timeout: 180_000 }, async () => {
    const snap = await cli(['snapshot', T, '--config', cfgDir, '--tables', `public.${T}`]);
    expect(snap.stderr).toBe('');
    expect(snap.code).toBe(0);
    expect(snap.stdout).toContain(`(daemon http://127.0.0.1:${ADMIN_PORT};`);

    const wrong = await cli(['status', '--admin', `http://127.0.0.1:${DEAD_ES_PORT}`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`cannot reach the daemon at http://127.0.0.1:${DEAD_ES_PORT} (from --admin)`);

    expect(await h.stop('SIGTERM')).toBe(0);
    const gone = await cli(['status', '--config', cfgDir]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`cannot reach the daemon at http://127.0.0.1:${DEAD_ES_PORT} (from the default address (no running daemon recorded for ${cfgDir} in ${stateDir}))`);
    expect(gone.stderr).toContain('--admin <url>');
    const snapGone = await cli(['snapshot', T, '--config', cfgDir]);
    expect(snapGone.code).toBe(1);
    expect(snapGone.stderr).toContain(`no running daemon found: nothing answers at http://127.0.0.1:${DEAD_ES_PORT}`);
    expect(snapGone.stderr).toContain('nothing was requested');
  });
});
