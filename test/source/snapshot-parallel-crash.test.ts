/**
 * Parallel chunked snapshot (snapshot.max.threads=4) killed with -9 twice — once inside a table with
 * a primary key (key-range chunks), once inside a table without one (ctid block-range chunks) —
 * resumes at its checkpointed chunks instead of starting over:
 *  - after each kill, the committed checkpoint (offsets topic, read_committed) is mid-table, with
 *    chunks done, and the restarted source logs that it resumes that table from them;
 *  - the final run reads exactly the rows the committed checkpoint did not cover (rows re-read = 0),
 *  - and Kafka holds exactly one snapshot read per row of each table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoredOffset } from '../../src/kafka/offsets-store.js';
import { cleanup, consume, pgClient, uniq, waitFor } from './helpers.js';

const id = uniq('src_pcrash');
const prefix = id.replace(/_/g, '-');
const keyed = `${id}_a`;
const keyless = `${id}_b`;
const KEYED_ROWS = 120_000;
const KEYLESS_ROWS = 80_000;
const FETCH = 500;

interface LogLine {
  readonly msg?: string;
  readonly table?: string;
  readonly chunks?: string;
  readonly chunksDone?: number;
  readonly rowsRead?: number;
  readonly rows?: number;
}

interface Child {
  readonly proc: ChildProcess;
  readonly lines: LogLine[];
}

function start(): Child {
  const args = [
    'tsx',
    'test/support/run-source.ts',
    `name=${id}`,
    `topic.prefix=${prefix}`,
    `slot.name=${id}`,
    `publication.name=${id}_pub`,
    'publication.autocreate.mode=filtered',
    `table.include.list=public\\.${id}_.*`,
    'snapshot.mode=initial',
    `snapshot.fetch.size=${FETCH}`,
    'snapshot.max.threads=4',
    'max.batch.size=2000',
    'max.batch.wait.ms=20',
  ];
  const proc = spawn('npx', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CDC_LOG_LEVEL: 'info' } });
  const lines: LogLine[] = [];
  let rest = '';
  proc.stdout!.on('data', (b: Buffer) => {
    const parts = (rest + b.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr!.on('data', (b: Buffer) => {
    if (process.env.CDC_TEST_LOG) process.stderr.write(b);
  });
  return { proc, lines };
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

/** Chunks done in a progress line's "done/total". */
const chunksDone = (l: LogLine): number => Number((l.chunks ?? '0/0').split('/')[0]);

/** The committed checkpoint of the source (last offsets record of the connector, read_committed). */
async function committedCheckpoint(): Promise<StoredOffset> {
  const recs = await consume([`${prefix}.cdc-fanout.offsets`], () => false, 5000);
  const mine = recs.filter((r) => r.key === id && r.json);
  expect(mine.length).toBeGreaterThan(0);
  return mine[mine.length - 1]!.json as unknown as StoredOffset;
}

async function slotFree(): Promise<void> {
  const c = await pgClient();
  try {
    await waitFor(async () => {
      const r = await c.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [id]);
      return r.rows.length === 0 || r.rows[0].active_pid === null;
    }, 30000, 'slot released');
  } finally {
    await c.end();
  }
}

let child: Child | null = null;

afterAll(async () => {
  if (child) await killHard(child.proc);
  await slotFree().catch(() => undefined);
  await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [`public.${keyed}`, `public.${keyless}`] });
});

