/**
 * PostgreSQL → ClickHouse column types. The full per-type table (with every edge value) is the
 * "ClickHouse" columns of the type table in src/events/README.md, checked against this function by
 * test/events/type-table.test.ts.
 *
 * | Postgres                              | ClickHouse                                              |
 * |---------------------------------------|---------------------------------------------------------|
 * | smallint / integer / bigint           | Int16 / Int32 / Int64                                   |
 * | numeric(p,s), p ≤ 38                  | Nullable(Decimal(p,s)) + `<col>__raw` (NaN, ±Infinity)  |
 * | numeric (unconstrained or p > 38)     | String (exact text)                                     |
 * | real / double precision               | Float32 / Float64 (NaN/±Infinity kept) + `<col>__raw` (exact text when 18.16's float parser could round it) |
 * | boolean                               | UInt8 (0/1; 18.16 has no Bool)                          |
 * | text, varchar, char, uuid, enum, json(b), bytea (base64), inet, interval, money, … | String |
 * | date                                  | Nullable(Date) + `<col>__raw`                           |
 * | timestamp / timestamptz               | Nullable(DateTime64(6, 'UTC')) + `<col>__raw` (20.1+); older servers: String `YYYY-MM-DD hh:mm:ss.ffffff` / `infinity` (default) or Nullable(DateTime('UTC')) + `<col>__raw` (`timestamp.fallback: datetime`) |
 * | time / timetz                         | String (Debezium micros or ISO text as received)        |
 * | T[]                                   | Array(Nullable(T)) + `<col>__raw` (JSON text of a multi-dimensional or NULL array; the Array column shows []); T = String for date/timestamp/numeric elements |
 * Nullable(T) where the source column is nullable (never for key columns, never for arrays).
 *
 * Range-limited types (Date, DateTime, DateTime64, Decimal) cannot hold every value Postgres emits
 * (year 0001, ±infinity, numeric NaN); 18.16 parses some floats inexactly (the Float column keeps
 * its parse, the companion the exact text). Invariant: such a column is never a key (keys use the exact
 * String text, so distinct source keys stay distinct) and, when the sink creates it, is Nullable and
 * paired with a `<col>__raw Nullable(String)` companion (`COMMENT 'raw:<col>'`) that holds the exact
 * text exactly when the typed column cannot (then the typed column is NULL): `coalesce(<col>__raw,
 * toString(<col>))` recovers every value. A range-limited column without a companion (a table made
 * by hand or by an older version) rejects such values with a hint to add one.
 * Each column created by the sink carries `COMMENT 'pg:<postgres type>'` so the value encoder knows
 * the source type after a restart even without a catalog connection.
 */
import type { ServerFeatures } from './server.js';

export type TimestampFallback = 'string' | 'datetime';

/** The source catalog's column (moved to the sink kit, shared with Elasticsearch). */
export type { SourceColumn } from '../kit/catalog.js';
import type { SourceColumn } from '../kit/catalog.js';

/** What the encoder needs to know about a source type beyond the ClickHouse type. */
export type SourceKind = 'timestamp' | 'timestamp-ms' | 'timestamptz' | 'date' | 'other';

/**
 * The source kind of a format_type() text. `timestamp(0..3)` is `timestamp-ms`: with the default
 * `time.precision.mode: adaptive` the source emits those as epoch millis (Debezium `Timestamp`).
 */
export function sourceKindOf(pgType: string | undefined): SourceKind {
  if (!pgType) return 'other';
  const precision = /\((\d+)\)/.exec(pgType)?.[1];
  const base = pgType.replace(/\[\]$/, '').replace(/\(\d+\)/, '').trim();
  if (base === 'timestamp without time zone' || base === 'timestamp') return precision !== undefined && Number(precision) <= 3 ? 'timestamp-ms' : 'timestamp';
  if (base === 'timestamp with time zone' || base === 'timestamptz') return 'timestamptz';
  if (base === 'date') return 'date';
  return 'other';
}

