/**
 * Incremental snapshot while streaming continues — the DBLog watermark algorithm (Debezium's
 * incremental snapshot), with logical decoding messages as watermarks:
 *
 *   for each chunk of a table (primary-key order, `incremental.snapshot.chunk.size` rows, keys up
 *   to the table's largest key when its first chunk was read, optional `additional-conditions`):
 *     1. emit the low watermark  — pg_logical_emit_message(true, 'cdc-fanout.incremental:<name>', open)
 *     2. read the chunk          — one short READ COMMITTED query, no long transaction
 *     3. emit the high watermark — pg_logical_emit_message(true, …, close)
 *   The stream (streaming.ts) sees the watermarks in commit order. Between them it removes from the
 *   chunk every key a streamed change touched (insert, update — old and new key —, delete); at the
 *   high watermark it emits the chunk's remaining rows as op 'r' (source.snapshot = incremental)
 *   inside the watermark's transaction, at positions (its commit LSN, seq).
 *
 * Why every row ends at its latest value: a change committed before the low watermark is in the
 * read, and was streamed earlier; one committed between the watermarks is streamed and its key
 * dropped from the chunk (the read may or may not contain it); one committed after the high
 * watermark is streamed after the chunk's rows and has a higher commit LSN (sink version) than they
 * have. So no read row ever overwrites a newer change, in Kafka order or by version.
 *
 * State (IncrementalCheckpoint) changes only in the stream, when it handles one of these messages
 * (start, close, pause, resume, stop), and goes into the offsets record of that transaction — with
 * the chunk's rows. A crash before that Kafka commit replays the messages; a replayed high watermark
 * has no chunk in memory any more and changes nothing, and the job reads that chunk again. Resume is
 * at chunk granularity; nothing is held open on the server between chunks.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { TypeRegistry } from '../events/type-registry.js';
import type { RawTuple, RelationInfo } from '../events/types.js';
import type { IncrementalCheckpoint } from '../kafka/offsets-store.js';
import type { Logger } from '../observability/logger.js';
import type { SourceConfig } from './config.js';
import { clientConfig, publishesGeneratedColumns, qualified, quoteIdent, quoteTable, selectTables, type CapturedTable } from './connection.js';
import { RelationCache } from './relations.js';
import { describeTable } from './snapshotter.js';

/**
 * Logical decoding messages are database-wide: every slot of the database sees every one, whatever
 * its publication. So each pipeline's messages carry its own prefix, and a stream swallows (never
 * publishes as op `m`) every message under the common one, acting only on its own.
 */
export const WATERMARK_PREFIX = 'cdc-fanout.incremental';
export const watermarkPrefix = (connector: string): string => `${WATERMARK_PREFIX}:${connector}`;

type Message =
  | { readonly kind: 'start'; readonly id: string; readonly tables: readonly string[]; readonly conditions: Readonly<Record<string, string>>; readonly estimated: number }
  | { readonly kind: 'open' | 'close'; readonly id: string; readonly chunk: string }
  | { readonly kind: 'pause' | 'resume'; readonly id: string }
  /** `tables`: only these leave the snapshot (Debezium's stop-snapshot data-collections); none: all of it stops. */
  | { readonly kind: 'stop'; readonly id: string; readonly tables?: readonly string[] };

interface Window {
  readonly id: string;
  readonly chunk: string;
  readonly table: string;
  readonly relation: RelationInfo;
  readonly keyIdx: readonly number[];
  open: boolean;
  readonly changed: Set<string>;
  buffer: Map<string, RawTuple> | null;
  next: { lastKey: readonly string[] | null; maxKey: readonly string[] | null; tableDone: boolean } | null;
  readonly closed: () => void;
}

export interface IncrementalStatus {
  readonly id: string;
  readonly state: 'running' | 'paused' | 'done' | 'stopped';
  readonly table: string | null;
  readonly tablesLeft: readonly string[];
  readonly rows: number;
  readonly estimated: number;
  readonly rowsPerSecond: number;
  readonly etaSeconds: number | null;
  readonly startedAt: string;
}

