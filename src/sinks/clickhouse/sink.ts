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
 * commit() appends the offsets to the checkpoint table; loadOffsets reads them back with argMax.
 */
import { UNAVAILABLE_VALUE, type JsonValue, type Row } from '../../events/change.js';
import type { Logger } from '../../observability/logger.js';
import { SinkError, type PartitionOffset, type RejectedRecord, type Sink, type SinkBatch, type SinkRecord, type TopicPartition, type WriteResult } from '../sink.js';
import { postgresCatalog, type SourceCatalog } from './catalog.js';
import type { ClickHouseConfig } from './config.js';
import { Conn, DataError, ident, parseTsvWithNames } from './conn.js';
import { EncodeError, RAW_SUFFIX, defaultField, encodeField, encoderFor, escapeTsv, microsToText, quoteString, sqlLiteral, unescapeTsv } from './encode.js';
import { featuresOf, type ServerFeatures } from './server.js';
import { CHANGELOG_COLUMNS, META_COLUMNS, TableError, TableManager, type TargetTables, type UpsertTable } from './tables.js';
import { VersionCache } from './versions.js';

export interface ClickHouseSinkOptions {
  readonly config: ClickHouseConfig;
  /** Group under which offsets are stored. */
  readonly group: string;
  readonly logger: Logger;
}

interface RowState {
  /** Encoded TSV fields by column (data columns only). */
  readonly fields: Map<string, string>;
  readonly version: bigint;
  readonly deleted: boolean;
  readonly op: string;
  readonly lsn: bigint;
  /** The record this row came from (rejected if the server refuses the row). */
  readonly record: SinkRecord;
}

const KEY_CHUNK = 5000;

export class ClickHouseSink implements Sink {
  private conn: Conn | undefined;
  private features: ServerFeatures | undefined;
  private tables: TableManager | undefined;
  private catalog: SourceCatalog | undefined;
  private lastCheckpointVersion = 0n;
  private readonly cfg: ClickHouseConfig;
  private readonly log: Logger;
  private readonly versions: VersionCache;
  /** Truncate watermark per target table: rows older than the table's last truncate are dropped. */
  private truncatedAt = new Map<string, bigint>();
  private truncationsReadAt = 0;
  /** Records per partition still to stale-check against ClickHouse (the replay zone after an assignment). */
  private readonly replayZone = new Map<string, number>();

  constructor(private readonly opts: ClickHouseSinkOptions) {
    this.cfg = opts.config;
    this.log = opts.logger;
    this.versions = new VersionCache(opts.config['stale.cache.keys']);
  }

  /** Forget cached table layouts and row versions (call after changing target tables outside the sink). */
  invalidateCaches(): void {
    this.versions.clear();
    this.truncatedAt = new Map();
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

  private get truncationsRef(): string {
    return `${this.db}.${ident(`${this.cfg['checkpoint.table']}_truncations`)}`;
  }

  /** Re-reads the truncate watermarks (other processes may truncate), at most every 5 s. */
  private async refreshTruncations(force = false): Promise<void> {
    if (!force && Date.now() - this.truncationsReadAt < 5000) return;
    const r = await this.c().queryTsv(`SELECT \`table\`, max(\`version\`) AS v FROM ${this.truncationsRef} GROUP BY \`table\``, 'read truncations');
    const next = new Map<string, bigint>();
    for (const row of r.rows) next.set(unescapeTsv(row[0] ?? ''), BigInt(row[1] ?? '0'));
    for (const [k, v] of this.truncatedAt) if ((next.get(k) ?? -1n) < v) next.set(k, v);
    this.truncatedAt = next;
    this.truncationsReadAt = Date.now();
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
      this.conn = new Conn({ url: this.cfg['connection.url'], username: this.cfg['connection.username'], password: this.cfg['connection.password'], requestTimeoutMs: this.cfg['request.timeout.ms'] });
    }
    const v = await this.conn.queryJson<{ v: string }>('SELECT version() AS v', 'version check');
    this.features = featuresOf(v[0]?.v ?? '0.0');
    await this.conn.command(`CREATE DATABASE IF NOT EXISTS ${this.db}`, 'create database');
    await this.conn.command(
      `CREATE TABLE IF NOT EXISTS ${this.checkpointRef} (\`group\` String, \`topic\` String, \`partition\` UInt32, \`offset\` UInt64, \`updated_at\` UInt64) ENGINE = ReplacingMergeTree(\`updated_at\`) ORDER BY (\`group\`, \`topic\`, \`partition\`)`,
      'create checkpoint table',
    );
    await this.conn.command(
      `CREATE TABLE IF NOT EXISTS ${this.truncationsRef} (\`table\` String, \`version\` UInt64) ENGINE = ReplacingMergeTree(\`version\`) ORDER BY \`table\``,
      'create truncations table',
    );
    await this.refreshTruncations(true);
    if (!this.catalog && this.cfg['source.url']) this.catalog = postgresCatalog(this.cfg['source.url']);
    this.tables = new TableManager(this.conn, this.cfg, this.features, this.catalog);
    this.log.info({ server: this.features.version, database: this.cfg.database }, 'clickhouse sink open');
  }

