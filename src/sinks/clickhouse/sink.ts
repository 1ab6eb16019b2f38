/**
 * The ClickHouse sink. Per batch and per source table:
 *   - upsert tables: one row per key per batch (the key's last change; equal versions of a
 *     transaction keep change order that way), versioned by the commit LSN in
 *     ReplacingMergeTree(_version). Older changes than the stored row are skipped (stale.check) —
 *     ReplacingMergeTree would drop them at merge/FINAL anyway, so replays are no-ops either way.
 *     Deletes are `_deleted = 1` rows; unchanged-TOAST placeholders take the previous value (from
 *     this batch or the stored row read with FINAL); a key change is a delete + an insert.
 *   - changelog tables: every change as one row keyed by its position (_lsn, _seq), so replays
 *     collapse in ReplacingMergeTree.
 * The upsert rows are planned by ./plan.ts (pure, on the sink kit: last change per key, staleness,
 * watermark, TOAST fill); this file reads what the plan needs and executes it.
 * Offsets: the checkpoint table (./checkpoints.ts, the sink's OffsetStore) — the commits of all
 * partitions that arrive together share one INSERT, at most one per checkpoint.interval.ms (part
 * hygiene) — and commit() returns once they are durable; loadOffsets reads them back with argMax.
 *
 * Truncate invariants (a truncate event has no key, so it reaches the sink on partition 0 while
 * changes committed after it may arrive first on other partitions, and changes committed before
 * it may arrive later):
 *   T1. A truncate at position P (commit LSN, seq) removes or hides only rows at positions < P
 *       (`_version`, `_seq`): rows written after it — in later transactions or later in the same
 *       one — stay, whatever order the partitions were applied in. Never a bare TRUNCATE TABLE.
 *   T2. P is stored as the table's watermark in `<checkpoint.table>_truncate_marks` BEFORE any
 *       effect and before the offsets, so a crash leaves either nothing (the truncate is replayed)
 *       or the mark (effects are idempotent and re-run on replay). The mark only grows.
 *   T3. A change at a position < the watermark is dropped (stale), so a lagging partition cannot
 *       bring back a row the truncate removed.
 *   T4. A write checks the watermark before inserting (cached, cheap) and re-reads it from
 *       ClickHouse AFTER inserting: a truncate that stored its mark meanwhile (another partition
 *       or process) either ran its effects after our rows landed (they are covered) or its mark is
 *       seen here, and the effects are re-applied over our rows. So no row older than a stored
 *       watermark survives, without locks between partitions or processes.
 */
import { createHash } from 'node:crypto';
import { comparePositions, type JsonValue, type Position, type Row } from '../../events/change.js';
import type { TlsSettings } from '../../spec/tls.js';
import type { Logger } from '../../observability/logger.js';
import { SinkError, type PartitionOffset, type RejectedRecord, type Sink, type SinkBatch, type SinkRecord, type TopicPartition, type WriteResult } from '../sink.js';
import { postgresCatalog, type SourceCatalog } from '../kit/catalog.js';
import type { ClickHouseConfig } from './config.js';
import { Conn, DataError, ident, parseTsvWithNames } from './conn.js';
import { EncodeError, RAW_SUFFIX, escapeTsv, microsToText, quoteString, sqlLiteral, unescapeTsv } from './encode.js';
import { featuresOf, type ServerFeatures } from './server.js';
import { chunkBy, isUnchangedToast, TruncateWatermarks } from '../kit/index.js';
import { CheckpointTable } from './checkpoints.js';
import { planKeys, planRows, rowLines, type StoredRow } from './plan.js';
import { CHANGELOG_COLUMNS, META_COLUMNS, TableError, TableManager, type TargetTables, type UpsertTable } from './tables.js';
import { VersionCache } from './versions.js';

export interface ClickHouseSinkOptions {
  readonly config: ClickHouseConfig;
  /** Group under which offsets are stored. */
  readonly group: string;
  readonly logger: Logger;
  /** TLS of the source catalog connection (`source.url`), when it is the pipeline's own source. */
  readonly sourceTls?: TlsSettings;
}

