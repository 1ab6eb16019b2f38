/**
 * An incremental snapshot killed with -9 midway resumes at its committed chunk: the source runs as a
 * child process (test/support/run-source.ts); the snapshot is started with the same logical message
 * the signal/CLI/admin path writes (incremental-snapshot.ts); after the kill the committed state
 * (offsets topic, read_committed) is mid-table; the restarted source finishes it, and the final
 * state counts exactly the table's rows (a restart from the beginning would count them again) while
 * Kafka holds exactly one snapshot read per row.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoredOffset } from '../../src/kafka/offsets-store.js';
import { watermarkPrefix } from '../../src/source/incremental-snapshot.js';
import { cleanup, consume, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_icrash');
const prefix = id.replace(/_/g, '-');
const table = `public.${id}`;
const ROWS = 30_000;

interface Child {
  readonly proc: ChildProcess;
  readonly msgs: string[];
}

function start(): Child {
  const args = ['tsx', 'test/support/run-source.ts', `name=${id}`, `topic.prefix=${prefix}`, `slot.name=${id}`, `publication.name=${id}_pub`, 'publication.autocreate.mode=filtered', `table.include.list=public\\.${id}`, 'snapshot.mode=never', 'incremental.snapshot.chunk.size=200', 'max.batch.wait.ms=20'];
  const proc = spawn('npx', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CDC_LOG_LEVEL: 'info' } });
  const msgs: string[] = [];
  proc.stdout!.on('data', (b: Buffer) => {
    for (const line of b.toString().split('\n')) {
      const m = /"msg":"([^"]*)"/.exec(line);
      if (m) msgs.push(m[1]!);
    }
  });
  return { proc, msgs };
}

async function killHard(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  try {
    process.kill(-p.pid!, 'SIGKILL');
  } catch {
    p.kill('SIGKILL');
  }
  await exited;
}

async function committed(): Promise<StoredOffset> {
  const recs = await consume([`${prefix}.cdc-fanout.offsets`], () => false, 5000);
  const mine = recs.filter((r) => r.key === id && r.json);
  return mine[mine.length - 1]!.json as unknown as StoredOffset;
}

let child: Child | null = null;

afterAll(async () => {
  if (child) await killHard(child.proc);
  await new Promise((r) => setTimeout(r, 1000));
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [table] });
});

describe('incremental snapshot, kill -9', () => {
  it('resumes at the committed chunk: rows counted once, one read per row', async () => {
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, pad text)`);
      await c.query(`INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g`);
      child = start();
      await waitFor(() => child!.msgs.includes('streaming started'), 120_000, 'streaming');
      await c.query('SELECT pg_logical_emit_message(true, $1, $2)', [watermarkPrefix(id), JSON.stringify({ kind: 'start', id: 'crash-test', tables: [table], conditions: {}, estimated: ROWS })]);
      const topic = `${prefix}.public.${id}`;
      await consume([topic], (r) => r.length >= 3000, 120_000);
      await killHard(child.proc);
      expect(child.msgs).not.toContain('incremental snapshot completed');
      await waitFor(async () => {
        const r = await c.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [id]);
        return r.rows[0]?.active_pid === null;
      }, 30_000, 'slot released');
      const mid = await committed();
      expect(mid.incremental?.id).toBe('crash-test');
      expect(mid.incremental?.finished).toBeNull();
      expect(mid.incremental?.rows).toBeGreaterThan(0);
      expect(mid.incremental?.rows).toBeLessThan(ROWS);
      expect(mid.incremental?.last_key).not.toBeNull();

      child = start();
      await waitFor(() => child!.msgs.includes('incremental snapshot completed'), 180_000, 'incremental snapshot completed');
      // the completing chunk's commit is in Kafka once the stream has gone idle past it
      await waitFor(async () => (await committed()).incremental?.finished === 'done', 60_000, 'completion committed');
      const end = await committed();
      expect(end.incremental?.rows).toBe(ROWS);
      await killHard(child.proc);
      child = null;
      const recs = await consume([topic], (r) => r.length >= ROWS, 120_000);
      const ids = recs.filter((r) => r.json?.op === 'r').map((r) => (r.json!.after as { id: number }).id);
      expect(ids.length).toBe(ROWS);
      expect(new Set(ids).size).toBe(ROWS);
    } finally {
      await c.end();
    }
  }, 600_000);
});
