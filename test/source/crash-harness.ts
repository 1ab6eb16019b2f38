/**
 * Crash harness shared by test/source/crash.test.ts (CI size) and scripts/soak-source.ts (long):
 * runs the source as a child process (test/support/run-source.ts), kill -9s it at random moments —
 * mid-snapshot, mid-Kafka-transaction, mid large PG transaction — under a concurrent write load,
 * restarts it, and at the end reconciles Kafka (read_committed, fresh group) against the log of
 * committed PG changes: exactly one event per change, in per-key order, one snapshot read per row.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cleanup, consume, pgClient, uniq, waitFor, type ConsumedRecord } from './helpers.js';
import { testRng } from '../support/seed.js';

export interface CrashOptions {
  readonly cycles: number;
  readonly seedRows: number;
  /** Random kill delay after spawn, ms. */
  readonly minKillMs: number;
  readonly maxKillMs: number;
  readonly log?: (msg: string) => void;
}

export interface CrashResult {
  readonly cycles: number;
  readonly kills: number;
  readonly changes: number;
  readonly events: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly snapshotReads: number;
  readonly problems: readonly string[];
}

type Ev = string; // "c:0" | "u:3" | "d"

export async function runCrashCycles(opts: CrashOptions): Promise<CrashResult> {
  const log = opts.log ?? (() => undefined);
  const random = testRng('source crash cycles');
  const id = uniq('src_crash');
  const prefix = id.replace(/_/g, '-');
  const seed = `${id}_seed`;
  const live = `${id}_live`;
  const logDir = join(tmpdir(), 'cdc-fanout-crash-logs');
  mkdirSync(logDir, { recursive: true });
  const c = await pgClient();
  await c.query(`CREATE TABLE public.${seed} (id int PRIMARY KEY, pad text)`);
  await c.query(`INSERT INTO public.${seed} SELECT g, md5(g::text) FROM generate_series(1, ${opts.seedRows}) g`);
  await c.query(`CREATE TABLE public.${live} (id int PRIMARY KEY, ver int NOT NULL, pad text)`);
  await c.query(`ANALYZE public.${seed}`);

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
    'snapshot.fetch.size=500',
    'max.batch.size=300',
    'max.batch.wait.ms=20',
    'heartbeat.interval.ms=1000',
  ];
  let child: ChildProcess | null = null;
  let snapshotDone = false;
  let ready = false;
  let spawnCount = 0;
  const start = (): ChildProcess => {
    spawnCount++;
    const out = createWriteStream(join(logDir, `${id}-${spawnCount}.log`));
    const p = spawn('npx', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CDC_LOG_LEVEL: 'info' } });
    ready = false;
    p.stdout!.on('data', (b: Buffer) => {
      out.write(b);
      if (b.toString().includes('recovered position')) ready = true;
      if (b.toString().includes('snapshot completed') || b.toString().includes('streaming started')) snapshotDone = true;
    });
    p.stderr!.on('data', (b: Buffer) => out.write(b));
    p.on('exit', () => out.end());
    return p;
  };
  const killHard = async (p: ChildProcess): Promise<void> => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    // npx → node (tsx): kill the whole process group.
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      p.kill('SIGKILL');
    }
    await exited;
  };

  // Writer: random inserts/updates/deletes on the live table, 1..40 rows per transaction, with an
  // occasional 2000-row transaction; the log holds only changes whose COMMIT returned.
  const expected = new Map<number, Ev[]>();
  const vers = new Map<number, number>();
  let nextId = 1;
  let writing = false;
  let changes = 0;
  const writer = async (): Promise<void> => {
    const w = await pgClient();
    try {
      while (writing) {
        const big = random.next() < 0.03;
        const n = big ? 2000 : 1 + Math.floor(random.next() * 40);
        const pending: [number, Ev, number | null][] = [];
        await w.query('BEGIN');
        for (let i = 0; i < n; i++) {
          const existing = [...vers.keys()];
          const r = random.next();
          if (big || existing.length < 50 || r < 0.4) {
            const k = nextId++;
            await w.query(`INSERT INTO public.${live} VALUES ($1, 0, 'x')`, [k]);
            vers.set(k, 0);
            pending.push([k, 'c:0', 0]);
          } else {
            const k = existing[Math.floor(random.next() * existing.length)]!;
            const v = vers.get(k)!;
            if (r < 0.9) {
              await w.query(`UPDATE public.${live} SET ver = $2 WHERE id = $1`, [k, v + 1]);
              vers.set(k, v + 1);
              pending.push([k, `u:${v + 1}`, v + 1]);
            } else {
              await w.query(`DELETE FROM public.${live} WHERE id = $1`, [k]);
              vers.delete(k);
              pending.push([k, 'd', null]);  // default replica identity: the delete carries only the key
            }
          }
        }
        await w.query('COMMIT');
        for (const [k, ev] of pending) {
          if (!expected.has(k)) expected.set(k, []);
          expected.get(k)!.push(ev);
          changes++;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await w.end();
    }
  };

  let kills = 0;
  let writerRun: Promise<void> | null = null;
  try {
    for (let cycle = 1; cycle <= opts.cycles; cycle++) {
      child = start();
      // Kill at a random moment after set-up (offsets recovered): mid-snapshot, mid-stream,
      // mid-Kafka-transaction, mid large PG transaction.
      await waitFor(() => ready, 60000, 'source set-up');
      if (snapshotDone && !writerRun) {
        writing = true;
        writerRun = writer();
      }
      const delay = opts.minKillMs + random.next() * (opts.maxKillMs - opts.minKillMs);
      await new Promise((r) => setTimeout(r, delay));
      await killHard(child);
      kills++;
      log(`cycle ${cycle}: killed ${Math.round(delay)} ms after set-up (snapshot done: ${snapshotDone}, changes so far: ${changes})`);
      // the walsender notices the closed socket; wait until the slot is free
      await waitFor(async () => {
        const r = await c.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [id]);
        return r.rows.length === 0 || r.rows[0].active_pid === null;
      }, 30000, 'slot released');
    }
    // Final run: no more kills; stop the writer, let the source catch up.
    child = start();
    if (!writerRun) {
      await waitFor(() => snapshotDone, 120000, 'snapshot');
      writing = true;
      writerRun = writer();
      await new Promise((r) => setTimeout(r, 2000));
    }
    writing = false;
    await writerRun;
    const topics = [`${prefix}.public.${seed}`, `${prefix}.public.${live}`];
    const totalExpected = opts.seedRows + changes + [...expected.values()].flat().filter((e) => e === 'd').length; // + tombstones
    log(`writer stopped: ${changes} changes; waiting for ${totalExpected} records`);
    const recs = await consume(topics, (r) => r.length >= totalExpected, 180000);
    // a little longer, to catch anything extra
    const extra = await consume(topics, (r) => r.length > totalExpected, 3000);
    const result = reconcile(opts.seedRows, expected, extra.length >= recs.length ? extra : recs, `${prefix}.public.${seed}`);
    return { ...result, cycles: opts.cycles, kills, changes };
  } finally {
    writing = false;
    await writerRun?.catch(() => undefined);
    if (child) await killHard(child);
    await c.end();
    await cleanup({ slot: id, publication: `${id}_pub`, topicPrefix: prefix, tables: [`public.${seed}`, `public.${live}`] });
  }
}