const KEY_CHUNK = 5000;
/** How long a truncate waits for its DELETE mutation before going on (the mutation is durable and finishes anyway). */
const MUTATION_WAIT_MS = 120_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ClickHouseSink implements Sink {
  private conn: Conn | undefined;
  private features: ServerFeatures | undefined;
  private tables: TableManager | undefined;
  private catalog: SourceCatalog | undefined;
  private readonly cfg: ClickHouseConfig;
  private readonly log: Logger;
  private readonly versions: VersionCache;
  /** Truncate watermark per target table (invariants T1–T4 above): rows older than it are dropped. */
  private truncatedAt = new TruncateWatermarks<Position>(comparePositions);
  private truncationsReadAt = 0;
  /** Records per partition still to stale-check against ClickHouse (the replay zone after an assignment). */
  private readonly replayZone = new Map<string, number>();
  /** Offsets (OffsetStore, ./checkpoints.ts). */
  private readonly checkpoints: CheckpointTable;

  constructor(private readonly opts: ClickHouseSinkOptions) {
    this.cfg = opts.config;
    this.log = opts.logger;
    this.versions = new VersionCache(opts.config['stale.cache.keys']);
    this.checkpoints = new CheckpointTable(() => this.c(), this.checkpointRef, opts.group, opts.config['checkpoint.interval.ms']);
  }

  /** Forget cached table layouts and row versions (call after changing target tables outside the sink). */
  invalidateCaches(): void {
    this.versions.clear();
    this.checkpoints.forget();
    this.truncatedAt = new TruncateWatermarks<Position>(comparePositions);
    this.truncationsReadAt = 0;
    this.tables = this.conn && this.features ? new TableManager(this.conn, this.cfg, this.features, this.catalog) : this.tables;
  }

  /** The server's feature set (after open). */
  get server(): ServerFeatures {
    if (!this.features) throw new Error('ClickHouse sink not open');
    return this.features;
  }

  private get db(): string {
    return ident(this.cfg.database);
  }

  /** Truncate watermarks: one row per truncate applied (table, commit LSN, seq); the maximum counts. */
  private get truncationsRef(): string {
    return `${this.db}.${ident(`${this.cfg['checkpoint.table']}_truncate_marks`)}`;
  }

  /** The watermark table of earlier versions (commit LSN only); its rows are copied over on open. */
  private get legacyTruncationsRef(): string {
    return `${this.db}.${ident(`${this.cfg['checkpoint.table']}_truncations`)}`;
  }

  /**
   * Re-reads the truncate watermarks (other partitions and processes truncate too): at most every
   * 5 s for the pre-insert check, always when `force` (the post-insert check, T4).
   */
  private async refreshTruncations(force = false): Promise<void> {
    if (!force && Date.now() - this.truncationsReadAt < 5000) return;
    const r = await this.c().queryTsv(
      `SELECT \`table\`, max(\`version\`) AS v, argMax(\`seq\`, (\`version\`, \`seq\`)) AS s FROM ${this.truncationsRef} GROUP BY \`table\``,
      'read truncate marks',
    );
    const next = new TruncateWatermarks<Position>(
      comparePositions,
      r.rows.map((row) => [unescapeTsv(row[0] ?? ''), { commitLsn: BigInt(row[1] ?? '0'), seq: Number(row[2] ?? '0') }] as const),
    );
    for (const [k, v] of this.truncatedAt.entries()) next.raise(k, v);
    this.truncatedAt = next;
    this.truncationsReadAt = Date.now();
  }

  /** Raises a table's in-memory watermark (never lowers it). */
  private raiseWatermark(ref: string, p: Position): void {
    this.truncatedAt.raise(ref, p);
  }

  private get checkpointRef(): string {
    return `${this.db}.${ident(this.cfg['checkpoint.table'])}`;
  }

  private c(): Conn {
    if (!this.conn) throw new SinkError('ClickHouse sink used before open()', { retriable: false });
    return this.conn;
  }

  async open(): Promise<void> {
    if (!this.conn) {
      this.conn = new Conn({ url: this.cfg.url, username: this.cfg.auth?.username ?? 'default', password: this.cfg.auth?.password ?? '', tls: this.cfg.tls, requestTimeoutMs: this.cfg['request.timeout.ms'] });
    }
    const v = await this.conn.queryJson<{ v: string }>('SELECT version() AS v', 'version check');
    this.features = featuresOf(v[0]?.v ?? '0.0');
    await this.conn.command(`CREATE DATABASE IF NOT EXISTS ${this.db}`, 'create database');
    await this.checkpoints.ensure();
    await this.conn.command(
      `CREATE TABLE IF NOT EXISTS ${this.truncationsRef} (\`table\` String, \`version\` UInt64, \`seq\` UInt32) ENGINE = ReplacingMergeTree ORDER BY (\`table\`, \`version\`, \`seq\`)`,
      'create truncate marks table',
    );
    const legacy = await this.conn.queryTsv(
      `SELECT count() FROM system.tables WHERE database = ${quoteString(this.cfg.database)} AND name = ${quoteString(`${this.cfg['checkpoint.table']}_truncations`)}`,
      'look for the old truncations table',
    );
    if (legacy.rows[0]?.[0] !== '0') {
      // identical rows collapse in the marks table (ORDER BY all columns), so copying on every open is harmless
      await this.conn.command(`INSERT INTO ${this.truncationsRef} SELECT \`table\`, \`version\`, 0 FROM ${this.legacyTruncationsRef}`, 'copy old truncate watermarks');
    }
    await this.refreshTruncations(true);
    if (!this.catalog && this.cfg['source.url']) this.catalog = postgresCatalog(this.cfg['source.url'], this.opts.sourceTls);
    this.tables = new TableManager(this.conn, this.cfg, this.features, this.catalog);
    this.log.info({ server: this.features.version, database: this.cfg.database }, 'clickhouse sink open');
  }

  loadOffsets(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]> {
    for (const p of partitions) this.replayZone.set(`${p.topic}\u0000${p.partition}`, this.cfg['stale.check.replay.records']);
    return this.checkpoints.load(partitions);
  }

  commit(offsets: readonly PartitionOffset[]): Promise<void> {
    return this.checkpoints.commit(offsets);
  }

  resetOffsets(to: readonly PartitionOffset[]): Promise<void> {
    return this.checkpoints.reset(to);
  }

  /** Checkpoint INSERTs this sink made (tests and benchmarks: part hygiene). */
  get checkpointInsertCount(): number {
    return this.checkpoints.insertCount;
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close();
    const catalog = this.catalog;
    this.catalog = undefined;
    await catalog?.close();
  }

  async write(batch: SinkBatch): Promise<WriteResult> {
    const rejected: RejectedRecord[] = [];
    let staleSkipped = 0;
    if (this.cfg['truncate.mode'] !== 'ignore') await this.refreshTruncations();
    /** Per upsert table written in this batch: the lowest position inserted (for the T4 re-check). */
    const inserted = new Map<string, { table: UpsertTable; lowest: Position }>();
    const tp = `${batch.topic}\u0000${batch.partition}`;
    const zone = this.replayZone.get(tp) ?? this.cfg['stale.check.replay.records'];
    const lookups = zone > 0;
    // group by source table, keeping order inside each table
    const groups = new Map<string, { schema: string; table: string; records: SinkRecord[] }>();
    for (const r of batch.records) {
      if (r.op === null || r.op === 'm' || !r.source) continue;
      const id = `${r.source.schema}.${r.source.table}`;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { schema: r.source.schema, table: r.source.table, records: [] }));
      g.records.push(r);
    }
    for (const g of groups.values()) {
      const sample = g.records.find((r) => r.op !== 't');
      let targets: TargetTables;
      try {
        targets = await this.tablesFor(g.schema, g.table, sample);
      } catch (e) {
        if (e instanceof TableError || e instanceof DataError) {
          for (const record of g.records) {
            // A truncate of a table the sink cannot prepare yet (e.g. only the truncate was seen, so
            // there is no row to infer the table from) still sets the watermark (T2/T3): rows
            // committed before it that other partitions deliver later must stay out.
            if (record.op === 't' && (await this.storeWatermarkOnly(g.schema, g.table, record))) continue;
            rejected.push({ record, error: e });
          }
          continue;
        }
        throw e;
      }
      const res = await this.writeTable(batch, g.schema, g.table, targets, g.records, lookups, inserted);
      rejected.push(...res.rejected);
      staleSkipped += res.staleSkipped;
    }
    await this.recheckTruncations(inserted);
    this.replayZone.set(tp, Math.max(0, zone - batch.records.length));
    return { rejected, staleSkipped };
  }

  /**
   * T4: after inserting, re-read the watermarks; where a truncate newer than some row we just
   * inserted was stored meanwhile (by another partition or process), apply its effects again so
   * that row goes too. Effects are idempotent; this runs only when such a race happened.
   */
  private async recheckTruncations(inserted: ReadonlyMap<string, { table: UpsertTable; lowest: Position }>): Promise<void> {
    if (this.cfg['truncate.mode'] === 'ignore' || inserted.size === 0) return;
    await this.refreshTruncations(true);
    for (const { table, lowest } of inserted.values()) {
      const mark = this.truncatedAt.get(table.ref);
      if (mark && this.truncatedAt.below(table.ref, lowest)) {
        this.log.info({ table: table.name, watermark: `${mark.commitLsn}:${mark.seq}` }, 'a truncate was stored while this batch was written; re-applying it');
        await this.truncateEffects(table, mark);
      }
    }
  }

  private async tablesFor(schema: string, table: string, sample: SinkRecord | undefined): Promise<TargetTables> {
    if (!this.tables) throw new SinkError('ClickHouse sink used before open()', { retriable: false });
    try {
      return await this.tables.get(schema, table, { key: sample?.key ?? null, row: sample?.after ?? sample?.before ?? null });
    } catch (e) {
      if (e instanceof SinkError && !e.retriable) throw new TableError(e.message, { cause: e });
      throw e;
    }
  }

  private async writeTable(
    batch: SinkBatch,
    schema: string,
    table: string,
    t: TargetTables,
    records: SinkRecord[],
    lookups: boolean,
    inserted: Map<string, { table: UpsertTable; lowest: Position }>,
  ): Promise<WriteResult> {
    const rejected: RejectedRecord[] = [];
    let staleSkipped = 0;
    if (t.upsert && this.cfg['schema.evolution'] === 'basic') {
      try {
        await this.evolve(schema, table, t.upsert, records);
      } catch (e) {
        if (!(e instanceof SinkError) || e.retriable) throw e;
        for (const record of records) rejected.push({ record, error: new TableError(`schema change of ${schema}.${table} could not be applied: ${e.message}`) });
        return { rejected, staleSkipped };
      }
    }
    if (t.changelog) rejected.push(...(await this.writeChangelog(batch, t.changelog, records)));
    if (!t.upsert) return { rejected, staleSkipped };
    // segments separated by truncates
    let segment: SinkRecord[] = [];
    const flush = async (): Promise<void> => {
      if (segment.length === 0 || !t.upsert) return;
      const r = await this.writeUpsert(batch, t.upsert, segment, lookups);
      if (r.rejected.length > 0 && this.cfg['schema.evolution'] === 'basic') {
        // values that do not fit may come from a widened source column (int → bigint, …): widen
        // the ClickHouse column and retry just those records (versioned, so order does not matter)
        const retry = await this.widenAndRetry(batch, schema, table, t.upsert, r.rejected, lookups);
        if (retry) {
          r.rejected = retry.rejected;
          r.staleSkipped += retry.staleSkipped;
          if (retry.lowest && (!r.lowest || comparePositions(retry.lowest, r.lowest) < 0)) r.lowest = retry.lowest;
        }
      }
      rejected.push(...r.rejected);
      staleSkipped += r.staleSkipped;
      if (r.lowest) {
        const prev = inserted.get(t.upsert.ref);
        if (!prev || comparePositions(r.lowest, prev.lowest) < 0) inserted.set(t.upsert.ref, { table: t.upsert, lowest: r.lowest });
      }
      segment = [];
    };
    for (const r of records) {
      if (r.op === 't') {
        await flush();
        await this.truncate(t.upsert, r);
      } else segment.push(r);
    }
    await flush();
    return { rejected, staleSkipped };
  }

  /** Widens columns per the source catalog; if any changed, re-writes the rejected records (else null). */
  private async widenAndRetry(
    batch: SinkBatch,
    schema: string,
    table: string,
    u: UpsertTable,
    rejected: readonly RejectedRecord[],
    lookups: boolean,
  ): Promise<{ rejected: RejectedRecord[]; staleSkipped: number; lowest: Position | null } | null> {
    let altered: string[];
    try {
      altered = (await this.tables?.widenColumns(schema, table, u)) ?? [];
    } catch (e) {
      if (e instanceof TableError || (e instanceof SinkError && !e.retriable)) {
        const why = e.message;
        return { rejected: rejected.map((r) => ({ record: r.record, error: new TableError(`${r.error.message} — ${why}`) })), staleSkipped: 0, lowest: null };
      }
      throw e;
    }
    if (altered.length === 0) return null;
    this.log.info({ table: u.name, columns: altered }, 'widened columns after a source type change');
    return this.writeUpsert(batch, u, rejected.map((r) => r.record), lookups);
  }

  private async evolve(schema: string, table: string, u: UpsertTable, records: readonly SinkRecord[]): Promise<void> {
    const missing = new Map<string, Row[string]>();
    for (const r of records) {
      const row = r.after;
      if (!row) continue;
      for (const [k, v] of Object.entries(row)) {
        if (u.byName.has(k) || u.aliases.has(k)) continue;
        if (!missing.has(k) || (missing.get(k) === null && v !== null)) missing.set(k, isUnchangedToast(v) ? null : v);
      }
    }
    if (missing.size === 0) return;
    this.log.info({ table: u.name, columns: [...missing.keys()] }, 'adding columns for new source fields');
    await this.tables?.addColumns(schema, table, u, missing);
  }

  /** The watermark of a truncate whose table does not exist (nothing to remove); false when not applicable. */
  private async storeWatermarkOnly(schema: string, table: string, r: SinkRecord): Promise<boolean> {
    if (this.cfg['truncate.mode'] === 'ignore' || !this.tables || this.tables.modeOf(schema, table) === 'changelog') return false;
    const ref = `${this.db}.${ident(this.tables.targetName(schema, table))}`;
    this.raiseWatermark(ref, r.position);
    await this.c().insertTsv(this.truncationsRef, ['table', 'version', 'seq'], [`${escapeTsv(ref)}\t${r.position.commitLsn}\t${r.position.seq}`]);
    return true;
  }

  /** A truncate event: watermark first (T2), then the effects (T1). */
  private async truncate(u: UpsertTable, r: SinkRecord): Promise<void> {
    if (this.cfg['truncate.mode'] === 'ignore') return;
    const p = r.position;
    // T2: durable mark before any effect; in memory before the effects too, so this process's
    // other partitions see it at their post-insert check (T4)
    this.raiseWatermark(u.ref, p);
    await this.c().insertTsv(this.truncationsRef, ['table', 'version', 'seq'], [`${escapeTsv(u.ref)}\t${p.commitLsn}\t${p.seq}`]);
    this.versions.clear(u.ref);
    await this.truncateEffects(u, p);
  }

  /** SQL condition for "row is older than position p" (T1). */
  private static olderThan(p: Position): string {
    return `(_version < ${p.commitLsn} OR (_version = ${p.commitLsn} AND _seq < ${p.seq}))`;
  }

  /**
   * Removes (delete) or hides (mark-deleted) every row older than position p. Idempotent.
   * delete: an `ALTER TABLE … DELETE` mutation (ClickHouse 1.1.54388+, so 18.16 too). A mutation
   * touches only the parts that exist when it is submitted, so rows inserted afterwards — newer
   * ones, or older ones that T3/T4 deal with — are not affected; it is persisted on disk before
   * the ALTER returns and finishes after a server restart. We wait for it (18.16 has no
   * `mutations_sync`) so readers see the truncate before the offsets move on.
   */
  private async truncateEffects(u: UpsertTable, p: Position): Promise<void> {
    const older = ClickHouseSink.olderThan(p);
    if (this.cfg['truncate.mode'] === 'delete') {
      await this.c().command(`ALTER TABLE ${u.ref} DELETE WHERE ${older}`, `delete rows of ${u.name} older than the truncate`);
      await this.waitForMutations(u);
      return;
    }
    const v = p.commitLsn.toString();
    const keys = u.keyColumns.map(ident).join(', ');
    await this.c().command(
      `INSERT INTO ${u.ref} (${keys}, _deleted, _version, _seq, _op, _lsn, _synced_at) SELECT ${keys}, 1, ${v}, ${p.seq}, 't', ${v}, now() FROM ${u.ref} FINAL WHERE _deleted = 0 AND ${older}`,
      `mark ${u.name} truncated`,
    );
  }

  private async waitForMutations(u: UpsertTable): Promise<void> {
    const until = Date.now() + MUTATION_WAIT_MS;
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
      const r = await this.c().queryTsv(
        `SELECT count() FROM system.mutations WHERE database = ${quoteString(this.cfg.database)} AND \`table\` = ${quoteString(u.name)} AND is_done = 0`,
        `check the truncate of ${u.name}`,
      );
      if (r.rows[0]?.[0] === '0') return;
      if (Date.now() > until) {
        this.log.warn({ table: u.name, waitedMs: MUTATION_WAIT_MS }, 'the DELETE mutation of a truncate is still running; going on (it is durable and finishes in the background; see system.mutations)');
        return;
      }
      await sleep(delay);
    }
  }

  // ---- upsert ---------------------------------------------------------------------------------

  private keyLiteral(u: UpsertTable, row: Row): string {
    const parts = u.keyColumns.map((k) => {
      const col = u.byName.get(k);
      return sqlLiteral(col?.type ?? 'String', col?.kind ?? 'other', row[k] as JsonValue);
    });
    return parts.length === 1 ? (parts[0] ?? 'NULL') : `(${parts.join(', ')})`;
  }

  /** Reads stored rows (FINAL) for keys; `full` = all data columns, else only versions. */
  private async readStored(u: UpsertTable, keyRows: Map<string, Row>, full: boolean): Promise<Map<string, StoredRow>> {
    const out = new Map<string, StoredRow>();
    const entries = [...keyRows.values()];
    const keyExpr = u.keyColumns.length === 1 ? ident(u.keyColumns[0] ?? '') : `(${u.keyColumns.map(ident).join(', ')})`;
    const cols = full ? [...u.columns.map((c) => c.name), '_version', '_deleted'] : [...u.keyColumns, '_version', '_deleted'];
    for (let i = 0; i < entries.length; i += KEY_CHUNK) {
      const chunk = entries.slice(i, i + KEY_CHUNK);
      const res = await this.c().queryTsv(
        `SELECT ${cols.map(ident).join(', ')} FROM ${u.ref} FINAL WHERE ${keyExpr} IN (${chunk.map((r) => this.keyLiteral(u, r)).join(', ')})`,
        `read stored rows of ${u.name}`,
      );
      const idx = new Map(res.names.map((n, j) => [n, j]));
      for (const row of res.rows) {
        const key = JSON.stringify(u.keyColumns.map((k) => unescapeTsv(row[idx.get(k) ?? -1] ?? '')));
        const fields = new Map<string, string>();
        if (full) for (const c of u.columns) fields.set(c.name, row[idx.get(c.name) ?? -1] ?? '');
        out.set(key, { version: BigInt(row[idx.get('_version') ?? -1] ?? '0'), deleted: row[idx.get('_deleted') ?? -1] === '1', fields });
      }
    }
    return out;
  }

  /** Highest stored version per key (no FINAL: max over parts is enough for the stale check). */
  private async readVersions(u: UpsertTable, keyRows: Map<string, Row>): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    const entries = [...keyRows.values()];
    const keyExpr = u.keyColumns.length === 1 ? ident(u.keyColumns[0] ?? '') : `(${u.keyColumns.map(ident).join(', ')})`;
    const keys = u.keyColumns.map(ident).join(', ');
    for (let i = 0; i < entries.length; i += KEY_CHUNK) {
      const chunk = entries.slice(i, i + KEY_CHUNK);
      const res = await this.c().queryTsv(
        `SELECT ${keys}, max(_version) AS _version FROM ${u.ref} WHERE ${keyExpr} IN (${chunk.map((r) => this.keyLiteral(u, r)).join(', ')}) GROUP BY ${keys}`,
        `read stored versions of ${u.name}`,
      );
      const n = u.keyColumns.length;
      for (const row of res.rows) out.set(JSON.stringify(row.slice(0, n).map(unescapeTsv)), BigInt(row[n] ?? '0'));
    }
    return out;
  }

  /**
   * Plan (./plan.ts, pure) around the reads it needs, then execute: one INSERT of a row per key,
   * then the version cache learns what landed.
   */
  private async writeUpsert(batch: SinkBatch, u: UpsertTable, records: readonly SinkRecord[], lookups: boolean): Promise<{ rejected: RejectedRecord[]; staleSkipped: number; lowest: Position | null }> {
    // 1. keys of every record, and which need the stored version (stale check) or full row (TOAST placeholders)
    const keys = planKeys(u, records, (k) => this.versions.peek(u.ref, k));
    const storedVersions = this.cfg['stale.check'] && lookups && keys.versionKeys.size > 0 ? await this.readVersions(u, keys.versionKeys) : new Map<string, bigint>();
    for (const [k, v] of storedVersions) this.versions.set(u.ref, k, v);
    const storedRows = keys.toastKeys.size > 0 ? await this.readStored(u, keys.toastKeys, true) : new Map<string, StoredRow>();

    // 2. one row per key: its last change, placeholders filled, stale changes skipped
    const plan = planRows(u, keys.records, {
      staleCheck: this.cfg['stale.check'],
      knownVersion: (k) => this.versions.peek(u.ref, k) ?? storedVersions.get(k),
      belowWatermark: (p) => this.truncatedAt.below(u.ref, p),
      storedRows,
    });
    const rejected: RejectedRecord[] = [...keys.rejected, ...plan.rejected].map(({ record, error }) => ({ record, error: this.explain(u, error) }));

    // 3. insert
    const columns = [...u.columns.map((c) => c.name), ...META_COLUMNS];
    const rows = rowLines(u, plan.rows, microsToText(Date.now() * 1000, 0));
    const refused = await this.insertRows(u.ref, columns, rows, this.tokenBase(batch, u.name));
    rejected.push(...refused);
    const refusedRecords = new Set(refused.map((r) => r.record));
    let lowest: Position | null = null;
    for (const s of plan.rows) {
      if (refusedRecords.has(s.record)) continue;
      this.versions.set(u.ref, s.key, s.version);
      const at = { commitLsn: s.version, seq: s.seq };
      if (!lowest || comparePositions(at, lowest) < 0) lowest = at;
    }
    return { rejected, staleSkipped: plan.staleSkipped, lowest };
  }

  private explain(u: UpsertTable, e: Error): Error {
    const head = `cannot write to ClickHouse table ${this.cfg.database}.${u.name}: ${e.message}.`;
    const after = 'Rows of this record stay at their previous version until a later change of the row is applied (dead-lettered records are not re-applied automatically: after fixing, run cdc-fanout dlq replay <pipeline> --sink <name>).';
    if (e instanceof EncodeError && !e.typeMismatch) {
      // a value of the right type the column's range cannot hold (the column's type did not change)
      const col = /^column (\S+): /.exec(e.message)?.[1] ?? '<column>';
      return new EncodeError(`${head} Let the sink keep such values exactly in a companion column: ALTER TABLE ${this.cfg.database}.${u.name} MODIFY COLUMN ${col} Nullable(<its type>), ADD COLUMN ${col}${RAW_SUFFIX} Nullable(String) COMMENT 'raw:${col}'. ${after}`, false);
    }
    return new EncodeError(
      `${head} The sink widens columns whose source type grew (int → bigint, numeric precision, number → text) when source.url is set and schema.evolution is basic; for other changes ALTER the ClickHouse column yourself (e.g. ALTER TABLE ${this.cfg.database}.${u.name} MODIFY COLUMN … Nullable(String)). ${after}`,
    );
  }

  /**
   * The INSERT's deduplication token (22.2+): the batch's place in the topic plus, per chunk, a
   * digest of the changes it carries (changesDigest). Invariant: two INSERTs share a token only
   * when they write the same changes — an identical retry is dropped by the server, while other
   * changes at the same offsets (a re-created topic, offsets reused) are never dropped.
   */
  private tokenBase(batch: SinkBatch, table: string): string | undefined {
    if (!this.features?.dedupToken || this.cfg['dedup.window'] === 0) return undefined;
    const first = batch.records[0]?.offset ?? '';
    const last = batch.records[batch.records.length - 1]?.offset ?? '';
    // A DLQ replay batch (topic = the DLQ topic) holds records of other topics/partitions with their
    // original offsets; first-last alone does not identify its content, changesDigest per chunk does.
    return `${batch.topic}:${batch.partition}:${first}-${last}:${table}`;
  }

  /** Inserts rows in chunks; rows the server refuses are isolated by bisection and rejected. */
  private async insertRows(ref: string, columns: readonly string[], rows: readonly { record: SinkRecord; line: string }[], token: string | undefined): Promise<RejectedRecord[]> {
    const rejected: RejectedRecord[] = [];
    const max = this.cfg['insert.max.rows'];
    const run = async (part: readonly { record: SinkRecord; line: string }[], tag: string): Promise<void> => {
      if (part.length === 0) return;
      try {
        await this.c().insertTsv(ref, columns, part.map((r) => r.line), token ? { insert_deduplication_token: `${token}:${tag}:${changesDigest(part)}` } : {});
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        if (part.length === 1) {
          const first = part[0];
          if (first) rejected.push({ record: first.record, error: e });
          return;
        }
        const mid = Math.ceil(part.length / 2);
        await run(part.slice(0, mid), `${tag}a`);
        await run(part.slice(mid), `${tag}b`);
      }
    };
    // the chunk's index is part of its dedup token: a retry of the same batch builds the same chunks
    const chunks = chunkBy(rows, { maxItems: max });
    for (let i = 0; i < chunks.length; i++) await run(chunks[i] ?? [], String(i));
    return rejected;
  }

  // ---- changelog ------------------------------------------------------------------------------

  private async writeChangelog(batch: SinkBatch, ref: string, records: readonly SinkRecord[]): Promise<RejectedRecord[]> {
    const syncedAt = microsToText(Date.now() * 1000, 0);
    const json = (v: unknown): string => (v === null || v === undefined ? '\\N' : escapeTsv(JSON.stringify(v)));
    const rows = records.map((r) => ({
      record: r,
      line: [
        r.position.commitLsn.toString(),
        String(r.position.seq),
        escapeTsv(r.op ?? ''),
        String(Math.max(0, Math.trunc(r.source?.ts_ms ?? 0))),
        String(typeof r.source?.lsn === 'number' ? Math.max(0, r.source.lsn) : r.position.commitLsn),
        escapeTsv(r.topic),
        String(r.partition),
        BigInt(r.offset).toString(),
        escapeTsv(JSON.stringify(r.key ?? null)),
        json(r.before),
        json(r.after),
        syncedAt,
      ].join('\t'),
    }));
    return this.insertRows(ref, CHANGELOG_COLUMNS, rows, this.tokenBase(batch, `${ref}`));
  }
}

/** Parses TSV query output (exported for tests). */
export { parseTsvWithNames };

/**
 * Digest of the changes behind a chunk of rows: their positions (commit LSN, seq) and operations,
 * in order. A change's position identifies its content (the WAL never rewrites it), so equal
 * digests mean the same changes; `_synced_at` and TOAST values filled from stored rows are left
 * out, so a retry of the same changes keeps its token.
 */
function changesDigest(rows: readonly { record: SinkRecord }[]): string {
  const h = createHash('sha256');
  for (const { record } of rows) h.update(`${record.position.commitLsn}/${record.position.seq}/${record.op ?? ''};`);
  return h.digest('hex').slice(0, 16);
}
