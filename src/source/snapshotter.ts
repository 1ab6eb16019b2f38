/**
 * Initial snapshot, consistent with the slot: every captured table is read inside REPEATABLE READ
 * transactions that import the slot's exported snapshot (SET TRANSACTION SNAPSHOT). Rows are op 'r'
 * with position (consistent point, ordinal), so streaming — which starts at the consistent point —
 * continues with no gap and no duplicate, and any later streamed change has a higher version.
 *
 * Chunks and workers (snapshot.max.threads): one table at a time is split into chunks — primary-key
 * ranges (boundaries from one ordered pass over the key index) or, for a table without a key, heap
 * block ranges read as TID range scans — and N workers, each with its own connection importing the
 * same snapshot, claim chunks in order and read them `snapshot.fetch.size` rows per query (keyset
 * inside a key chunk → bounded memory). Reads run in parallel; publishing a page (build, push, end
 * of a Kafka "transaction" with its checkpoint) is serialised, so each checkpoint describes exactly
 * the rows pushed before it.
 *
 * Checkpoints: the Kafka transaction carrying a page also carries the offsets record with
 * `snapshot: {tables_done, table, chunks: {plan, done chunks, last key of partly written chunks},
 * next_seq}` — the rows and the progress that says they are written commit together (exactly-once).
 *
 * Resume after a crash mid-snapshot: the exported snapshot died with its replication connection,
 * so the remaining chunks are read in a FRESH snapshot (REPEATABLE READ; the first worker exports it
 * with pg_export_snapshot() and the others import it), with the stored chunk plan: done chunks are
 * skipped, partly written ones continue after their last key, still versioned at the original
 * consistent point. Safe for sinks: the fresh read may already contain changes committed after the
 * consistent point, but every such change is also streamed afterwards (the slot still starts at the
 * consistent point) with a higher version, in the same per-key order, so each key ends at the same
 * final state. What a consumer may observe is a row image "from the future" at version CP,
 * followed by the streamed changes that lead to it again. A table without a key resumes at chunk
 * granularity too (a ctid block range is read in one query, so it is done or not); there, a row
 * inserted or moved by an update after the consistent point into a block range not yet read shows
 * up as a snapshot row as well as a streamed change (docs/snapshots.md).
 */
import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { formatLsn } from '../events/change.js';
import type { SnapshotMarker } from '../events/envelope.js';
import type { RawTuple, RelationInfo } from '../events/types.js';
import type { ChunkCheckpoint, SnapshotCheckpoint, StoredOffset } from '../kafka/offsets-store.js';
import type { TopicAdmin } from '../kafka/admin.js';
import { clientConfig, publishesGeneratedColumns, qualified, quoteIdent, quoteTable, type CapturedTable } from './connection.js';
import type { SourceConfig } from './config.js';
import type { OversizeGuard } from './oversize.js';
import type { Publisher } from './publisher.js';
import type { RecordBuilder } from './record-adapter.js';
import type { RawRelation } from './raw-change.js';
import type { RelationCache } from './relations.js';
import type { SnapshotTables } from './snapshot-tables.js';

export interface SnapshotDeps {
  readonly config: SourceConfig;
  readonly relations: RelationCache;
  readonly builder: RecordBuilder;
  readonly publisher: Publisher;
  /** Checks each event against its topic's size limit (event.oversize.handling.mode). */
  readonly guard: OversizeGuard;
  readonly admin: TopicAdmin;
  readonly logger: Logger;
  /**
   * Turns each checkpoint into the record written with its chunk (default: the source's own
   * offsets record). The table lifecycle writes its own record this way (table-lifecycle.ts).
   */
  readonly checkpointRecord?: (offset: StoredOffset) => StoredOffset;
  /** Where per-table progress goes for status (the source's; status reads it, not the metrics). */
  readonly tables?: SnapshotTables;
}

