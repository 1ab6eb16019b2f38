/**
 * Target-table management: names, creation from the source columns (catalog or inferred), the
 * `_current` view, the changelog table, schema evolution (ADD COLUMN) and reading a table's columns
 * back (system.columns, with the `pg:<type>` comments the sink writes).
 */
import type { Row } from '../../events/change.js';
import type { ClickHouseConfig, TableMode } from './config.js';
import { Conn, ident } from './conn.js';
import { RAW_SUFFIX, quoteString, type EncodeMode } from './encode.js';
import type { SourceCatalog } from '../kit/catalog.js';
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
  /** The source column's attnum (its identity in Postgres across renames), from the column comment; undefined when unknown. */
  readonly attnum?: number;
  /** Earlier source names of the column (RENAME COLUMN), from the column comment: rows still carrying them are written here. */
  readonly was: readonly string[];
  /**
   * The column's DEFAULT as an encoded TSV field (ADD COLUMN … DEFAULT backfill): written for a row
   * that lacks the field — a row from before the column existed, which Postgres reads as the default.
   */
  readonly defaultTsv?: string;
}

export interface UpsertTable {
  /** `db`.`name`, quoted. */
  readonly ref: string;
  readonly name: string;
  readonly keyColumns: readonly string[];
  /** Data columns (no meta columns), in table order. */
  columns: ColumnInfo[];
  byName: Map<string, ColumnInfo>;
  /** Earlier source names of renamed columns → the column (see ColumnInfo.was). */
  aliases: Map<string, ColumnInfo>;
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
    return o?.['table.name'] ?? this.cfg['table.name.format'].replaceAll('{schema}', schema).replaceAll('{table}', table);
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
    const cols = await this.conn.queryJson<{ name: string; type: string; comment: string; default_kind?: string; default_expression?: string }>(
      `SELECT name, type, comment, default_kind, default_expression FROM system.columns WHERE database = ${quoteString(this.cfg.database)} AND table = ${quoteString(name)}`,
      'read table columns',
    );
    if (cols.length === 0) return null;
    // DEFAULT expressions of the columns the sink created from a source default (ADD COLUMN … DEFAULT),
    // evaluated once to the TSV field an INSERT writes for a row lacking the field. Not a user's own
    // DEFAULT (no `pg:` comment): `DEFAULT now()` evaluated once would be wrong.
    const defaults = cols.filter((c) => c.default_kind === 'DEFAULT' && c.default_expression && !META.has(c.name) && c.comment.startsWith('pg:'));
    const defaultTsv = new Map<string, string>();
    if (defaults.length > 0) {
      const r = await this.conn.queryTsv(`SELECT ${defaults.map((c, i) => `${c.default_expression!} AS d${i}`).join(', ')}`, `evaluate column defaults of ${name}`);
      defaults.forEach((c, i) => defaultTsv.set(c.name, r.rows[0]?.[i] ?? '\\N'));
    }
    const t = await this.conn.queryJson<{ sorting_key: string }>(
      `SELECT sorting_key FROM system.tables WHERE database = ${quoteString(this.cfg.database)} AND name = ${quoteString(name)}`,
      'read table key',
    );
    return { columns: columnInfos(cols).map((c) => (defaultTsv.has(c.name) ? { ...c, defaultTsv: defaultTsv.get(c.name)! } : c)), sortingKey: t[0]?.sorting_key ?? '' };
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
    const def = c.col ? defaultClause(c.col, c.type) : '';
    const ddl = [`${ident(c.name)} ${c.type}${def}${c.col ? ` COMMENT ${quoteString(columnComment(c.col.pgType, c.col.attnum, []))}` : ''}`];
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
    return { ref: this.ref(name), name, keyColumns, columns, byName: new Map(columns.map((c) => [c.name, c])), aliases: aliasesOf(columns) };
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
    t.aliases = aliasesOf(t.columns);
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
      await this.conn.command(`ALTER TABLE ${t.ref} COMMENT COLUMN ${ident(src.name)} ${quoteString(columnComment(src.pgType, src.attnum ?? cur.attnum, cur.was))}`, `comment column ${src.name}`).catch(() => undefined);
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
    const pending = [...fields].filter(([f]) => !t.byName.has(f) && !t.aliases.has(f));
    if (pending.length === 0) return;
    const described = this.catalog ? await this.catalog.describe(schema, table) : null;
    for (const [field, value] of pending) {
      const src = described?.columns.find((c) => c.name === field);
      // RENAME COLUMN: the same attnum as a column the table has under another name, which the source no longer has
      const renamedFrom = src?.attnum === undefined ? undefined : t.columns.find((c) => c.attnum === src.attnum && c.mode !== 'raw' && c.name !== field && !described?.columns.some((d) => d.name === c.name));
      if (src && renamedFrom) {
        await this.renameColumn(schema, table, t, renamedFrom, src);
        continue;
      }
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
        // 18.16 accepts but drops the COMMENT of ADD COLUMN: set it explicitly (the encoder and rename detection read it)
        const comment = / COMMENT ('(?:[^'\\]|\\.)*')$/.exec(def)?.[1];
        if (comment) await this.conn.command(`ALTER TABLE ${t.ref} COMMENT COLUMN ${ident(name)} ${comment}`, `comment column ${name}`).catch(() => undefined);
      }
    }
    await this.columnsChanged(t);
  }

  /**
   * RENAME COLUMN `from` → `src.name` (same attnum). ClickHouse 18.16 has no RENAME COLUMN (added in
   * 20.4), so: ADD the new column (Nullable, the old type), record the old name in its comment (rows
   * still carrying it — older changes on a lagging partition — are written to the new column from
   * now on), copy the old values with an UPDATE mutation, wait for it, DROP the old column.
   * Invariant: the copy only fills rows whose new column is NULL, i.e. rows written before the new
   * column existed — rows written since carry the value under the new name (or the old name, mapped),
   * a legitimately NULL value included. A key column cannot be renamed this way (ORDER BY).
   */
  private async renameColumn(schema: string, table: string, t: UpsertTable, from: ColumnInfo, src: SourceColumn): Promise<void> {
    const to = src.name;
    if (t.keyColumns.includes(from.name)) {
      throw new TableError(
        `key column ${from.name} of ${schema}.${table} was renamed to ${to} in Postgres, but ClickHouse cannot rename or add a key (ORDER BY) column of ${this.cfg.database}.${t.name}; recreate the table (drop it and re-snapshot ${schema}.${table})`,
      );
    }
    const companion = t.columns.find((c) => c.mode === 'raw' && c.source === from.name);
    const nullable = (type: string): string => (/^(Nullable|Array|LowCardinality)\(/.test(type) ? type : `Nullable(${type})`);
    const comment = columnComment(src.pgType, src.attnum, [...from.was, from.name]);
    const steps: { name: string; ddl: string }[] = [];
    if (companion) steps.push({ name: to + RAW_SUFFIX, ddl: `${ident(to + RAW_SUFFIX)} Nullable(String) COMMENT ${quoteString(`raw:${to}`)}` });
    steps.push({ name: to, ddl: `${ident(to)} ${nullable(from.type)} COMMENT ${quoteString(comment)}` });
    for (const s of steps) {
      try {
        await this.conn.command(`ALTER TABLE ${t.ref} ADD COLUMN ${s.ddl}`, `add column ${s.name} to ${t.name} (rename of ${from.name})`);
      } catch (e) {
        const now = await this.readColumns(t.name);
        if (!now?.columns.some((c) => c.name === s.name)) throw e;
      }
    }
    if (companion) await this.conn.command(`ALTER TABLE ${t.ref} COMMENT COLUMN ${ident(to + RAW_SUFFIX)} ${quoteString(`raw:${to}`)}`, 'comment column').catch(() => undefined);
    await this.conn.command(`ALTER TABLE ${t.ref} COMMENT COLUMN ${ident(to)} ${quoteString(comment)}`, `comment column ${to}`);
    // from here on rows carrying the old name are written to the new column
    await this.columnsChanged(t);
    const copies = [`${ident(to)} = ${ident(from.name)}`, ...(companion ? [`${ident(to + RAW_SUFFIX)} = ${ident(companion.name)}`] : [])];
    // rows written before the new column existed: NULL there (an empty array for an Array column)
    const unset = /^Array\(/.test(from.type) ? `empty(${ident(to)}) AND notEmpty(${ident(from.name)})` : `${ident(to)} IS NULL`;
    await this.conn.command(`ALTER TABLE ${t.ref} UPDATE ${copies.join(', ')} WHERE ${unset}`, `copy column ${from.name} to ${to} in ${t.name}`);
    await this.waitForMutations(t.name, `the copy of ${from.name} to ${to}`);
    for (const old of [from.name, ...(companion ? [companion.name] : [])]) {
      try {
        // 18.16 has no DROP COLUMN IF EXISTS
        await this.conn.command(`ALTER TABLE ${t.ref} DROP COLUMN ${ident(old)}`, `drop column ${old} of ${t.name} (renamed to ${to})`);
      } catch (e) {
        const now = await this.readColumns(t.name);
        if (now?.columns.some((c) => c.name === old)) throw e; // else another sink process dropped it
      }
    }
    await this.columnsChanged(t);
  }

  /** Waits until the table has no unfinished mutation (18.16 has no mutations_sync); a TableError after 2 minutes. */
  private async waitForMutations(name: string, what: string): Promise<void> {
    const until = Date.now() + 120_000;
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
      const r = await this.conn.queryJson<{ n: number | string }>(
        `SELECT count() AS n FROM system.mutations WHERE database = ${quoteString(this.cfg.database)} AND \`table\` = ${quoteString(name)} AND is_done = 0`,
        `wait for ${what}`,
      );
      if (Number(r[0]?.n ?? 0) === 0) return;
      if (Date.now() > until) throw new TableError(`${what} in ${this.cfg.database}.${name} did not finish within 2 minutes (see system.mutations); the records are retried after the sink restarts`);
      await new Promise((res) => setTimeout(res, delay));
    }
  }
}

