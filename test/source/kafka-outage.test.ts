/**
 * Kafka unavailable under load → backpressure, nothing lost, nothing confirmed early.
 *
 * The stack's Kafka broker is frozen (SIGSTOP) for 15 s while 60,000 row changes are written.
 * While it is frozen: no Kafka commit happens, the slot's confirmed_flush_lsn does not reach the
 * frozen writes (no LSN is confirmed before its Kafka commit), and the replication stream stops being read (Postgres'
 * sent_lsn stays far behind the WAL it has: the pause reached the server, memory stays bounded by
 * max.queue.size instead of buffering the backlog). After SIGCONT every change arrives exactly once.
 * Needs the broker started by `npm run stack:up` (its pid file); skipped otherwise.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';
import { cleanup, consume, kafkaConfig, oneTableSource, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_outage');
const table = `public.${id}`;
const prefix = id.replace(/_/g, '-');
const topic = `${prefix}.public.${id}`;
const ROWS_BEFORE = 1000;
const ROWS_DURING = 60_000;

function kafkaPid(): number | undefined {
  try {
    const pid = Number(readFileSync(join(import.meta.dirname, '..', '..', '.stack', 'kafka', 'kafka.pid'), 'utf8').trim());
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka') ? pid : undefined;
  } catch {
    return undefined;
  }
}

const pid = kafkaPid();
let source: PostgresSource;
let frozen = false;

const thaw = (): void => {
  if (frozen && pid) process.kill(pid, 'SIGCONT');
  frozen = false;
};

beforeAll(async () => {
  if (!pid) return;
  const c = await pgClient();
  await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
  await c.end();
  source = new PostgresSource(
    oneTableSource(id, {
      'snapshot.mode': 'never',
      'max.batch.size': 1000,
      'max.queue.size': 4000,
    }),
    kafkaConfig,
    silentLogger,
  );
  await source.start();
  await waitFor(() => source.status().state === 'streaming', 30000, 'streaming');
});

afterAll(async () => {
  thaw();
  await source?.stop();
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [table] });
});

describe.skipIf(!pid)('Kafka outage', () => {
  it('pauses replication while Kafka is frozen, confirms nothing early, and loses nothing', async () => {
    const c = await pgClient();
    try {
      await c.query(`INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series(1, ${ROWS_BEFORE}) g`);
      await waitFor(() => source.status().eventsPublished >= ROWS_BEFORE, 30000, 'first rows in Kafka');
      const slotState = async (): Promise<{ confirmed: string; sentBehind: number }> => {
        const r = await c.query(
          `SELECT s.confirmed_flush_lsn::text AS confirmed, pg_wal_lsn_diff(pg_current_wal_lsn(), r.sent_lsn)::bigint AS behind
             FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1`,
          [id],
        );
        return { confirmed: r.rows[0].confirmed as string, sentBehind: Number(r.rows[0].behind) };
      };
      // The slot's confirmed_flush_lsn settles once the first rows' Kafka commit was confirmed.
      let last = '';
      let since = Date.now();
      await waitFor(async () => {
        const now = (await slotState()).confirmed;
        if (now !== last) [last, since] = [now, Date.now()];
        return source.status().confirmedLsn !== null && Date.now() - since > 1500;
      }, 20000, 'slot confirmed position to settle');
      const confirmedBefore = (await slotState()).confirmed;
      const txBefore = source.status().kafkaTransactions;

      process.kill(pid!, 'SIGSTOP');
      frozen = true;
      // WAL before the first write Kafka cannot take: nothing at or after it may be confirmed while
      // frozen. (Unrelated WAL before it may be: an idle keepalive confirms what holds no changes.)
      const walBeforeWrites = (await c.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l as string;
      for (let i = 0; i < ROWS_DURING; i += 500) {
        await c.query(`INSERT INTO ${table} SELECT g, repeat(md5(g::text), 40) FROM generate_series($1::int, $2::int) g`, [ROWS_BEFORE + i + 1, ROWS_BEFORE + i + 500]);
      }
      await new Promise((r) => setTimeout(r, 15000));
      const during = await slotState();
      const status = source.status();
      thaw();
      console.log(JSON.stringify({ frozenSeconds: 15, rowsWritten: ROWS_DURING, walUnsentBytes: during.sentBehind, confirmedBefore, walBeforeWrites, confirmedDuring: during.confirmed }));
      // (+1: a confirmation names the byte after the last one flushed.)
      const confirmedNothingNew = (await c.query('SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn) <= 1 AS ok', [during.confirmed, walBeforeWrites])).rows[0].ok as boolean;

      expect(status.kafkaTransactions).toBe(txBefore);
      expect(status.error).toBeNull();
      expect(confirmedNothingNew, `confirmed ${during.confirmed} while frozen; writes began at ${walBeforeWrites}`).toBe(true);
      // ~60k rows of ~1.4 kB (~85 MB of WAL, below the TOAST threshold): MBs of it still unsent while frozen (0 with an unbounded
      // queue): the source stopped reading. Loopback socket buffers autotune to tens of MB (tcp_rmem max is 32 MB on this box):
      // with 180-byte rows (~11 MB) the walsender pushed all of it into them in a PG 18 CI run and read 0 behind.
      expect(during.sentBehind).toBeGreaterThan(2 * 1024 * 1024);

      await waitFor(() => source.status().eventsPublished >= ROWS_BEFORE + ROWS_DURING, 120000, 'all rows in Kafka after the thaw');
      const recs = await consume([topic], (r) => r.length >= ROWS_BEFORE + ROWS_DURING, 120000);
      const keys = recs.map((r) => r.key);
      expect(recs.length).toBe(ROWS_BEFORE + ROWS_DURING);
      expect(new Set(keys).size).toBe(ROWS_BEFORE + ROWS_DURING);
      await waitFor(
        async () => (await c.query('SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn) > 1 AS moved', [(await slotState()).confirmed, walBeforeWrites])).rows[0].moved === true,
        15000,
        'the frozen writes confirmed after the thaw',
      );
    } finally {
      thaw();
      await c.end();
    }
  }, 300_000);
});