/** What the stream emits at a high watermark. */
export interface ChunkRows {
  readonly relation: RelationInfo;
  readonly rows: readonly RawTuple[];
}

export interface StartRequest {
  readonly tables: readonly string[];
  /** `additional-conditions`: table → SQL filter. */
  readonly conditions?: Readonly<Record<string, string>>;
}

const rawTypes = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const sessionOptions = '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3';
const keyText = (row: RawTuple, idx: readonly number[]): string => JSON.stringify(idx.map((i) => row[i]));

export class IncrementalSnapshot {
  private state: IncrementalCheckpoint | null;
  private window: Window | null = null;
  private reader: pg.Client | null = null;
  private catalog: pg.Client | null = null;
  private relations: RelationCache | null = null;
  private generated: boolean | undefined;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private chunkNo = 0;
  private readonly run = randomUUID().slice(0, 8);
  /** This pipeline's message prefix (watermarkPrefix). */
  readonly prefix: string;
  private rate = { since: Date.now(), rows: 0 };

  constructor(
    private readonly config: SourceConfig,
    stored: IncrementalCheckpoint | null,
    private readonly log: Logger,
    private readonly onFatal: (e: Error) => void,
  ) {
    this.state = stored ?? null;
    this.rate.rows = stored?.rows ?? 0;
    this.prefix = watermarkPrefix(config.name);
  }

  /** The state to write with the stream's next offsets record. */
  checkpoint(): IncrementalCheckpoint | null {
    return this.state;
  }

  status(): IncrementalStatus | null {
    const s = this.state;
    if (!s) return null;
    const secs = Math.max((Date.now() - this.rate.since) / 1000, 0.001);
    const rowsPerSecond = Math.round((s.rows - this.rate.rows) / secs);
    const left = Math.max(0, s.estimated - s.rows);
    return {
      id: s.id,
      state: s.finished ?? (s.paused ? 'paused' : 'running'),
      table: s.finished ? null : (s.tables[0] ?? null),
      tablesLeft: s.finished ? [] : s.tables,
      rows: s.rows,
      estimated: s.estimated,
      rowsPerSecond,
      etaSeconds: s.finished ? 0 : rowsPerSecond > 0 && s.estimated > 0 ? Math.round(left / rowsPerSecond) : null,
      startedAt: s.started_at,
    };
  }

