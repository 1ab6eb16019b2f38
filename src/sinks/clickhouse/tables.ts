/**
 * Target-table management: names, creation from the source columns (catalog or inferred), the
 * `_current` view, the changelog table, schema evolution (ADD COLUMN) and reading a table's columns
 * back (system.columns, with the `pg:<type>` comments the sink writes).
 */
import type { Row } from '../../events/change.js';
import type { ClickHouseConfig, TableMode } from './config.js';
import { Conn, ident } from './conn.js';
import { RAW_SUFFIX, quoteString, type EncodeMode } from './encode.js';
import type { SourceCatalog } from './catalog.js';
import type { ServerFeatures } from './server.js';
import { clickhouseType, inferType, needsRawCompanion, sourceKindOf, type SourceColumn, type SourceKind } from './types.js';
import { widenedType } from './widen.js';

/**
 * The sink's columns in every upsert table, in the order the sink writes them. `_seq` (the change's
 * ordinal in its transaction) orders rows of one transaction: a truncate removes only rows at an
 * earlier position (`_version`, `_seq`), so rows inserted after a TRUNCATE in the same transaction stay.
 */
export const META_COLUMNS = ['_deleted', '_version', '_seq', '_op', '_lsn', '_synced_at'] as const;
const META = new Set<string>(META_COLUMNS);
/** Meta columns a table must already have; `_seq` (added later) is added by the sink when missing. */
export const REQUIRED_META = META_COLUMNS.filter((m) => m !== '_seq');

export interface ColumnInfo {
  readonly name: string;
  readonly type: string;
  readonly kind: SourceKind;
  /** The row field this column is written from (the column's own name, except for `__raw` companions). */
  readonly source: string;
  /** `typed`/`raw`: the two columns of a range-limited pair (see types.ts); `strict` otherwise. */
  readonly mode: EncodeMode;
  /** For a `raw` companion: the type of its typed column (decides when the companion is needed). */
  readonly typedType: string;
}

export interface UpsertTable {
  /** `db`.`name`, quoted. */
  readonly ref: string;
  readonly name: string;
  readonly keyColumns: readonly string[];
  /** Data columns (no meta columns), in table order. */
  columns: ColumnInfo[];
  byName: Map<string, ColumnInfo>;
}

export interface TargetTables {
  readonly source: string;
  readonly mode: TableMode;
  readonly upsert?: UpsertTable;
  /** Quoted ref of the changelog table. */
  readonly changelog?: string;
}

/** Thrown when a table cannot be prepared; the records of that table are rejected with this message. */
export class TableError extends Error {
  override readonly name = 'TableError';
}

// Messages shared with the online check (./check.ts), so `validate --online` says what `run` would.
export const missingTableMessage = (db: string, name: string, source: string): string =>
  `ClickHouse table ${db}.${name} for ${source} does not exist and table.create is false; create it (see migrations/clickhouse/example.sql) or set table.create: true`;
export const keylessUpsertMessage = (source: string): string =>
  `${source} has no primary key (records carry no key), so it cannot be kept as current state; give it a primary key or set table.overrides."${source}".mode: changelog`;
export const missingMetaMessage = (db: string, name: string, missing: readonly string[]): string =>
  `ClickHouse table ${db}.${name} lacks the sink's columns ${missing.join(', ')}; add them (see migrations/clickhouse/example.sql)`;

export const CHANGELOG_COLUMNS = ['_lsn', '_seq', '_op', '_ts_ms', '_source_lsn', '_topic', '_partition', '_offset', '_key', '_before', '_after', '_synced_at'] as const;

export class TableManager {
  private readonly cache = new Map<string, Promise<TargetTables>>();
  private readonly alterLocks = new Map<string, Promise<void>>();

  constructor(
    private readonly conn: Conn,
    private readonly cfg: ClickHouseConfig,
    private readonly features: ServerFeatures,
    private readonly catalog: SourceCatalog | undefined,
  ) {}

  private ref(name: string): string {
    return `${ident(this.cfg.database)}.${ident(name)}`;
  }

  targetName(schema: string, table: string): string {
    const o = this.cfg['table.overrides'][`${schema}.${table}`];
    return o?.['table.name'] ?? this.cfg['table.name.format'].replaceAll('${schema}', schema).replaceAll('${table}', table);
  }

  modeOf(schema: string, table: string): TableMode {
    return this.cfg['table.overrides'][`${schema}.${table}`]?.mode ?? this.cfg.mode;
  }

  /** Tables for a source table, created on first use. `sample` is a row used for inference. */
  get(schema: string, table: string, sample: { key: Row | null; row: Row | null }): Promise<TargetTables> {
    const id = `${schema}.${table}`;
    let p = this.cache.get(id);
    if (!p) {
      p = this.prepare(schema, table, sample);
      this.cache.set(id, p);
      p.catch(() => this.cache.delete(id));
    }
    return p;
  }