  async loadOffsets(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]> {
    if (partitions.length === 0) return [];
    for (const p of partitions) this.replayZone.set(`${p.topic}\u0000${p.partition}`, this.cfg['stale.check.replay.records']);
    const topics = [...new Set(partitions.map((p) => p.topic))];
    const r = await this.c().queryTsv(
      `SELECT \`topic\`, \`partition\`, argMax(\`offset\`, \`updated_at\`) AS last FROM ${this.checkpointRef} WHERE \`group\` = ${quoteString(this.opts.group)} AND \`topic\` IN (${topics.map(quoteString).join(', ')}) GROUP BY \`topic\`, \`partition\``,
      'load offsets',
    );
    const found = new Map(r.rows.map((row) => [`${unescapeTsv(row[0] ?? '')}\u0000${row[1]}`, row[2] ?? '0']));
    const out: PartitionOffset[] = [];
    for (const p of partitions) {
      const offset = found.get(`${p.topic}\u0000${p.partition}`);
      if (offset !== undefined) out.push({ topic: p.topic, partition: p.partition, offset });
    }
    return out;
  }

  async commit(offsets: readonly PartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const now = BigInt(Date.now()) * 1000n;
    this.lastCheckpointVersion = now > this.lastCheckpointVersion ? now : this.lastCheckpointVersion + 1n;
    const lines = offsets.map((o) => [escapeTsv(this.opts.group), escapeTsv(o.topic), String(o.partition), BigInt(o.offset).toString(), this.lastCheckpointVersion.toString()].join('\t'));
    try {
      await this.c().insertTsv(this.checkpointRef, ['group', 'topic', 'partition', 'offset', 'updated_at'], lines);
    } catch (e) {
      if (e instanceof DataError) throw new SinkError(`cannot store offsets: ${e.message}`, { retriable: false, cause: e });
      throw e;
    }
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
          for (const record of g.records) rejected.push({ record, error: e });
          continue;
        }
        throw e;
      }
      const res = await this.writeTable(batch, g.schema, g.table, targets, g.records, lookups);
      rejected.push(...res.rejected);
      staleSkipped += res.staleSkipped;
    }
    this.replayZone.set(tp, Math.max(0, zone - batch.records.length));
    return { rejected, staleSkipped };
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

  private async writeTable(batch: SinkBatch, schema: string, table: string, t: TargetTables, records: SinkRecord[], lookups: boolean): Promise<WriteResult> {
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
      rejected.push(...r.rejected);
      staleSkipped += r.staleSkipped;
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

  private async evolve(schema: string, table: string, u: UpsertTable, records: readonly SinkRecord[]): Promise<void> {
    const missing = new Map<string, Row[string]>();
    for (const r of records) {
      const row = r.after;
      if (!row) continue;
      for (const [k, v] of Object.entries(row)) {
        if (u.byName.has(k)) continue;
        if (!missing.has(k) || (missing.get(k) === null && v !== null)) missing.set(k, v === UNAVAILABLE_VALUE ? null : v);
      }
    }
    if (missing.size === 0) return;
    this.log.info({ table: u.name, columns: [...missing.keys()] }, 'adding columns for new source fields');
    await this.tables?.addColumns(schema, table, u, missing);
  }

  private async truncate(u: UpsertTable, r: SinkRecord): Promise<void> {
    const mode = this.cfg['truncate.mode'];
    if (mode === 'ignore') return;
    this.versions.clear(u.ref);
    // watermark first: rows older than the truncate that other partitions deliver later are dropped
    const v0 = r.position.commitLsn;
    await this.c().insertTsv(this.truncationsRef, ['table', 'version'], [`${escapeTsv(u.ref)}\t${v0}`]);
    if ((this.truncatedAt.get(u.ref) ?? -1n) < v0) this.truncatedAt.set(u.ref, v0);
    if (mode === 'delete') {
      await this.c().command(`TRUNCATE TABLE ${u.ref}`, `truncate ${u.name}`);
      return;
    }
    const v = r.position.commitLsn.toString();
    const keys = u.keyColumns.map(ident).join(', ');
    await this.c().command(
      `INSERT INTO ${u.ref} (${keys}, _deleted, _version, _op, _lsn, _synced_at) SELECT ${keys}, 1, ${v}, 't', ${v}, now() FROM ${u.ref} FINAL WHERE _deleted = 0 AND _version <= ${v}`,
      `mark ${u.name} truncated`,
    );
  }

  // ---- upsert ---------------------------------------------------------------------------------

  /** Encoded key fields of a row, or null if a key column is missing. */
  private keyFields(u: UpsertTable, row: Row | null): string[] | null {
    if (!row) return null;
    const out: string[] = [];
    for (const k of u.keyColumns) {
      const v = row[k];
      const col = u.byName.get(k);
      if (v === undefined || v === null || !col) return null;
      out.push(encodeField(col.type, col.kind, v));
    }
    return out;
  }

  private keyLiteral(u: UpsertTable, row: Row): string {
    const parts = u.keyColumns.map((k) => {
      const col = u.byName.get(k);
      return sqlLiteral(col?.type ?? 'String', col?.kind ?? 'other', row[k] as JsonValue);
    });
    return parts.length === 1 ? (parts[0] ?? 'NULL') : `(${parts.join(', ')})`;
  }

  /** Reads stored rows (FINAL) for keys; `full` = all data columns, else only versions. */
  private async readStored(u: UpsertTable, keyRows: Map<string, Row>, full: boolean): Promise<Map<string, { version: bigint; deleted: boolean; fields: Map<string, string> }>> {
    const out = new Map<string, { version: bigint; deleted: boolean; fields: Map<string, string> }>();
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

  private async writeUpsert(batch: SinkBatch, u: UpsertTable, records: readonly SinkRecord[], lookups: boolean): Promise<WriteResult> {
    const rejected: RejectedRecord[] = [];
    let staleSkipped = 0;
    const keyId = (fields: string[]): string => JSON.stringify(fields.map(unescapeTsv));
    // 1. keys of every record, and which need the stored full row (TOAST placeholders)
    interface Planned { record: SinkRecord; oldKey: string | null; newKey: string | null; oldRow: Row | null; newRow: Row | null }
    const planned: Planned[] = [];
    const lookupKeys = new Map<string, Row>();
    const toastKeys = new Map<string, Row>();
    const seen = new Set<string>();
    for (const record of records) {
      try {
        const isDelete = record.op === 'd';
        const newRow = isDelete ? null : record.after;
        const oldRow = isDelete ? (record.before ?? record.key) : record.before;
        const nk = newRow ? this.keyFields(u, newRow) : null;
        const okFields = oldRow ? this.keyFields(u, oldRow) : null;
        const ok = okFields ? keyId(okFields) : null;
        const newKey = nk ? keyId(nk) : null;
        if (!isDelete && !newKey) throw new EncodeError(`record has no value for key column(s) ${u.keyColumns.join(', ')} in "after"`);
        if (isDelete && !ok) throw new EncodeError(`delete record has no value for key column(s) ${u.keyColumns.join(', ')}`);
        const oldKey = isDelete || (ok !== null && ok !== newKey) ? ok : null;
        planned.push({ record, oldKey, newKey, oldRow, newRow });
        // look up stored versions of updated/deleted keys this sink has not seen (inserts are not looked up)
        if (oldKey && oldRow && !seen.has(oldKey) && this.versions.peek(u.ref, oldKey) === undefined) lookupKeys.set(oldKey, oldRow);
        if (record.op === 'u' && newKey && newRow && !seen.has(newKey) && this.versions.peek(u.ref, newKey) === undefined) lookupKeys.set(newKey, newRow);
        if (newRow && Object.values(newRow).includes(UNAVAILABLE_VALUE)) {
          const from = oldKey ?? newKey;
          const fromRow = oldKey ? oldRow : newRow;
          if (from && fromRow && !seen.has(from)) toastKeys.set(from, fromRow);
        }
        if (oldKey) seen.add(oldKey);
        if (newKey) seen.add(newKey);
      } catch (e) {
        if (!(e instanceof EncodeError)) throw e;
        rejected.push({ record, error: this.explain(u, e) });
      }
    }
    const storedVersions = this.cfg['stale.check'] && lookups && lookupKeys.size > 0 ? await this.readVersions(u, lookupKeys) : new Map<string, bigint>();
    for (const [k, v] of storedVersions) this.versions.set(u.ref, k, v);
    const storedRows = toastKeys.size > 0 ? await this.readStored(u, toastKeys, true) : new Map();

    // 2. walk in order, keep the last state per key
    const state = new Map<string, RowState>();
    const checking = this.cfg['stale.check'];
    const isStale = (k: string | null, v: bigint): boolean => {
      if (!k || !checking) return false;
      const known = state.get(k)?.version ?? this.versions.peek(u.ref, k) ?? storedVersions.get(k);
      return known !== undefined && v < known;
    };
    const lsnOf = (r: SinkRecord): bigint => (typeof r.source?.lsn === 'number' ? BigInt(r.source.lsn) : r.position.commitLsn);
    const watermark = this.truncatedAt.get(u.ref);
    for (const p of planned) {
      const v = p.record.position.commitLsn;
      try {
        if ((watermark !== undefined && v < watermark) || isStale(p.oldKey, v) || isStale(p.newKey, v)) {
          staleSkipped++;
          continue;
        }
        let fields: Map<string, string> | undefined;
        if (p.newKey && p.newRow) {
          const prevKey = p.oldKey ?? p.newKey;
          const prev = state.get(prevKey);
          const prevFields = prev && !prev.deleted ? prev.fields : (() => {
            const s = storedRows.get(prevKey);
            return s && !s.deleted ? s.fields : undefined;
          })();
          fields = new Map();
          for (const col of u.columns) {
            const value = p.newRow[col.source];
            if (value === UNAVAILABLE_VALUE) {
              const old = prevFields?.get(col.name);
              if (old === undefined) {
                throw new EncodeError(`column ${col.name} is an unchanged TOAST value (${UNAVAILABLE_VALUE}) and no previous state of this row is stored; set REPLICA IDENTITY FULL on the source table or re-snapshot it`);
              }
              fields.set(col.name, old);
            } else if (value === undefined) fields.set(col.name, defaultField(col.type));
            else {
              try {
                fields.set(col.name, encoderFor(col.type, col.kind, col.mode, col.typedType)(value));
              } catch (e) {
                if (e instanceof EncodeError) throw new EncodeError(`column ${col.name}: ${e.message}`, e.typeMismatch);
                throw e;
              }
            }
          }
        }
        if (p.oldKey && p.oldRow) {
          const keyOnly = new Map<string, string>();
          for (const k of u.keyColumns) {
            const col = u.byName.get(k);
            if (col) keyOnly.set(k, encodeField(col.type, col.kind, p.oldRow[k] as JsonValue));
          }
          state.set(p.oldKey, { fields: keyOnly, version: v, deleted: true, op: p.record.op ?? 'd', lsn: lsnOf(p.record), record: p.record });
        }
        if (p.newKey && fields) state.set(p.newKey, { fields, version: v, deleted: false, op: p.record.op ?? 'u', lsn: lsnOf(p.record), record: p.record });
      } catch (e) {
        if (!(e instanceof EncodeError)) throw e;
        rejected.push({ record: p.record, error: this.explain(u, e) });
      }
    }

    // 3. insert
    const syncedAt = microsToText(Date.now() * 1000, 0);
    const columns = [...u.columns.map((c) => c.name), ...META_COLUMNS];
    const rows = [...state.values()].map((s) => ({
      record: s.record,
      line: [
        ...u.columns.map((c) => s.fields.get(c.name) ?? defaultField(c.type)),
        s.deleted ? '1' : '0',
        s.version.toString(),
        escapeTsv(s.op),
        s.lsn.toString(),
        syncedAt,
      ].join('\t'),
    }));
    const refused = await this.insertRows(u.ref, columns, rows, this.tokenBase(batch, u.name));
    rejected.push(...refused);
    const refusedRecords = new Set(refused.map((r) => r.record));
    for (const [k, s] of state) if (!refusedRecords.has(s.record)) this.versions.set(u.ref, k, s.version);
    return { rejected, staleSkipped };
  }

  private explain(u: UpsertTable, e: Error): Error {
    const head = `cannot write to ClickHouse table ${this.cfg.database}.${u.name}: ${e.message}.`;
    if (e instanceof EncodeError && !e.typeMismatch) {
      // a value of the right type the column's range cannot hold (the column's type did not change)
      const col = /^column (\S+): /.exec(e.message)?.[1] ?? '<column>';
      return new EncodeError(`${head} Let the sink keep such values exactly in a companion column: ALTER TABLE ${this.cfg.database}.${u.name} MODIFY COLUMN ${col} Nullable(<its type>), ADD COLUMN ${col}${RAW_SUFFIX} Nullable(String) COMMENT 'raw:${col}' (then replay from the dead-letter topic).`, false);
    }
    return new EncodeError(`${head} If the source column type changed, ALTER the ClickHouse column (e.g. ALTER TABLE ${this.cfg.database}.${u.name} MODIFY COLUMN … Nullable(String)) and replay from the dead-letter topic.`);
  }

  private tokenBase(batch: SinkBatch, table: string): string | undefined {
    if (!this.features?.dedupToken || this.cfg['dedup.window'] === 0) return undefined;
    const first = batch.records[0]?.offset ?? '';
    const last = batch.records[batch.records.length - 1]?.offset ?? '';
    return `${batch.topic}:${batch.partition}:${first}-${last}:${table}`;
  }

  /** Inserts rows in chunks; rows the server refuses are isolated by bisection and rejected. */
  private async insertRows(ref: string, columns: readonly string[], rows: readonly { record: SinkRecord; line: string }[], token: string | undefined): Promise<RejectedRecord[]> {
    const rejected: RejectedRecord[] = [];
    const max = this.cfg['insert.max.rows'];
    const run = async (part: readonly { record: SinkRecord; line: string }[], tag: string): Promise<void> => {
      if (part.length === 0) return;
      try {
        await this.c().insertTsv(ref, columns, part.map((r) => r.line), token ? { insert_deduplication_token: `${token}:${tag}` } : {});
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
    for (let i = 0; i < rows.length; i += max) await run(rows.slice(i, i + max), String(i / max));
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
