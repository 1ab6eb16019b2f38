/**
 * The column-type model the value converters work from. It is plugin-neutral: the source fills it
 * from pgoutput Relation messages (or catalog queries for snapshots) plus the TypeRegistry, and
 * nothing here knows about pgoutput.
 */

/** How a value of a (resolved) type is converted. Chosen once per type, never per value. */
export type TypeKind =
  | 'bool'
  | 'int2'
  | 'int4'
  | 'int8'
  | 'oid'
  | 'float4'
  | 'float8'
  | 'numeric'
  | 'text'
  | 'enum'
  | 'uuid'
  | 'json'
  | 'jsonb'
  | 'bytea'
  | 'date'
  | 'time'
  | 'timetz'
  | 'timestamp'
  | 'timestamptz'
  | 'interval'
  | 'bit'
  | 'hstore'
  | 'array'
  /** Everything else (inet, cidr, macaddr, money, ranges, geometric, xml, tsvector, …): the server's text form. */
  | 'string';

export interface ColumnType {
  /** OID of the type as declared on the column (for a domain: the domain's OID). */
  readonly oid: number;
  /** Type name as in pg_type.typname, e.g. `int4`, `_text`, `my_domain`. */
  readonly name: string;
  /** Schema of the type, e.g. `pg_catalog`. */
  readonly schema: string;
  /** Type modifier the type itself carries (a domain's typtypmod), -1 for none. */
  readonly typmod: number;
  /** pg_type.typcategory (A array, B boolean, D date/time, E enum, N numeric, S string, U user, …). */
  readonly category: string;
  /** Conversion kind of the underlying (domain-resolved) type. */
  readonly kind: TypeKind;
  /** For arrays (also a domain over an array): the element type, itself resolved. */
  readonly element?: ColumnType;
  /** Element delimiter in the array text form (`,`; `;` for box). */
  readonly delimiter: string;
  /** For enums (also a domain over an enum): labels in sort order. */
  readonly enumLabels?: readonly string[];
  /** For domains: the underlying non-domain type (domains over domains are fully resolved). */
  readonly base?: ColumnType;
}

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  /** The column's atttypmod (e.g. numeric(10,2), timestamp(3)); -1 for none. */
  readonly typmod: number;
  /** false when the column is NOT NULL; undefined when unknown (treated as nullable). */
  readonly nullable?: boolean;
  /** Part of the table's replica identity / primary key. */
  readonly isKey: boolean;
}

/** pg_class.relreplident: d default (primary key), n nothing, f full, i index. */
export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

export interface RelationInfo {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  /** Columns in table (pgoutput) order; raw tuples are positional over this list. */
  readonly columns: readonly Column[];
  /** Names of the key columns, in key order (empty: no primary key / identity). */
  readonly keyColumns: readonly string[];
  readonly replicaIdentity: ReplicaIdentity;
}

/** Marker for an unchanged TOASTed value (pgoutput tuple kind 'u'); never confuse it with NULL. */
export const UNCHANGED_TOAST: unique symbol = Symbol.for('cdc-fanout.unchanged-toast');
export type Unchanged = typeof UNCHANGED_TOAST;

/** One column value as the source hands it over: Postgres text form, NULL, or unchanged TOAST. */
export type RawValue = string | null | Unchanged;
/** A row as raw values, positional over RelationInfo.columns. */
export type RawTuple = readonly RawValue[];

/** The typmod that applies to a column: its own, else the one its (domain) type carries. */
export function effectiveTypmod(column: Pick<Column, 'typmod' | 'type'>): number {
  return column.typmod >= 0 ? column.typmod : column.type.typmod;
}