  /** Forget cached table state (after a failure or external DDL). */
  forget(schema: string, table: string): void {
    this.cache.delete(`${schema}.${table}`);
  }

  private async prepare(schema: string, table: string, sample: { key: Row | null; row: Row | null }): Promise<TargetTables> {
    const mode = this.modeOf(schema, table);
    const name = this.targetName(schema, table);
    let upsert: UpsertTable | undefined;
    let changelog: string | undefined;
    if (mode !== 'changelog') upsert = await this.prepareUpsert(schema, table, name, sample);
    if (mode !== 'upsert') changelog = await this.prepareChangelog(name + this.cfg['changelog.table.suffix']);
    return { source: `${schema}.${table}`, mode, upsert, changelog };
  }

  async readColumns(name: string): Promise<{ columns: ColumnInfo[]; sortingKey: string } | null> {
    const cols = await this.conn.queryJson<{ name: string; type: string; comment: string }>(
      `SELECT name, type, comment FROM system.columns WHERE database = ${quoteString(this.cfg.database)} AND table = ${quoteString(name)}`,
      'read table columns',
    );
    if (cols.length === 0) return null;
    const t = await this.conn.queryJson<{ sorting_key: string }>(
      `SELECT sorting_key FROM system.tables WHERE database = ${quoteString(this.cfg.database)} AND name = ${quoteString(name)}`,
      'read table key',
    );
    return { columns: columnInfos(cols), sortingKey: t[0]?.sorting_key ?? '' };
  }

  private async sourceColumns(schema: string, table: string, sample: { key: Row | null; row: Row | null }): Promise<{ columns: { col: SourceColumn | null; name: string; type: string }[]; key: string[] }> {
    const described = this.catalog ? await this.catalog.describe(schema, table) : null;
    if (described) {
      const key = described.primaryKey.length > 0 ? [...described.primaryKey] : Object.keys(sample.key ?? {});
      return {
        key,
        columns: described.columns.map((c) => ({ col: c, name: c.name, type: clickhouseType(c, this.features, this.cfg['timestamp.fallback'], key.includes(c.name)) })),
      };
    }
    const key = Object.keys(sample.key ?? {});
    const row = sample.row ?? sample.key ?? {};
    const names = [...new Set([...key, ...Object.keys(row)])];
    return { key, columns: names.map((n) => ({ col: null, name: n, type: inferType(row[n] ?? sample.key?.[n] ?? null, key.includes(n)) })) };
  }

  /** A column's DDL, plus its `__raw` companion when the type is range-limited (see types.ts). */
  private columnDdl(c: { col: SourceColumn | null; name: string; type: string }): string[] {
    const ddl = [`${ident(c.name)} ${c.type}${c.col ? ` COMMENT ${quoteString(`pg:${c.col.pgType}`)}` : ''}`];
    if (c.col && needsRawCompanion(c.type)) ddl.push(`${ident(c.name + RAW_SUFFIX)} Nullable(String) COMMENT ${quoteString(`raw:${c.name}`)}`);
    return ddl;
  }

  private async prepareUpsert(schema: string, table: string, name: string, sample: { key: Row | null; row: Row | null }): Promise<UpsertTable> {
    let existing = await this.readColumns(name);
    if (!existing) {
      if (!this.cfg['table.create']) {
        throw new TableError(missingTableMessage(this.cfg.database, name, `${schema}.${table}`));
      }
      const src = await this.sourceColumns(schema, table, sample);
      if (src.key.length === 0) {
        throw new TableError(keylessUpsertMessage(`${schema}.${table}`));
      }
      const dataCols = src.columns.filter((c) => !META.has(c.name));
      const version = this.features.isDeletedColumn ? 'ReplacingMergeTree(_version, _deleted)' : 'ReplacingMergeTree(_version)';
      const settings = this.features.dedupToken && this.cfg['dedup.window'] > 0 ? ` SETTINGS non_replicated_deduplication_window = ${this.cfg['dedup.window']}` : '';
      await this.conn.command(
        `CREATE TABLE IF NOT EXISTS ${this.ref(name)} (${[
          ...dataCols.flatMap((c) => this.columnDdl(c)),
          '`_deleted` UInt8',
          '`_version` UInt64',
          '`_seq` UInt32',
          '`_op` String',
          '`_lsn` UInt64',
          "`_synced_at` DateTime('UTC')",
        ].join(', ')}) ENGINE = ${version} ORDER BY (${src.key.map(ident).join(', ')})${settings}`,
        `create table ${name}`,
      );
      await this.createView(name);
      existing = await this.readColumns(name);
      if (!existing) throw new TableError(`table ${this.cfg.database}.${name} vanished right after CREATE`);
    }
    const columns = existing.columns.filter((c) => !META.has(c.name));
    const missingMeta = REQUIRED_META.filter((m) => !existing.columns.some((c) => c.name === m));
    if (missingMeta.length > 0) {
      throw new TableError(missingMetaMessage(this.cfg.database, name, missingMeta));
    }
    if (!existing.columns.some((c) => c.name === '_seq')) await this.addSeqColumn(name);
    let keyColumns = Object.keys(sampleKey(sample));
    if (keyColumns.length === 0) keyColumns = existing.sortingKey.replace(/^\(|\)$/g, '').split(',').map((s) => s.trim().replace(/^`|`$/g, '')).filter(Boolean);
    const unknownKey = keyColumns.filter((k) => !columns.some((c) => c.name === k));
    if (unknownKey.length > 0) throw new TableError(`ClickHouse table ${this.cfg.database}.${name} has no column for key field(s) ${unknownKey.join(', ')} of ${schema}.${table}`);
    return { ref: this.ref(name), name, keyColumns, columns, byName: new Map(columns.map((c) => [c.name, c])) };
  }

