/**
 * PostgreSQL → ClickHouse column types (documented in README "ClickHouse sink"):
 *
 * | Postgres                              | ClickHouse                                              |
 * |---------------------------------------|---------------------------------------------------------|
 * | smallint / integer / bigint           | Int16 / Int32 / Int64                                   |
 * | numeric(p,s), p ≤ 38                  | Decimal(p,s)                                            |
 * | numeric (unconstrained or p > 38)     | String (exact text)                                     |
 * | real / double precision               | Float32 / Float64 (NaN/±Infinity kept)                  |
 * | boolean                               | UInt8 (0/1; 18.16 has no Bool)                          |
 * | text, varchar, char, uuid, enum, json(b), bytea (base64), inet, interval, money, … | String |
 * | date                                  | Date                                                    |
 * | timestamp / timestamptz               | DateTime64(6, 'UTC') (20.1+); older servers: String `YYYY-MM-DD hh:mm:ss.ffffff` (default) or DateTime('UTC') (`timestamp.fallback`) |
 * | time / timetz                         | String (Debezium micros or ISO text as received)        |
 * | T[]                                   | Array(Nullable(T)) (a NULL array is stored as [])       |
 * Nullable(T) where the source column is nullable (never for key columns, never for arrays).
 * Each column created by the sink carries `COMMENT 'pg:<postgres type>'` so the value encoder knows
 * the source type after a restart even without a catalog connection.
 */
import type { ServerFeatures } from './server.js';

export type TimestampFallback = 'string' | 'datetime';

export interface SourceColumn {
  readonly name: string;
  /** format_type() of the (domain-resolved) type, e.g. `numeric(10,2)`, `integer[]`, `timestamp with time zone`. */
  readonly pgType: string;
  readonly nullable: boolean;
  /** True for enum types (format_type prints their name). */
  readonly isEnum?: boolean;
}

/** What the encoder needs to know about a source type beyond the ClickHouse type. */
export type SourceKind = 'timestamp' | 'timestamptz' | 'date' | 'other';

export function sourceKindOf(pgType: string | undefined): SourceKind {
  if (!pgType) return 'other';
  const base = pgType.replace(/\[\]$/, '').replace(/\(\d+\)/, '').trim();
  if (base === 'timestamp without time zone' || base === 'timestamp') return 'timestamp';
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
  if (sourceKindOf(t) === 'timestamp' || sourceKindOf(t) === 'timestamptz') {
    if (f.dateTime64) return "DateTime64(6, 'UTC')";
    return fallback === 'datetime' ? "DateTime('UTC')" : 'String';
  }
  return 'String';
}

/** ClickHouse type for a source column. Key columns are never Nullable (ORDER BY needs values). */
export function clickhouseType(col: SourceColumn, f: ServerFeatures, fallback: TimestampFallback, isKey = false): string {
  const array = /^(.*)\[\]$/.exec(col.pgType.trim());
  if (array?.[1]) return `Array(Nullable(${scalarType(array[1].replace(/\[\]$/, ''), f, fallback, col.isEnum === true)}))`;
  const t = scalarType(col.pgType, f, fallback, col.isEnum === true);
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
