/**
 * The decoder's output: a plugin-neutral change model with RAW TEXT column values (as Postgres
 * printed them). Only src/source/decoder.ts knows pgoutput; everything after it sees these types.
 * Tuples are positional over RawRelation.columns (the events layer's RawTuple); key-only tuples
 * (delete/update with the default replica identity) hold NULL for non-key columns, as Debezium does.
 * Value conversion (text → JSON by type) happens later, in src/events.
 */

import type { RawTuple } from '../events/types.js';
export { UNCHANGED_TOAST, type RawTuple, type RawValue } from '../events/types.js';

export interface RawColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
  /** Part of the replica identity (primary key, index, or all columns with FULL). */
  readonly isKey: boolean;
}

export interface RawRelation {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  readonly replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  readonly columns: readonly RawColumn[];
  readonly keyColumns: readonly string[];
}

export type RawChange =
  | { readonly kind: 'begin'; readonly xid: number; readonly commitLsn: bigint; readonly commitTimeMs: number; readonly commitTimeUs?: number }
  | { readonly kind: 'commit'; readonly commitLsn: bigint; readonly endLsn: bigint; readonly commitTimeMs: number }
  | { readonly kind: 'relation'; readonly relation: RawRelation }
  | { readonly kind: 'insert'; readonly relation: RawRelation; readonly after: RawTuple }
  | { readonly kind: 'update'; readonly relation: RawRelation; readonly before: RawTuple | null; readonly after: RawTuple }
  | { readonly kind: 'delete'; readonly relation: RawRelation; readonly before: RawTuple }
  | { readonly kind: 'truncate'; readonly relations: readonly RawRelation[]; readonly cascade: boolean; readonly restartIdentity: boolean }
  | { readonly kind: 'message'; readonly transactional: boolean; readonly lsn: bigint; readonly prefix: string; readonly content: Buffer }
  | { readonly kind: 'ignored'; readonly what: string };
