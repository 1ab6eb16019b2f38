/**
 * The webhook sink in the real daemon, as a user runs it: `cdc-fanout run` with one pipeline
 * (Postgres → Kafka → webhook) POSTing to a real local receiver. The receiver's applied state equals
 * the table after inserts, updates and deletes; the signature secret never shows in /pipelines or the
 * logs; `reset-offsets --to earliest` (daemon stopped) goes through the default offset store, and the
 * restarted daemon re-delivers every event with the same idempotency keys (no new ids).
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { pipelines, waitFor } from '../daemon/helpers.js';
import { DaemonHarness, pipelineYaml } from '../support/daemon-harness.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const ep = endpoints();
const run = Date.now().toString(36);
const T = `whe_${run}`;
const SECRET = `whe-secret-${run}-0123456789`;
const receiver = new WebhookReceiver(SECRET);
let h: DaemonHarness;
let db: pg.Client;

beforeAll(async () => {
  await receiver.up();
  // The daemon and the CLI read the secret from the environment (the config interpolates it).
  h = await DaemonHarness.create({ name: T, tmpPrefix: 'cdc-fanout-webhook-', env: { WHE_SECRET: SECRET } });
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${T} (id int PRIMARY KEY, name text)`);
  h.writeConfig(
    pipelineYaml({
      name: T,
      tables: `public.${T}`,
      sinks: `  - name: hooks
    type: webhook
    tables: [public.${T}]
    url: ${receiver.url}
    signature.secret: \${WHE_SECRET}
    request.concurrency: 3
    batch.max.wait.ms: 50
`,
    }),
  );
}, 60_000);

afterAll(async () => {
  await db.end();
  await receiver.close();
  await h.cleanup({ tables: [`public.${T}`] });
}, 60_000);

async function tableRows(): Promise<Map<string, { id: number; name: string } | null>> {
  const { rows } = await db.query<{ id: number; name: string }>(`SELECT id, name FROM public.${T}`);
  return new Map(rows.map((r) => [JSON.stringify({ id: r.id }), r]));
}

async function receiverMatchesTable(): Promise<boolean> {
  const want = await tableRows();
  const got = new Map([...receiver.state(`public.${T}`)].filter(([, v]) => v !== null));
  return got.size === want.size && [...want].every(([k, v]) => JSON.stringify(got.get(k)) === JSON.stringify(v));
}

it('delivers the table through the real daemon; reset-offsets --to earliest re-delivers with the same ids', { timeout: 240_000 }, async () => {
  const daemon = await h.start();
  await db.query(`INSERT INTO public.${T} (id, name) SELECT g, 'row ' || g FROM generate_series(1, 200) g`);
  await db.query(`UPDATE public.${T} SET name = name || ' v2' WHERE id % 3 = 0`);
  await db.query(`DELETE FROM public.${T} WHERE id % 10 = 0`);
  await waitFor('the receiver to equal the table', () => receiverMatchesTable(), 120_000, 500);
  // (how many events that took depends on whether the initial snapshot saw the rows first)
  expect(receiver.seen.size).toBeGreaterThanOrEqual(180);
  expect(receiver.requests.every((r) => r.signatureOk === true)).toBe(true);

  const status = JSON.stringify(await pipelines(daemon.url));
  expect(status).toContain('hooks');
  expect(status).not.toContain(SECRET);

  expect(await h.stop('SIGTERM')).toBe(0);
  expect(daemon.output()).not.toContain(SECRET);
  // Everything before the state matched was delivered (per partition in order); nothing is produced any more.
  const deliveredIds = new Set(receiver.seen);

  const reset = await h.cli(['reset-offsets', T, '--config', h.cfgDir, '--sink', 'hooks', '--to', 'earliest', '--yes']);
  expect(reset.stderr).toBe('');
  expect(reset.code).toBe(0);

  const before = receiver.delivered.length;
  await h.start();
  await waitFor('every event delivered again', () => Promise.resolve(receiver.delivered.length - before >= deliveredIds.size), 120_000, 500);
  // re-deliveries carry the ids already seen: nothing new for a deduping receiver
  expect([...receiver.seen].filter((id) => !deliveredIds.has(id))).toEqual([]);
  expect(await receiverMatchesTable()).toBe(true);
});