describe('parallel chunked snapshot, kill -9', () => {
  it('resumes at chunk granularity (keyed and keyless tables): no row re-read, one read per row', async () => {
    const c = await pgClient();
    try {
      await c.query(`CREATE TABLE public.${keyed} (id int PRIMARY KEY, name text, amount numeric(12,2), created timestamptz, pad text)`);
      await c.query(`INSERT INTO public.${keyed} SELECT g, 'name ' || g, g * 1.5, now(), md5(g::text) FROM generate_series(1, ${KEYED_ROWS}) g`);
      await c.query(`CREATE TABLE public.${keyless} (n int NOT NULL, pad text)`);
      await c.query(`ALTER TABLE public.${keyless} REPLICA IDENTITY FULL`);
      await c.query(`INSERT INTO public.${keyless} SELECT g, md5(g::text) FROM generate_series(1, ${KEYLESS_ROWS}) g`);
      await c.query(`ANALYZE public.${keyed}`);
      await c.query(`ANALYZE public.${keyless}`);
    } finally {
      await c.end();
    }

    // Run 1: killed inside the keyed table, once a fifth of its chunks are written.
    child = start();
    await waitFor(() => child!.lines.some((l) => l.msg === 'snapshot progress' && l.table === `public.${keyed}` && chunksDone(l) >= 40), 180_000, 'keyed table progress');
    await killHard(child.proc);
    await slotFree();
    const cp1 = await committedCheckpoint();
    expect(cp1.snapshot?.completed).toBe(false);
    expect(cp1.snapshot?.table).toBe(`public.${keyed}`);
    expect(cp1.snapshot?.chunks?.kind).toBe('key');
    const done1 = (cp1.snapshot?.chunks?.done_below ?? 0) + (cp1.snapshot?.chunks?.done.length ?? 0);
    expect(done1).toBeGreaterThan(0);

    // Run 2: resumes the keyed table at its chunks; killed inside the keyless table.
    child = start();
    await waitFor(() => child!.lines.some((l) => l.msg === 'snapshot progress' && l.table === `public.${keyless}` && chunksDone(l) >= 30), 180_000, 'keyless table progress');
    await killHard(child.proc);
    const resumed2 = child.lines.find((l) => l.msg === 'snapshot resumes the table at its checkpointed chunks');
    expect(resumed2?.table).toBe(`public.${keyed}`);
    expect(resumed2?.chunksDone).toBe(done1);
    await slotFree();
    const cp2 = await committedCheckpoint();
    expect(cp2.snapshot?.completed).toBe(false);
    expect(cp2.snapshot?.table).toBe(`public.${keyless}`);
    expect(cp2.snapshot?.chunks?.kind).toBe('ctid');
    expect(cp2.snapshot?.tables_done).toEqual([`public.${keyed}`]);
    const done2 = (cp2.snapshot?.chunks?.done_below ?? 0) + (cp2.snapshot?.chunks?.done.length ?? 0);
    expect(done2).toBeGreaterThan(0);
    const committedRows = cp2.snapshot!.next_seq;

    // Run 3: resumes the keyless table and completes, reading only what the checkpoint lacked.
    child = start();
    await waitFor(() => child!.lines.some((l) => l.msg === 'snapshot completed'), 180_000, 'snapshot completed');
    const resumed3 = child.lines.find((l) => l.msg === 'snapshot resumes the table at its checkpointed chunks');
    expect(resumed3?.table).toBe(`public.${keyless}`);
    expect(resumed3?.chunksDone).toBe(done2);
    const completed = child.lines.find((l) => l.msg === 'snapshot completed')!;
    expect(committedRows).toBeGreaterThan(KEYED_ROWS);
    expect(completed.rowsRead).toBe(KEYED_ROWS + KEYLESS_ROWS - committedRows);
    await killHard(child.proc);
    child = null;

    const topics = [`${prefix}.public.${keyed}`, `${prefix}.public.${keyless}`];
    const total = KEYED_ROWS + KEYLESS_ROWS;
    const recs = await consume(topics, (r) => r.length >= total, 120_000);
    const reads = recs.filter((r) => (r.json as { op?: string } | null)?.op === 'r');
    const keyedIds = reads.filter((r) => r.topic === topics[0]).map((r) => (r.json as { after: { id: number } }).after.id);
    const keylessNs = reads.filter((r) => r.topic === topics[1]).map((r) => (r.json as { after: { n: number } }).after.n);
    expect(keyedIds.length).toBe(KEYED_ROWS);
    expect(new Set(keyedIds).size).toBe(KEYED_ROWS);
    expect(keylessNs.length).toBe(KEYLESS_ROWS);
    expect(new Set(keylessNs).size).toBe(KEYLESS_ROWS);
  }, 600_000);
});