function reconcile(seedRows: number, expected: Map<number, Ev[]>, recs: readonly ConsumedRecord[], seedTopic: string): Omit<CrashResult, 'cycles' | 'kills' | 'changes'> {
  const problems: string[] = [];
  const seedSeen = new Map<number, number>();
  const got = new Map<number, Ev[]>();
  let events = 0;
  for (const r of recs) {
    if (!r.json) continue;
    if (r.topic === seedTopic) {
      const k = (r.json.after as { id: number }).id;
      seedSeen.set(k, (seedSeen.get(k) ?? 0) + 1);
      continue;
    }
    const row = (r.json.after ?? r.json.before) as { id: number; ver: number };
    const op = String(r.json.op);
    events++;
    if (!got.has(row.id)) got.set(row.id, []);
    got.get(row.id)!.push(op === 'd' ? 'd' : `${op}:${row.ver}`);
  }
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  for (let k = 1; k <= seedRows; k++) {
    const n = seedSeen.get(k) ?? 0;
    if (n === 0) lost++;
    if (n > 1) duplicated += n - 1;
  }
  for (const [k, exp] of expected) {
    const g = got.get(k) ?? [];
    const expCount = new Map<string, number>();
    for (const e of exp) expCount.set(e, (expCount.get(e) ?? 0) + 1);
    const gotCount = new Map<string, number>();
    for (const e of g) gotCount.set(e, (gotCount.get(e) ?? 0) + 1);
    for (const [e, n] of expCount) {
      const m = gotCount.get(e) ?? 0;
      if (m < n) lost += n - m;
    }
    for (const [e, m] of gotCount) {
      const n = expCount.get(e) ?? 0;
      if (m > n) duplicated += m - n;
    }
    if (g.length === exp.length && g.some((e, i) => e !== exp[i])) outOfOrder++;
    if ((g.length !== exp.length || g.some((e, i) => e !== exp[i])) && problems.length < 10) problems.push(`key ${k}: expected ${exp.join(',')} got ${g.join(',')}`);
  }
  for (const k of got.keys()) if (!expected.has(k)) duplicated += got.get(k)!.length;
  return { events, lost, duplicated, outOfOrder, snapshotReads: [...seedSeen.values()].reduce((a, b) => a + b, 0), problems };
}