  /** Starts the job (after the initial snapshot, when streaming runs). */
  start(): void {
    if (this.loop) return;
    this.loop = this.work().catch((e: unknown) => {
      if (this.stopped) return;
      const err = e instanceof Error ? e : new Error(String(e));
      this.log.error({ err }, 'incremental snapshot failed; the source restarts and resumes it from the offsets topic');
      this.onFatal(new Error(`incremental snapshot: ${err.message}`));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.window?.closed();
    this.wake?.();
    await this.loop;
    await this.reader?.end().catch(() => undefined);
    await this.catalog?.end().catch(() => undefined);
    this.reader = this.catalog = null;
  }

  // ---- control (signals, CLI, admin API) ----

  /**
   * Requests an incremental snapshot of `tables` (added to the running one, if any). Checks that
   * each is captured and has a primary key, and that each condition is valid SQL for its table.
   */
  async request(req: StartRequest): Promise<string> {
    const conditions = req.conditions ?? {};
    const { catalog } = await this.connect();
    const { tables } = await selectTables(catalog, this.config);
    const byName = new Map(tables.map((t) => [qualified(t), t]));
    if (req.tables.length === 0) throw new Error('no tables given: name the tables to snapshot (data-collections / --tables)');
    for (const name of [...req.tables, ...Object.keys(conditions)]) {
      const t = byName.get(name);
      if (!t) throw new Error(`table ${name} is not captured by pipeline "${this.config.name}" (captured: ${[...byName.keys()].join(', ') || 'none'})`);
      if (t.keyColumns.length === 0) throw new Error(`table ${name} has no primary key (or replica identity index): an incremental snapshot reads in key order; give it a primary key, or use a blocking snapshot (type "blocking")`);
      if (!req.tables.includes(name)) throw new Error(`additional condition for ${name}, which is not among the tables to snapshot (${req.tables.join(', ')})`);
    }
    for (const [name, filter] of Object.entries(conditions)) {
      try {
        await catalog.query(`EXPLAIN SELECT 1 FROM ${quoteTable(byName.get(name)!)} AS t WHERE (${filter})`);
      } catch (e) {
        throw new Error(`additional condition for ${name} is not a valid filter on it: ${(e as Error).message} (give a SQL boolean expression over its columns, e.g. "status = 'open'")`);
      }
    }
    const est = await catalog.query<{ n: string }>(`SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint::text AS n FROM pg_class WHERE oid = ANY($1::oid[])`, [req.tables.map((n) => String(byName.get(n)!.oid))]);
    const id = randomUUID();
    await this.emit({ kind: 'start', id, tables: req.tables, conditions, estimated: Number(est.rows[0]?.n ?? 0) });
    this.log.info({ id, tables: req.tables, conditions }, 'incremental snapshot requested');
    return id;
  }

  /** pause / resume / stop the running incremental snapshot (stop: only `tables` when given). */
  async control(kind: 'pause' | 'resume' | 'stop', tables: readonly string[] = []): Promise<string> {
    const s = this.state;
    if (!s || s.finished) throw new Error(`no incremental snapshot is running${s ? ` (the last one, ${s.id}, is ${s.finished})` : ''}; nothing to ${kind}`);
    if (kind === 'pause' && s.paused) throw new Error(`incremental snapshot ${s.id} is already paused`);
    if (kind === 'resume' && !s.paused) throw new Error(`incremental snapshot ${s.id} is not paused`);
    if (kind !== 'stop' && tables.length > 0) throw new Error(`${kind} acts on the whole incremental snapshot; tables can only be named to stop`);
    const absent = tables.filter((t) => !s.tables.includes(t));
    if (absent.length > 0) throw new Error(`not in the running incremental snapshot ${s.id}: ${absent.join(', ')} (still to do: ${s.tables.join(', ')})`);
    await this.emit(kind === 'stop' ? { kind, id: s.id, ...(tables.length ? { tables } : {}) } : { kind, id: s.id });
    return s.id;
  }

  // ---- the stream's side (called by StreamingSource, in stream order) ----

  /** The table whose changes the stream reports (observe), or null. */
  get watching(): string | null {
    return this.window?.open ? this.window.table : null;
  }

  /** A streamed change of the watched table: its keys leave the chunk. */
  observe(before: RawTuple | null, after: RawTuple | null): void {
    const w = this.window;
    if (!w?.open) return;
    if (after) w.changed.add(keyText(after, w.keyIdx));
    if (before) w.changed.add(keyText(before, w.keyIdx));
  }

  /**
   * One of our logical messages, in a transaction the stream publishes (not a replay of one that is
   * in Kafka). Returns the rows to emit (high watermark), `true` when the state changed (the
   * transaction must commit its offsets record), or null.
   */
  onMessage(content: Buffer): ChunkRows | true | null {
    let m: Message;
    try {
      m = JSON.parse(content.toString('utf8')) as Message;
    } catch {
      this.log.warn({ content: content.toString('utf8').slice(0, 200) }, `logical message with prefix ${WATERMARK_PREFIX} is not ours (not JSON); ignored`);
      return null;
    }
    const s = this.state;
    switch (m.kind) {
      case 'start': {
        if (s && !s.finished) {
          const tables = [...s.tables, ...m.tables.filter((t) => !s.tables.includes(t))];
          this.state = { ...s, tables, conditions: { ...s.conditions, ...m.conditions }, estimated: s.estimated + m.estimated };
          this.log.info({ id: s.id, tables }, 'incremental snapshot: tables added to the running one');
        } else {
          this.state = { id: m.id, tables: m.tables, conditions: m.conditions, last_key: null, max_key: null, paused: false, rows: 0, estimated: m.estimated, started_at: new Date().toISOString(), finished: null };
          this.rate = { since: Date.now(), rows: 0 };
          this.log.info({ id: m.id, tables: m.tables }, 'incremental snapshot started');
        }
        this.wake?.();
        return true;
      }
      case 'stop':
        if (m.tables?.length && s && s.id === m.id && !s.finished) {
          // Named tables leave; the table in progress starts over if it comes back later.
          const tables = s.tables.filter((t) => !m.tables!.includes(t));
          const current = tables[0] === s.tables[0];
          this.state = { ...s, tables, ...(current ? {} : { last_key: null, max_key: null }), finished: tables.length === 0 ? 'stopped' : null };
          this.log.info({ id: s.id, removed: m.tables, left: tables }, 'incremental snapshot: tables stopped');
          this.wake?.();
          return true;
        }
      // falls through: stop all of it
      case 'pause':
      case 'resume': {
        if (!s || s.id !== m.id || s.finished) return null;
        this.state = m.kind === 'stop' ? { ...s, finished: 'stopped' } : { ...s, paused: m.kind === 'pause' };
        this.log.info({ id: s.id, table: s.tables[0] }, `incremental snapshot ${m.kind === 'stop' ? 'stopped' : m.kind === 'pause' ? 'paused' : 'resumed'}`);
        this.wake?.();
        return true;
      }
      case 'open': {
        const w = this.window;
        if (w && w.id === m.id && w.chunk === m.chunk) w.open = true;
        return null;
      }
      case 'close': {
        const w = this.window;
        if (!w || w.id !== m.id || w.chunk !== m.chunk) return null;
        // The job waits for this close, whatever becomes of the chunk.
        this.window = null;
        w.closed();
        // Stopped, replaced, or its table removed while the window was open: the chunk is dropped.
        if (!w.buffer || !w.next || !s || s.id !== w.id || s.finished || s.tables[0] !== w.table) return null;
        const rows = [...w.buffer].filter(([k]) => !w.changed.has(k)).map(([, r]) => r);
        const n = w.next;
        const tables = n.tableDone ? s.tables.slice(1) : s.tables;
        this.state = {
          ...s,
          tables,
          last_key: n.tableDone ? null : n.lastKey,
          max_key: n.tableDone ? null : n.maxKey,
          rows: s.rows + rows.length,
          finished: tables.length === 0 ? 'done' : s.finished,
        };
        if (n.tableDone) this.log.info({ id: s.id, table: w.table, rows: this.state.rows }, 'incremental snapshot: table done');
        if (tables.length === 0) this.log.info({ id: s.id, rows: this.state.rows }, 'incremental snapshot completed');
        return { relation: w.relation, rows };
      }
      default:
        return null;
    }
  }

  // ---- the job ----

  private async connect(): Promise<{ reader: pg.Client; catalog: pg.Client }> {
    if (!this.reader) {
      const r = new pg.Client({ ...clientConfig(this.config), types: rawTypes, options: sessionOptions });
      r.on('error', () => undefined);
      await r.connect();
      this.reader = r;
    }
    if (!this.catalog) {
      const c = new pg.Client(clientConfig(this.config));
      c.on('error', () => undefined);
      await c.connect();
      this.catalog = c;
      this.relations = new RelationCache(new TypeRegistry(c), c);
    }
    return { reader: this.reader, catalog: this.catalog };
  }

  private async emit(m: Message): Promise<void> {
    const { reader } = await this.connect();
    await reader.query('SELECT pg_logical_emit_message(true, $1, $2)', [this.prefix, JSON.stringify(m)]);
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, 1000);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  private async work(): Promise<void> {
    const described = new Map<string, { t: CapturedTable; rel: RelationInfo } | null>();
    while (!this.stopped) {
      const s = this.state;
      if (!s || s.finished || s.paused || s.tables.length === 0) {
        await this.idle();
        continue;
      }
      const name = s.tables[0]!;
      const { reader, catalog } = await this.connect();
      let d = described.get(name);
      if (d === undefined) {
        const t = (await selectTables(catalog, this.config)).tables.find((x) => qualified(x) === name);
        if (t && t.keyColumns.length > 0) {
          this.generated ??= await publishesGeneratedColumns(catalog, this.config['publication.name']);
          d = { t, rel: await this.relations!.update(await describeTable(catalog, t, this.generated)) };
        } else d = null;
        described.set(name, d);
      }
      await this.chunk(s, name, d, reader);
    }
  }

  /** One chunk: low watermark, read, high watermark; resolves when the stream closed the window. */
  private async chunk(s: IncrementalCheckpoint, name: string, d: { t: CapturedTable; rel: RelationInfo } | null, reader: pg.Client): Promise<void> {
    const size = this.config['incremental.snapshot.chunk.size'];
    const chunk = `${this.run}:${++this.chunkNo}`;
    let closed: () => void = () => undefined;
    const done = new Promise<void>((r) => (closed = r));
    if (!d) {
      // Gone, no longer captured, or without a key since the request: skipped with a warning.
      this.log.warn({ id: s.id, table: name }, `incremental snapshot: table ${name} is no longer captured or has no primary key; skipped`);
      const placeholder: RelationInfo = { oid: 0, schema: '', table: '', columns: [], keyColumns: [], replicaIdentity: 'default' };
      this.window = { id: s.id, chunk, table: name, relation: placeholder, keyIdx: [], open: false, changed: new Set(), buffer: new Map(), next: { lastKey: null, maxKey: null, tableDone: true }, closed };
      await this.emit({ kind: 'close', id: s.id, chunk });
      await done;
      return;
    }
    const { t, rel } = d;
    const keyIdx = t.keyColumns.map((k) => rel.columns.findIndex((c) => c.name === k));
    const order = t.keyColumns.map((k) => `t.${quoteIdent(k)}`).join(', ');
    const cond = s.conditions[name];
    const cols = rel.columns.map((c) => `t.${quoteIdent(c.name)}`).join(', ');
    const w: Window = { id: s.id, chunk, table: name, relation: rel, keyIdx, open: false, changed: new Set(), buffer: null, next: null, closed };
    this.window = w;
    await this.emit({ kind: 'open', id: s.id, chunk });
    let max = s.max_key;
    if (!max) {
      const r = await reader.query({ text: `SELECT ${t.keyColumns.map((k) => `t.${quoteIdent(k)}`).join(', ')} FROM ${quoteTable(t)} AS t ${cond ? `WHERE (${cond})` : ''} ORDER BY ${t.keyColumns.map((k) => `t.${quoteIdent(k)} DESC`).join(', ')} LIMIT 1`, rowMode: 'array' });
      max = r.rows.length > 0 ? (r.rows[0] as unknown[]).map((v) => String(v)) : null;
    }
    let rows: unknown[][] = [];
    if (max) {
      const values: unknown[] = [];
      const tuple = (vals: readonly string[]): string => `(${vals.map((v) => (values.push(v), `$${values.length}`)).join(', ')})`;
      const conds = [`(${order}) <= ${tuple(max)}`];
      if (s.last_key) conds.push(`(${order}) > ${tuple(s.last_key)}`);
      if (cond) conds.push(`(${cond})`);
      rows = (await reader.query({ text: `SELECT ${cols} FROM ${quoteTable(t)} AS t WHERE ${conds.join(' AND ')} ORDER BY ${order} LIMIT ${size}`, values, rowMode: 'array' })).rows as unknown[][];
    }
    const buffer = new Map<string, RawTuple>();
    for (const r of rows) buffer.set(keyText(r as RawTuple, keyIdx), r as RawTuple);
    const last = rows[rows.length - 1];
    w.next = { lastKey: last ? keyIdx.map((i) => String(last[i])) : s.last_key, maxKey: max, tableDone: rows.length < size };
    w.buffer = buffer;
    await this.emit({ kind: 'close', id: s.id, chunk });
    await done;
  }
}
