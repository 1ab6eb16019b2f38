/**
 * Slot invalidation (issue 19, deliverable 5), forced for real: a private throwaway Postgres cluster
 * (initdb of the installed Postgres, as the postgres OS user, own port and data dir, so the shared
 * server's settings are never touched) with max_slot_wal_keep_size = 1MB. A pipeline's slot falls
 * behind while it is stopped, a checkpoint invalidates it (wal_status = lost); the next start fails
 * naming the loss and the remedy; snapshot.mode=when_needed re-creates the slot and re-snapshots.
 * Skipped when no initdb/runuser is available.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { freePort } from '../support/ports.js';
import { cleanup, consume, kafkaConfig, uniq, waitFor } from './helpers.js';

/** The Postgres binaries: CDC_PG_BIN (the version matrix, scripts/pg-matrix.ts), else the newest installed. */
function pgBin(): string | null {
  if (process.env.CDC_PG_BIN) return process.env.CDC_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}
const bin = pgBin();
const canRun = bin !== null && spawnSync('runuser', ['--help']).status === 0 && spawnSync('id', ['postgres']).status === 0;

const id = uniq('src_inv');
const prefix = id.replace(/_/g, '-');
const sources: PostgresSource[] = [];
const logger = process.env.CDC_TEST_LOG ? createLogger() : silentLogger;
let dir = '';
let port = 0;

const asPostgres = (cmd: string, args: string[]): string => execFileSync('runuser', ['-u', 'postgres', '--', join(bin!, cmd), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

async function sql(text: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    return (await c.query(text)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

function pipeline(extra: Record<string, unknown> = {}): PostgresSource {
  const s = new PostgresSource(
    {
      'database.hostname': '127.0.0.1',
      'database.port': port,
      'database.user': 'postgres',
      'database.dbname': 'postgres',
      name: id,
      'topic.prefix': prefix,
      'slot.name': id,
      'publication.name': `${id}_pub`,
      'publication.autocreate.mode': 'filtered',
      'table.include.list': 'public\\.t',
      'heartbeat.interval.ms': 300,
      'slot.health.interval.ms': 300,
      ...extra,
    },
    kafkaConfig,
    logger,
  );
  sources.push(s);
  return s;
}

beforeAll(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'cdc-inv-'));
  chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()));
  port = await freePort();
  asPostgres('initdb', ['-D', join(dir, 'data'), '--auth=trust', '-U', 'postgres', '--no-sync']);
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c wal_level=logical -c max_slot_wal_keep_size=1MB -c max_wal_size=32MB -c min_wal_size=32MB -c fsync=off`;
  asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-o', opts, '-w', 'start']);
});

afterAll(async () => {
  // Bounded: a hung stop must not leave the private cluster running.
  for (const s of sources) await Promise.race([s.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10000))]);
  if (!canRun || !dir) return;
  spawnSync('runuser', ['-u', 'postgres', '--', join(bin!, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  rmSync(dir, { recursive: true, force: true });
  await cleanup({ topicPrefix: prefix });
});

describe.skipIf(!canRun)('slot invalidation (private cluster, max_slot_wal_keep_size = 1MB)', () => {
  it('a lost slot fails the start with the remedy; when_needed re-creates it and re-snapshots', async () => {
    await sql('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await sql(`INSERT INTO t SELECT g, 'snap' FROM generate_series(1, 3) g`);
    const a = pipeline();
    await a.start();
    await waitFor(() => a.status().state === 'streaming', 30000, 'streaming');
    await sql(`INSERT INTO t VALUES (4, 'streamed')`);
    await waitFor(() => a.status().eventsPublished >= 4, 30000, '4 events');
    await a.stop();

    // While the pipeline is down: a captured change, then far more WAL than the slot may keep.
    await sql(`INSERT INTO t VALUES (5, 'while down')`);
    await sql('CREATE TABLE filler (v text)');
    for (let i = 0; i < 6; i++) {
      await sql(`INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 5000)`);
      await sql('SELECT pg_switch_wal()');
    }
    await sql('CHECKPOINT');
    await waitFor(async () => (await sql(`SELECT wal_status FROM pg_replication_slots WHERE slot_name = '${id}'`))[0]?.wal_status === 'lost', 30000, 'slot invalidated');

    const b = pipeline();
    await expect(b.start()).rejects.toThrow(new RegExp(`replication slot "${id}" was invalidated by Postgres \\(wal_status = lost\\).*max_slot_wal_keep_size`));

    const c = pipeline({ 'snapshot.mode': 'when_needed' });
    await c.start();
    await waitFor(() => c.status().state === 'streaming', 60000, 're-snapshot done');
    expect((await sql(`SELECT wal_status FROM pg_replication_slots WHERE slot_name = '${id}'`))[0]?.wal_status).not.toBe('lost');
    const recs = await consume([`${prefix}.public.t`], (r) => r.some((x) => (x.json?.after as { id?: number } | undefined)?.id === 5), 30000);
    expect(recs.some((x) => (x.json?.after as { id?: number } | undefined)?.id === 5)).toBe(true);
    await waitFor(() => c.status().slot?.walStatus === 'reserved' || c.status().slot?.walStatus === 'extended', 30000, 'healthy slot reported');
    await c.stop();
  });
});