/** The sink's column comment: `pg:<type>`, then `;attnum=<n>` and `;was=<old names>` when known. */
export function columnComment(pgType: string, attnum: number | undefined, was: readonly string[]): string {
  return `pg:${pgType}${attnum === undefined ? '' : `;attnum=${attnum}`}${was.length > 0 ? `;was=${was.map(encodeURIComponent).join(',')}` : ''}`;
}

function parseComment(comment: string): { pgType?: string; attnum?: number; was: string[] } {
  const m = /^pg:(.*?)(?:;attnum=(\d+))?(?:;was=([^;]*))?$/s.exec(comment);
  if (!m) return { was: [] };
  return {
    pgType: m[1],
    ...(m[2] === undefined ? {} : { attnum: Number(m[2]) }),
    was: m[3] ? m[3].split(',').map(decodeURIComponent) : [],
  };
}

function aliasesOf(columns: readonly ColumnInfo[]): Map<string, ColumnInfo> {
  const out = new Map<string, ColumnInfo>();
  for (const c of columns) for (const w of c.was) if (!columns.some((x) => x.name === w)) out.set(w, c);
  return out;
}

/**
 * ` DEFAULT …` for a column whose rows from before `ADD COLUMN … DEFAULT <constant>` read that
 * constant in Postgres (attmissingval): ClickHouse then reads it for the rows it already holds, and
 * the sink writes it for rows that lack the field. Only for types whose Postgres text ClickHouse
 * parses the same way (numbers, text, booleans); '' otherwise.
 */
