/**
 * The webhook sink in the real daemon, as a user runs it: `cdc-fanout run` with one pipeline
 * (Postgres → Kafka → webhook) POSTing to a real local receiver. The receiver's applied state equals
 * the table after inserts, updates and deletes; the signature secret never shows in /pipelines or the
 * logs; `reset-offsets --to earliest` (daemon stopped) goes through the default offset store, and the
 * restarted daemon re-delivers every event with the same idempotency keys (no new ids).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { pipelines, startDaemon, waitFor, type DaemonProcess } from '../daemon/helpers.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const ep = endpoints();
const run = Date.now().toString(36);
const T = `whe_${run}`;
const SECRET = `whe-secret-${run}-0123456789`;
const pgUrl = new URL(ep.postgresUrl);
const receiver = new WebhookReceiver(SECRET);
let dir: string;
let db: pg.Client;
let daemon: DaemonProcess | undefined;
const bin = join(import.meta.dirname, '..', '..', 'bin', 'cdc-fanout.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, WHE_SECRET: SECRET }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  await receiver.up();
  dir = mkdtempSync(join(tmpdir(), 'cdc-fanout-webhook-'));
  db = new pg.Client({ connectionString: ep.postgresUrl });
  await db.connect();
  await db.query(`CREATE TABLE public.${T} (id int PRIMARY KEY, name text)`);
  mkdirSync(join(dir, 'connectors'));
  writeFileSync(
    join(dir, 'connectors', 'p.yaml'),
    `name: ${T}
source:
  topic.prefix: ${T}
  database.hostname: ${pgUrl.hostname}
  database.port: ${pgUrl.port || 5432}
  database.user: ${decodeURIComponent(pgUrl.username || 'postgres')}
  database.dbname: ${pgUrl.pathname.slice(1) || 'postgres'}
  slot.name: ${T}_slot
  publication.name: ${T}_pub
  publication.autocreate.mode: filtered
  table.include.list: public.${T}
  max.batch.wait.ms: 20
kafka:
  bootstrap.servers: ${ep.kafkaBrokers.join(',')}
sinks:
  - name: hooks
    type: webhook
    tables: [public.${T}]
    url: ${receiver.url}
    signature.secret: \${WHE_SECRET}
    request.concurrency: 3
    batch.max.wait.ms: 50
`,
  );
}, 60_000);

afterAll(async () => {
  await daemon?.stop('SIGKILL');
  await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [`${T}_slot`]).catch(() => undefined);
  await db.query(`DROP PUBLICATION IF EXISTS ${T}_pub`).catch(() => undefined);
  await db.query(`DROP TABLE IF EXISTS public.${T}`).catch(() => undefined);
  const admin = new Kafka({ brokers: [...ep.kafkaBrokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(T));
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
  const group = `cdc-fanout.${T}.hooks`;
  await admin.deleteGroups([group, `${group}.offsets`]).catch(() => undefined);
  await admin.disconnect();
  await db.end();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
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
  daemon = await startDaemon(join(dir, 'connectors'), { WHE_SECRET: SECRET });
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

  expect(await daemon.stop('SIGTERM')).toBe(0);
  expect(daemon.output()).not.toContain(SECRET);
  daemon = undefined;
  // Everything before the state matched was delivered (per partition in order); nothing is produced any more.
  const deliveredIds = new Set(receiver.seen);

  const reset = await cli(['reset-offsets', T, '--config', join(dir, 'connectors'), '--sink', 'hooks', '--to', 'earliest', '--yes']);
  expect(reset.stderr).toBe('');
  expect(reset.code).toBe(0);

  const before = receiver.delivered.length;
  daemon = await startDaemon(join(dir, 'connectors'), { WHE_SECRET: SECRET });
  await waitFor('every event delivered again', () => Promise.resolve(receiver.delivered.length - before >= deliveredIds.size), 120_000, 500);
  // re-deliveries carry the ids already seen: nothing new for a deduping receiver
  expect([...receiver.seen].filter((id) => !deliveredIds.has(id))).toEqual([]);
  expect(await receiverMatchesTable()).toBe(true);
});