export interface SnapshotProgress {
  table: string | null;
  rowsDone: number;
  rowsEstimated: number;
  /** Chunks of the table in progress: done / planned. */
  chunksDone: number;
  chunksTotal: number;
  threads: number;
  /** Rows per second since this run started, and the estimated seconds left (null: unknown). */
  rowsPerSecond: number;
  etaSeconds: number | null;
}

const rawTypes = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const sessionOptions = '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3';
/** Upper bound on the chunks of one key-chunked table (bounds the checkpoint record's size). */
const MAX_KEY_CHUNKS = 256;

/** Chunk progress of one table (mutable; its checkpoint form is ChunkCheckpoint). */
class ChunkState {
  private readonly doneSet = new Set<number>();
  private doneBelow: number;
  private readonly partial = new Map<number, readonly string[]>();
  private nextClaim: number;

  constructor(readonly plan: ChunkCheckpoint) {
    this.doneBelow = plan.done_below;
    for (const d of plan.done) this.doneSet.add(d);
    for (const [k, v] of Object.entries(plan.partial)) this.partial.set(Number(k), v);
    this.nextClaim = this.doneBelow;
  }

  /** The next chunk no worker has claimed yet and not done, or null. */
  claim(): number | null {
    while (this.nextClaim < this.plan.count && this.isDone(this.nextClaim)) this.nextClaim++;
    if (this.nextClaim >= this.plan.count) return null;
    return this.nextClaim++;
  }

  isDone(i: number): boolean {
    return i < this.doneBelow || this.doneSet.has(i);
  }

  get doneCount(): number {
    return this.doneBelow + this.doneSet.size;
  }

  lastKey(i: number): readonly string[] | null {
    return this.partial.get(i) ?? null;
  }

  /** Whether nothing of the table has been written yet (a fresh plan). */
  get untouched(): boolean {
    return this.doneCount === 0 && this.partial.size === 0;
  }

  wrote(i: number, lastKey: readonly string[] | null, endsChunk: boolean): void {
    if (endsChunk) {
      this.partial.delete(i);
      this.doneSet.add(i);
      while (this.doneSet.delete(this.doneBelow)) this.doneBelow++;
    } else if (lastKey) this.partial.set(i, lastKey);
  }

  checkpoint(): ChunkCheckpoint {
    return {
      ...this.plan,
      done_below: this.doneBelow,
      done: [...this.doneSet].sort((a, b) => a - b),
      partial: Object.fromEntries([...this.partial].map(([k, v]) => [String(k), v])),
    };
  }
}

/** A one-at-a-time lock (publishing pages from parallel workers). */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.tail;
    let release: () => void = () => undefined;
    this.tail = new Promise<void>((r) => (release = r));
    await before;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

interface TableRun {
  readonly t: CapturedTable;
  readonly name: string;
  readonly info: RelationInfo;
  readonly cols: string;
  readonly keyIdx: readonly number[];
  readonly state: ChunkState;
  readonly isLastWithRows: boolean;
  firstPending: boolean;
  rows: number;
}

export class Snapshotter {
  readonly progress: SnapshotProgress = { table: null, rowsDone: 0, rowsEstimated: 0, chunksDone: 0, chunksTotal: 0, threads: 1, rowsPerSecond: 0, etaSeconds: null };
  private stopped = false;
  /** The publication publishes stored generated columns (PG 18+); read once per snapshot. */
  private generated: boolean | undefined;
  /** Rows read by queries, including pages a crash lost before their commit (tests, bench). */
  rowsRead = 0;

  constructor(private readonly deps: SnapshotDeps) {}

  stop(): void {
    this.stopped = true;
  }

