/**
 * Source catalog: the Postgres column types, attnums, `ADD COLUMN … DEFAULT` values and primary key
 * of a captured table, read from pg_catalog over an optional connection (the sink's `source.url`,
 * by default the pipeline's own source). Records carry converted values but not column types, and
 * Postgres sends no DDL: with the catalog ClickHouse creates exact types (Decimal(p,s), Int32, Date,
 * DateTime64 …), and ClickHouse and Elasticsearch recognise a RENAME COLUMN (same attnum) and the
 * value rows from before an `ADD COLUMN … DEFAULT <constant>` read (attmissingval).
 * The one part of the kit that does I/O (to the source, not to a sink's target).
 */
import { nodeTlsOptions, type TlsSettings } from '../../spec/tls.js';
import pg from 'pg';
import type { JsonValue } from '../../events/change.js';

export interface SourceColumn {
  readonly name: string;
  /** format_type() of the (domain-resolved) type, e.g. `numeric(10,2)`, `integer[]`, `timestamp with time zone`. */
  readonly pgType: string;
  readonly nullable: boolean;
  /** True for enum types (format_type prints their name). */
  readonly isEnum?: boolean;
  /** pg_attribute.attnum: a column's identity in Postgres, unchanged by RENAME COLUMN (never reused). */
  readonly attnum?: number;
  /**
   * The value rows that existed before `ADD COLUMN … DEFAULT <constant>` read (pg_attribute
   * attmissingval, as text); undefined when there is none (no default, a volatile default, which
   * rewrote the table, or a column that existed when the table was created).
   */
  readonly missingValue?: string;
}

/**
 * A column's `missingValue` as the source's JSON event carries such a value (src/events/README.md):
 * integers and floats as numbers, numeric as its text (decimal.handling.mode=string), text-like and
 * uuid as strings, booleans as true/false. undefined for other types (timestamps, arrays, json, …),
 * whose event encoding the text does not give directly, and when there is no missing value.
 */
export function missingValueJson(col: SourceColumn): JsonValue | undefined {
  const text = col.missingValue;
  if (text === undefined) return undefined;
  const base = col.pgType.replace(/\(.*\)$/, '').trim();
  if (col.isEnum === true) return text;
  switch (base) {
    case 'smallint':
    case 'integer':
      return Number(text);
    case 'bigint':
      return Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
    case 'real':
    case 'double precision':
      return Number.isFinite(Number(text)) ? Number(text) : undefined;
    case 'numeric':
      return text;
    case 'text':
    case 'character varying':
    case 'character':
    case 'uuid':
      return text;
    case 'boolean':
      return text === 't' ? true : text === 'f' ? false : undefined;
    default:
      return undefined;
  }
}

export interface SourceTable {
  readonly columns: readonly SourceColumn[];
  readonly primaryKey: readonly string[];
}

export interface SourceCatalog {
  /** The table's columns and primary key, or null when the table does not exist. */
  describe(schema: string, table: string): Promise<SourceTable | null>;
  close(): Promise<void>;
}

const COLUMNS_SQL = `
SELECT a.attname AS name,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) ELSE format_type(a.atttypid, a.atttypmod) END AS pg_type,
       NOT a.attnotnull AS nullable,
       (t.typtype = 'e' OR et.typtype = 'e') AS is_enum,
       a.attnum::int AS attnum,
       CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END AS missing_value
  FROM pg_attribute a
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
 WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`;

const PK_SQL = `
SELECT a.attname AS name
  FROM pg_index i
  JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = $1::regclass AND i.indisprimary
 ORDER BY k.ord`;

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/**
 * `url` with several servers in libpq's multi-host form (`postgres://u:p@h1:5432,h2:5433/db`, as the
 * daemon passes a source with database.hosts): the single-server URLs, in order; otherwise [url].
 */
export function catalogUrls(url: string): string[] {
  const m = /^(postgres(?:ql)?:\/\/)(?:([^@/?#]*)@)?([^/?#]*)(.*)$/s.exec(url);
  if (!m || !m[3]!.includes(',')) return [url];
  const [, scheme, userinfo, hosts, rest] = m;
  return hosts!.split(',').filter((h) => h !== '').map((h) => `${scheme}${userinfo !== undefined ? `${userinfo}@` : ''}${h}${rest}`);
}

const hostOf = (url: string): string => /^[^:]+:\/\/(?:[^@/?#]*@)?([^/?#]*)/.exec(url)?.[1] ?? '?';

/** `tls`: the source's `database.tls` group (TLS settings in the URL itself, e.g. sslmode, work too). */
export function postgresCatalog(url: string, tls?: TlsSettings): SourceCatalog {
  const ssl = nodeTlsOptions(tls);
  const urls = catalogUrls(url);
  const pools: (pg.Pool | undefined)[] = urls.map(() => undefined);
  const poolOf = (i: number): pg.Pool => {
    let pool = pools[i];
    if (!pool) {
      pool = new pg.Pool({ connectionString: urls[i]!, max: 1, idleTimeoutMillis: 10_000, ...(urls.length > 1 ? { connectionTimeoutMillis: 10_000 } : {}), ...(ssl ? { ssl } : {}) });
      // An idle connection the server drops (Postgres restarted, crashed, failed over) is reported as the
      // pool's 'error' event; unhandled, it would kill the whole daemon. The pool discards that client and
      // the next describe() connects afresh (a query that fails still rejects, to the sink).
      pool.on('error', () => undefined);
      pools[i] = pool;
    }
    return pool;
  };
  // Several servers (a primary and its standbys; catalog reads work on any): the one that answered
  // last first, then the others in order — after a failover the first listed may be down for good.
  let preferred = 0;
  async function onAnyServer<R>(read: (pool: pg.Pool) => Promise<R>): Promise<R> {
    const failures: string[] = [];
    for (let k = 0; k < urls.length; k++) {
      const i = (preferred + k) % urls.length;
      try {
        const r = await read(poolOf(i));
        preferred = i;
        return r;
      } catch (e) {
        // One server, or the server answered (an SQL error): as is.
        if (urls.length === 1 || e instanceof pg.DatabaseError) throw e;
        failures.push(`${hostOf(urls[i]!)}: ${(e as Error).message}`);
      }
    }
    throw new Error(`cannot read the source catalog (column types) from any Postgres server of the source: ${failures.join('; ')}`);
  }
  return {
    describe: (schema, table) => onAnyServer(async (pool) => {
      const rel = `${quoteIdent(schema)}.${quoteIdent(table)}`;
      const exists = await pool.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [rel]);
      if (!exists.rows[0]?.oid) return null;
      const cols = await pool.query<{ name: string; pg_type: string; nullable: boolean; is_enum: boolean | null; attnum: number; missing_value: string | null }>(COLUMNS_SQL, [rel]);
      const pk = await pool.query<{ name: string }>(PK_SQL, [rel]);
      return {
        columns: cols.rows.map((r) => ({
          name: r.name,
          pgType: r.pg_type,
          nullable: r.nullable,
          isEnum: r.is_enum === true,
          attnum: r.attnum,
          ...(r.missing_value === null ? {} : { missingValue: r.missing_value }),
        })),
        primaryKey: pk.rows.map((r) => r.name),
      };
    }),
    async close() {
      await Promise.all(pools.map((p) => p?.end()));
    },
  };
}