function scalarType(pgType: string, f: ServerFeatures, fallback: TimestampFallback, isEnum: boolean): string {
  if (isEnum) return 'String';
  const t = pgType.trim().toLowerCase();
  switch (t) {
    case 'smallint': case 'int2': return 'Int16';
    case 'integer': case 'int': case 'int4': return 'Int32';
    case 'bigint': case 'int8': return 'Int64';
    case 'real': case 'float4': return 'Float32';
    case 'double precision': case 'float8': return 'Float64';
    case 'boolean': case 'bool': return 'UInt8';
    case 'date': return 'Date';
  }
  const num = /^(?:numeric|decimal)\((\d+)(?:,\s*(\d+))?\)$/.exec(t);
  if (num) {
    const p = Number(num[1]);
    const s = Number(num[2] ?? 0);
    return p >= 1 && p <= 38 && s <= p ? `Decimal(${p}, ${s})` : 'String';
  }
  const kind = sourceKindOf(t);
  if (kind === 'timestamp' || kind === 'timestamp-ms' || kind === 'timestamptz') {
    if (f.dateTime64) return "DateTime64(6, 'UTC')";
    return fallback === 'datetime' ? "DateTime('UTC')" : 'String';
  }
  return 'String';
}

const RANGE_LIMITED = /^(Date(Time(64)?)?|Decimal(32|64|128|256)?)\b/;

/** Whether the sink pairs a column of this (unwrapped) ClickHouse type with a `__raw` companion. */
export function needsRawCompanion(chType: string): boolean {
  const { base } = unwrapType(chType);
  return RANGE_LIMITED.test(base) || base.startsWith('Array(') || /^Float(32|64)$/.test(base);
}

/** ClickHouse type for a source column. Key columns are never Nullable (ORDER BY needs values). */
export function clickhouseType(col: SourceColumn, f: ServerFeatures, fallback: TimestampFallback, isKey = false): string {
  const array = /^(.*)\[\]$/.exec(col.pgType.trim());
  if (array?.[1]) {
    const element = scalarType(array[1].replace(/\[\]$/, ''), f, fallback, col.isEnum === true);
    // elements have no companion: range-limited element types are stored as their exact text
    return `Array(Nullable(${RANGE_LIMITED.test(element) ? 'String' : element}))`;
  }
  const t = scalarType(col.pgType, f, fallback, col.isEnum === true);
  if (RANGE_LIMITED.test(t)) return isKey ? 'String' : `Nullable(${t})`;
  return col.nullable && !isKey ? `Nullable(${t})` : t;
}

/** Type inferred from a Debezium JSON value when no catalog and no DDL is available (see README). */
export function inferType(value: unknown, isKey: boolean): string {
  let t: string;
  if (typeof value === 'boolean') t = 'UInt8';
  else if (typeof value === 'number') t = Number.isInteger(value) && isKey ? 'Int64' : 'Float64';
  else if (Array.isArray(value)) return 'Array(Nullable(String))';
  else t = 'String';
  return isKey ? t : `Nullable(${t})`;
}

const unwrapped = new Map<string, { base: string; nullable: boolean }>();

/** Strips Nullable(…) / LowCardinality(…) wrappers (memoized: called per value). */
export function unwrapType(chType: string): { base: string; nullable: boolean } {
  let r = unwrapped.get(chType);
  if (!r) {
    r = unwrapUncached(chType);
    if (unwrapped.size < 10_000) unwrapped.set(chType, r);
  }
  return r;
}

function unwrapUncached(chType: string): { base: string; nullable: boolean } {
  let t = chType.trim();
  let nullable = false;
  for (;;) {
    const m = /^(Nullable|LowCardinality)\((.*)\)$/.exec(t);
    if (!m?.[2]) break;
    if (m[1] === 'Nullable') nullable = true;
    t = m[2].trim();
  }
  return { base: t, nullable };
}