  /**
   * Runs (or resumes) the snapshot. `snapshotName` is the exported snapshot (first run) or null
   * (resume in a fresh snapshot). Returns the seq of the last row written (-1 if none).
   */
  async run(tables: readonly CapturedTable[], consistentPoint: bigint, snapshotName: string | null, resume: SnapshotCheckpoint | null): Promise<number> {
    const { config, logger, publisher } = this.deps;
    const threads = config['snapshot.max.threads'];
    this.progress.threads = threads;
    const clients: pg.Client[] = [];
    const cp = formatLsn(consistentPoint);
    let seq = resume?.next_seq ?? 0;
    const done = new Set(resume?.tables_done ?? []);
    try {
      for (let i = 0; i < threads; i++) {
        const c = new pg.Client({ ...clientConfig(config), types: rawTypes, options: sessionOptions });
        c.on('error', () => undefined);
        clients.push(c);
        await c.connect();
      }
      const client = clients[0]!;
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let shared = snapshotName;
      if (shared) await client.query(`SET TRANSACTION SNAPSHOT '${shared.replace(/'/g, "''")}'`);
      else if (threads > 1) shared = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
      for (const c of clients.slice(1)) {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await c.query(`SET TRANSACTION SNAPSHOT '${shared!.replace(/'/g, "''")}'`);
      }
      // reltuples is -1 for a table never vacuumed or analyzed (PG 14+): no estimate for it.
      const est = await client.query<{ oid: string; n: string }>(
        `SELECT oid::text AS oid, reltuples::bigint::text AS n FROM pg_class WHERE oid = ANY($1::oid[])`,
        [tables.map((t) => String(t.oid))],
      );
      const estimates = new Map(est.rows.map((r) => [Number(r.oid), Number(r.n)]));
      this.progress.rowsEstimated = [...estimates.values()].reduce((a, n) => a + Math.max(0, n), 0);
      logger.info({ tables: tables.length, consistentPoint: cp, resumed: resume !== null, estimatedRows: this.progress.rowsEstimated, threads }, 'snapshot started');
      const started = Date.now();
      // Debezium's markers (SnapshotMarkerResolver): the snapshot's final row is `last` — here the last
      // row written of the last table that has rows (emptiness judged in the same snapshot) —, its first
      // row `first` (the first row emitted by a fresh, not resumed, snapshot), else a table's last row
      // written `last_in_data_collection`, its first `first_in_data_collection`, every other row `true`.
      let firstPending = resume === null;
      const pendingTables = tables.filter((t) => !done.has(qualified(t)));
      let lastWithRows: CapturedTable | undefined;
      for (const t of [...pendingTables].reverse()) {
        // (This client parses no types: test for a row, not for a boolean.)
        if ((await client.query(`SELECT 1 FROM ${quoteTable(t)} LIMIT 1`)).rows.length > 0) {
          lastWithRows = t;
          break;
        }
      }
      const lock = new Mutex();
      for (const t of tables) {
        const name = qualified(t);
        if (done.has(name)) continue;
        if (this.stopped) throw new Error('snapshot stopped');
        this.progress.table = name;
        const estimate = estimates.get(t.oid);
        const rowsEstimated = estimate === undefined || estimate < 0 ? null : estimate;
        this.deps.tables?.begin(name, rowsEstimated);
        if (rowsEstimated !== null) metrics.snapshotRowsTotal.set({ pipeline: config.name, table: name }, rowsEstimated);
        const rel = await this.describe(client, t);
        const info = await this.deps.relations.update(rel);
        await this.deps.admin.ensureTopics([this.deps.builder.topicFor(info)]);
        const here = resume?.table === name ? resume : null;
        const plan = here?.chunks ?? (await this.plan(client, t, here && t.keyColumns.length > 0 ? here.last_key : null));
        const state = new ChunkState(plan);
        const run: TableRun = {
          t,
          name,
          info,
          // Invariant: each value is the type's text output, exactly what pgoutput sends when streaming
          // (this client parses no types). Not `col::text`: that is a cast, not the output function, for
          // some types (boolean::text is 'true', inet::text adds the netmask, char(n)::text drops padding).
          cols: rel.columns.map((c) => `t.${quoteIdent(c.name)}`).join(', '),
          keyIdx: t.keyColumns.map((k) => rel.columns.findIndex((c) => c.name === k)),
          state,
          isLastWithRows: t === lastWithRows,
          // a table resumed after its first page has no first row any more
          firstPending: state.untouched && !(here?.last_key),
          rows: 0,
        };
        this.progress.chunksTotal = plan.count;
        this.progress.chunksDone = state.doneCount;
        if (here) logger.info({ table: name, chunks: plan.count, chunksDone: state.doneCount, partial: Object.keys(plan.partial).length }, 'snapshot resumes the table at its checkpointed chunks');
        let failure: unknown = null;
        const worker = async (c: pg.Client): Promise<void> => {
          for (;;) {
            const i = failure ? null : state.claim();
            if (i === null) return;
            let lastKey = state.lastKey(i);
            for (;;) {
              if (this.stopped) throw new Error('snapshot stopped');
              if (failure) return;
              const { rows, endsChunk } = await this.readPage(c, run, i, lastKey);
              this.rowsRead += rows.length;
              if (rows.length > 0 && run.keyIdx.length > 0) lastKey = run.keyIdx.map((k) => String(rows[rows.length - 1]![k]));
              await lock.run(async () => {
                if (failure) return;
                const lastInTable = endsChunk && state.doneCount === plan.count - 1;
                for (let r = 0; r < rows.length; r++) {
                  const firstInTable = run.firstPending && r === 0;
                  const last = lastInTable && r === rows.length - 1;
                  const marker: SnapshotMarker =
                    last && run.isLastWithRows ? 'last' : firstInTable && firstPending ? 'first' : last ? 'last_in_data_collection' : firstInTable ? 'first_in_data_collection' : 'true';
                  firstPending = false;
                  const guard = this.deps.guard;
                  const records = guard.check(this.deps.builder.build({
                    op: 'r',
                    relation: info,
                    before: null,
                    after: rows[r] as RawTuple,
                    source: { position: { commitLsn: consistentPoint, seq }, xid: null, commitTimeMs: started, lsn: consistentPoint, snapshot: marker },
                  }), info);
                  seq++;
                  await publisher.push(records, guard.lastBytes);
                }
                if (rows.length > 0) run.firstPending = false;
                state.wrote(i, lastKey, endsChunk);
                run.rows += rows.length;
                this.progress.rowsDone += rows.length;
                this.progress.chunksDone = state.doneCount;
                const secs = Math.max((Date.now() - started) / 1000, 0.001);
                this.progress.rowsPerSecond = Math.round(this.progress.rowsDone / secs);
                const left = this.progress.rowsEstimated - this.progress.rowsDone;
                this.progress.etaSeconds = this.progress.rowsPerSecond > 0 && this.progress.rowsEstimated > 0 ? Math.max(0, Math.round(left / this.progress.rowsPerSecond)) : null;
                // An empty page changes nothing durable: its chunk is recorded as done with the next page.
                if (rows.length === 0) return;
                const checkpoint: SnapshotCheckpoint = {
                  consistent_lsn: cp,
                  tables_done: [...done],
                  table: name,
                  last_key: lastKey,
                  next_seq: seq,
                  completed: false,
                  chunks: state.checkpoint(),
                };
                await publisher.endTransaction(this.record({ connector: config.name, last_commit_lsn: cp, last_seq: seq - 1, snapshot: checkpoint }), started);
                this.deps.tables?.rows(name, run.rows);
                metrics.snapshotRowsDone.set({ pipeline: config.name, table: name }, run.rows);
              });
              if (endsChunk) break;
            }
            if (state.doneCount % Math.max(1, Math.ceil(plan.count / 20)) === 0) {
              logger.info({ table: name, rowsDone: this.progress.rowsDone, estimated: this.progress.rowsEstimated, chunks: `${state.doneCount}/${plan.count}`, rate: this.progress.rowsPerSecond, etaSeconds: this.progress.etaSeconds }, 'snapshot progress');
            }
          }
        };
        const results = await Promise.allSettled(
          clients.map((c) =>
            worker(c).catch((e: unknown) => {
              failure ??= e;
              throw e;
            }),
          ),
        );
        if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
        for (const r of results) if (r.status === 'rejected') throw r.reason;
        done.add(name);
        this.deps.tables?.finish(name);
        logger.info({ table: name, rows: run.rows, chunks: plan.count }, 'snapshot: table done');
      }
      for (const c of clients) await c.query('COMMIT');
      const final: SnapshotCheckpoint = { consistent_lsn: cp, tables_done: [...done], table: null, last_key: null, next_seq: seq, completed: true, chunks: null };
      await publisher.endTransaction(this.record({ connector: config.name, last_commit_lsn: cp, last_seq: seq - 1, snapshot: final }), started);
      await publisher.flush();
      logger.info({ rows: this.progress.rowsDone, rowsRead: this.rowsRead, seconds: (Date.now() - started) / 1000, threads }, 'snapshot completed');
      this.progress.table = null;
      return seq - 1;
    } finally {
      for (const c of clients) await c.end().catch(() => undefined);
    }
  }