  /**
   * Tables created before `_seq` existed (or by the user without it) get it here: a metadata-only
   * ALTER; old rows read 0, which only matters for a truncate in the same transaction as them.
   */
  private async addSeqColumn(name: string): Promise<void> {
    const ddl = `ALTER TABLE ${this.ref(name)} ADD COLUMN \`_seq\` UInt32 DEFAULT 0 AFTER \`_version\``;
    try {
      await this.conn.command(ddl, `add column _seq to ${name}`);
    } catch (e) {
      const now = await this.readColumns(name);
      if (now?.columns.some((c) => c.name === '_seq')) return; // another sink process added it
      throw new TableError(`ClickHouse table ${this.cfg.database}.${name} lacks the sink column _seq and adding it failed (${e instanceof Error ? e.message : String(e)}); run: ${ddl}`, { cause: e });
    }
  }

  private setColumns(t: UpsertTable, all: readonly ColumnInfo[]): void {
    t.columns = all.filter((c) => !META.has(c.name));
    t.byName = new Map(t.columns.map((c) => [c.name, c]));
  }

  private async createView(name: string): Promise<void> {
    const suffix = this.cfg['current.view.suffix'];
    if (!suffix) return;
    await this.conn.command(`CREATE VIEW IF NOT EXISTS ${this.ref(name + suffix)} AS SELECT * FROM ${this.ref(name)} FINAL WHERE _deleted = 0`, `create view ${name}${suffix}`);
  }

  private async prepareChangelog(name: string): Promise<string> {
    const settings = this.features.dedupToken && this.cfg['dedup.window'] > 0 ? ` SETTINGS non_replicated_deduplication_window = ${this.cfg['dedup.window']}` : '';
    await this.conn.command(
      `CREATE TABLE IF NOT EXISTS ${this.ref(name)} (_lsn UInt64, _seq UInt32, _op String, _ts_ms UInt64, _source_lsn UInt64, _topic String, _partition UInt32, _offset UInt64, _key String, _before Nullable(String), _after Nullable(String), _synced_at DateTime('UTC')) ENGINE = ReplacingMergeTree ORDER BY (_lsn, _seq)${settings}`,
      `create changelog table ${name}`,
    );
    return this.ref(name);
  }

  /**
   * Widens columns whose source type grew (int → bigint, numeric precision, real → double, a
   * number → text; rules in ./widen.ts) with ALTER TABLE … MODIFY COLUMN, so later values fit.
   * Needs the source catalog; returns the altered columns (empty: nothing to widen). A key column
   * cannot be altered (ORDER BY): that is a TableError naming what to do.
   */
  async widenColumns(schema: string, table: string, t: UpsertTable): Promise<string[]> {
    if (!this.catalog) return [];
    const prev = this.alterLocks.get(t.name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.widenLocked(schema, table, t));
    const done = next.then(() => undefined, () => undefined);
    this.alterLocks.set(t.name, done);
    try {
      return await next;
    } finally {
      if (this.alterLocks.get(t.name) === done) this.alterLocks.delete(t.name);
    }
  }