function defaultClause(col: SourceColumn, type: string): string {
  const text = col.missingValue;
  if (text === undefined) return '';
  const base = col.pgType.replace(/\(.*\)$/, '').trim();
  const value = base === 'boolean' ? (text === 't' ? '1' : text === 'f' ? '0' : undefined) : text;
  const plain = /^(smallint|integer|bigint|numeric|real|double precision|text|character varying|character|uuid|boolean)$/.test(base);
  if (!plain || value === undefined || /Array|DateTime|Date\b/.test(type)) return '';
  return ` DEFAULT CAST(${quoteString(value)} AS ${type})`;
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
  const parsed = new Map(cols.map((c) => [c.name, parseComment(c.comment)]));
  const kinds = new Map(cols.map((c) => [c.name, sourceKindOf(parsed.get(c.name)?.pgType)]));
  const types = new Map(cols.map((c) => [c.name, c.type]));
  return cols.map((c) => {
    const of = /^raw:(.*)$/s.exec(c.comment)?.[1];
    if (of !== undefined && companions.get(of) === c.name) {
      return { name: c.name, type: c.type, kind: kinds.get(of) ?? 'other', source: of, mode: 'raw', typedType: types.get(of) ?? 'String', was: parsed.get(of)?.was ?? [] };
    }
    const p = parsed.get(c.name);
    return {
      name: c.name,
      type: c.type,
      kind: kinds.get(c.name) ?? 'other',
      source: c.name,
      mode: companions.has(c.name) ? 'typed' : 'strict',
      typedType: '',
      was: p?.was ?? [],
      ...(p?.attnum === undefined ? {} : { attnum: p.attnum }),
    };
  });
}

function sampleKey(sample: { key: Row | null }): Row {
  return sample.key ?? {};
}