  /**
   * Chunks of a table, in the snapshot. With a key: one chunk with one worker; otherwise boundaries
   * every `step` keys from one ordered pass over the key (an index-only scan for a primary key),
   * at most MAX_KEY_CHUNKS chunks. Without a key: block ranges of about snapshot.fetch.size rows.
   * `after`: the last key written by a checkpoint of an older version (resume after it).
   */
  private async plan(client: pg.Client, t: CapturedTable, after: readonly string[] | null): Promise<ChunkCheckpoint> {
    const fetch = this.deps.config['snapshot.fetch.size'];
    const threads = this.deps.config['snapshot.max.threads'];
    const base = { bounds: [], after, blocks_per_chunk: 0, done_below: 0, done: [], partial: {} } as const;
    const stats = (await client.query<{ reltuples: string; relpages: string; blocks: string }>(
      `SELECT reltuples::bigint::text AS reltuples, relpages::text AS relpages,
              (pg_relation_size(oid) / current_setting('block_size')::int)::text AS blocks
         FROM pg_class WHERE oid = $1`,
      [String(t.oid)],
    )).rows[0];
    const reltuples = Math.max(0, Number(stats?.reltuples ?? 0));
    if (t.keyColumns.length > 0) {
      if (threads === 1) return { ...base, kind: 'key', count: 1 };
      const order = t.keyColumns.map((k) => `t.${quoteIdent(k)}`).join(', ');
      const outs = t.keyColumns.map((k, i) => `t.${quoteIdent(k)} AS k${i}`).join(', ');
      const where = after ? `WHERE (${order}) > (${after.map((_, i) => `$${i + 2}`).join(', ')})` : '';
      const step = Math.max(fetch, Math.ceil(reltuples / MAX_KEY_CHUNKS));
      const res = await client.query({
        text: `SELECT ${t.keyColumns.map((_, i) => `s.k${i}`).join(', ')} FROM (SELECT ${outs}, row_number() OVER (ORDER BY ${order}) AS rn FROM ${quoteTable(t)} AS t ${where}) s WHERE s.rn % $1 = 1 AND s.rn > 1 ORDER BY s.rn`,
        values: [step, ...(after ?? [])],
        rowMode: 'array',
      });
      let bounds = res.rows.map((r: unknown[]) => r.map((v) => String(v)));
      if (bounds.length >= MAX_KEY_CHUNKS) {
        const every = Math.ceil(bounds.length / (MAX_KEY_CHUNKS - 1));
        bounds = bounds.filter((_, i) => i % every === 0);
      }
      return { ...base, kind: 'key', count: bounds.length + 1, bounds };
    }
    const blocks = Number(stats?.blocks ?? 0);
    const relpages = Number(stats?.relpages ?? 0);
    let perBlock = relpages > 0 && reltuples > 0 ? reltuples / relpages : 0;
    if (perBlock <= 0 && blocks > 0) {
      // Never analysed: count the rows of the first few blocks (a TID range scan).
      const sample = Math.min(blocks, 8);
      const n = Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteTable(t)} AS t WHERE t.ctid < '(${sample},0)'::tid`)).rows[0]?.n ?? 0);
      perBlock = n / sample;
    }
    const perChunk = Math.max(1, Math.floor(fetch / Math.max(perBlock, 1)));
    return { ...base, kind: 'ctid', count: Math.max(1, Math.ceil(blocks / perChunk)), blocks_per_chunk: perChunk };
  }

  /**
   * One page of chunk `i`: up to snapshot.fetch.size rows after `lastKey` (key plans, one row more
   * to learn whether the chunk ends), or the whole block range (ctid plans: TID range scan, PG ≥ 14).
   */
  private async readPage(c: pg.Client, run: TableRun, i: number, lastKey: readonly string[] | null): Promise<{ rows: unknown[][]; endsChunk: boolean }> {
    const plan = run.state.plan;
    const table = quoteTable(run.t);
    if (plan.kind === 'ctid') {
      const from = i * plan.blocks_per_chunk;
      const to = i === plan.count - 1 ? null : (i + 1) * plan.blocks_per_chunk;
      const rows = (
        await c.query({ text: `SELECT ${run.cols} FROM ${table} AS t WHERE t.ctid >= '(${from},0)'::tid${to === null ? '' : ` AND t.ctid < '(${to},0)'::tid`}`, rowMode: 'array' })
      ).rows as unknown[][];
      return { rows, endsChunk: true };
    }
    const fetch = this.deps.config['snapshot.fetch.size'];
    const keys = run.t.keyColumns;
    // Qualified with the alias, so the order is the column's own, never an output column's.
    const order = keys.map((k) => `t.${quoteIdent(k)}`).join(', ');
    const values: unknown[] = [];
    const tuple = (vals: readonly string[]): string => `(${vals.map((v) => (values.push(v), `$${values.length}`)).join(', ')})`;
    const conds: string[] = [];
    const lower = lastKey ?? (i === 0 ? plan.after : null);
    if (lower) conds.push(`(${order}) > ${tuple(lower)}`);
    else if (i > 0) conds.push(`(${order}) >= ${tuple(plan.bounds[i - 1]!)}`);
    if (i < plan.count - 1) conds.push(`(${order}) < ${tuple(plan.bounds[i]!)}`);
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    const rows = (await c.query({ text: `SELECT ${run.cols} FROM ${table} AS t ${where} ORDER BY ${order} LIMIT ${fetch + 1}`, values, rowMode: 'array' })).rows as unknown[][];
    const endsChunk = rows.length <= fetch;
    if (!endsChunk) rows.length = fetch;
    return { rows, endsChunk };
  }

  private record(offset: StoredOffset): StoredOffset {
    return this.deps.checkpointRecord ? this.deps.checkpointRecord(offset) : offset;
  }

  /** Column list of a table, as pgoutput sends it (describeTable). */
  private async describe(client: pg.Client, t: CapturedTable): Promise<RawRelation> {
    this.generated ??= await publishesGeneratedColumns(client, this.deps.config['publication.name']);
    return describeTable(client, t, this.generated);
  }
}

/**
 * Column list of a table in attribute order — the columns pgoutput sends: no dropped columns, and
 * generated columns only when the publication publishes them (`generated`: PG 18+, stored ones).
 */
export async function describeTable(client: pg.Client, t: CapturedTable, generated: boolean): Promise<RawRelation> {
  const res = await client.query<{ name: string; typ: string; typmod: string }>(
    `SELECT attname AS name, atttypid::int AS typ, atttypmod AS typmod FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND (attgenerated = '' OR (attgenerated = 's' AND $2)) ORDER BY attnum`,
    [t.oid, generated],
  );
  const keys = new Set(t.keyColumns);
  return {
    oid: t.oid,
    schema: t.schema,
    table: t.table,
    replicaIdentity: t.replicaIdentity,
    keyColumns: [...t.keyColumns],
    columns: res.rows.map((r) => ({ name: r.name, typeOid: Number(r.typ), typeMod: Number(r.typmod), isKey: keys.has(r.name) })),
  };
}