  private async widenLocked(schema: string, table: string, t: UpsertTable): Promise<string[]> {
    const described = await this.catalog?.describe(schema, table);
    if (!described) return [];
    const now = await this.readColumns(t.name);
    if (now) this.setColumns(t, now.columns);
    const altered: string[] = [];
    for (const src of described.columns) {
      const cur = t.byName.get(src.name);
      if (!cur) continue;
      const isKey = t.keyColumns.includes(src.name);
      const target = clickhouseType({ ...src, nullable: true }, this.features, this.cfg['timestamp.fallback'], isKey);
      const type = widenedType(cur.type, target);
      if (!type) continue;
      if (isKey) {
        throw new TableError(
          `the source type of key column ${src.name} of ${schema}.${table} widened to ${src.pgType}, but ClickHouse cannot alter a key column of ${this.cfg.database}.${t.name} (${cur.type}); recreate the table (e.g. drop it and re-snapshot ${schema}.${table})`,
        );
      }
      await this.conn.command(`ALTER TABLE ${t.ref} MODIFY COLUMN ${ident(src.name)} ${type}`, `widen column ${src.name} of ${t.name}`);
      // keep the pg:<type> comment true (the encoder reads it after a restart); older servers may lack COMMENT COLUMN
      await this.conn.command(`ALTER TABLE ${t.ref} COMMENT COLUMN ${ident(src.name)} ${quoteString(`pg:${src.pgType}`)}`, `comment column ${src.name}`).catch(() => undefined);
      altered.push(`${src.name}: ${cur.type} → ${type}`);
    }
    if (altered.length === 0) return altered;
    await this.columnsChanged(t);
    return altered;
  }

  /** After an ALTER: re-read the table's columns and recreate its current view (it lists them). */
  private async columnsChanged(t: UpsertTable): Promise<void> {
    const after = await this.readColumns(t.name);
    if (after) this.setColumns(t, after.columns);
    const suffix = this.cfg['current.view.suffix'];
    if (suffix) {
      await this.conn.command(`DROP TABLE IF EXISTS ${this.ref(t.name + suffix)}`, 'drop view');
      await this.createView(t.name);
    }
  }

  /**
   * Adds columns for fields the table does not have yet (schema.evolution basic): types from the
   * source catalog when available, else inferred from the value (Nullable). Recreates the view.
   */
  async addColumns(schema: string, table: string, t: UpsertTable, fields: Map<string, Row[string]>): Promise<void> {
    // partitions run concurrently: one schema change per table at a time
    const prev = this.alterLocks.get(t.name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.addColumnsLocked(schema, table, t, fields));
    this.alterLocks.set(t.name, next);
    try {
      await next;
    } finally {
      if (this.alterLocks.get(t.name) === next) this.alterLocks.delete(t.name);
    }
  }

  private async addColumnsLocked(schema: string, table: string, t: UpsertTable, fields: Map<string, Row[string]>): Promise<void> {
    const first = await this.readColumns(t.name);
    if (first) this.setColumns(t, first.columns);
    const pending = [...fields].filter(([f]) => !t.byName.has(f));
    if (pending.length === 0) return;
    const described = this.catalog ? await this.catalog.describe(schema, table) : null;
    for (const [field, value] of pending) {
      const src = described?.columns.find((c) => c.name === field);
      const type = src ? clickhouseType({ ...src, nullable: true }, this.features, this.cfg['timestamp.fallback']) : inferType(value, false);
      // the companion first: a typed column never exists without it (a concurrent writer would reject)
      for (const def of this.columnDdl({ col: src ?? null, name: field, type }).reverse()) {
        const name = /^`((?:[^`]|``)*)`/.exec(def)?.[1]?.replace(/``/g, '`') ?? field;
        try {
          await this.conn.command(`ALTER TABLE ${t.ref} ADD COLUMN ${def}`, `add column ${name} to ${t.name}`);
        } catch (e) {
          // another sink process may have added it meanwhile
          const now = await this.readColumns(t.name);
          if (!now?.columns.some((c) => c.name === name)) throw e;
        }
      }
    }
    await this.columnsChanged(t);
  }
}

/**
 * Column infos from system.columns rows: `pg:<type>` comments give the source kind, `raw:<col>`
 * comments mark the companion of `<col>` (which then encodes in `typed` mode).
 */
export function columnInfos(cols: readonly { name: string; type: string; comment: string }[]): ColumnInfo[] {
  const companions = new Map<string, string>();
  for (const c of cols) {
    const of = /^raw:(.*)$/s.exec(c.comment)?.[1];
    if (of !== undefined && cols.some((x) => x.name === of)) companions.set(of, c.name);
  }
  const kinds = new Map(cols.map((c) => [c.name, sourceKindOf(/^pg:(.*)$/s.exec(c.comment)?.[1])]));
  const types = new Map(cols.map((c) => [c.name, c.type]));
  return cols.map((c) => {
    const of = /^raw:(.*)$/s.exec(c.comment)?.[1];
    if (of !== undefined && companions.get(of) === c.name) {
      return { name: c.name, type: c.type, kind: kinds.get(of) ?? 'other', source: of, mode: 'raw', typedType: types.get(of) ?? 'String' };
    }
    return { name: c.name, type: c.type, kind: kinds.get(c.name) ?? 'other', source: c.name, mode: companions.has(c.name) ? 'typed' : 'strict', typedType: '' };
  });
}

function sampleKey(sample: { key: Row | null }): Row {
  return sample.key ?? {};
}
