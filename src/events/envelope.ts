/**
 * The Debezium value envelope {before, after, source, transaction, op, ts_ms, ts_us, ts_ns}, serialized
 * by string concatenation around JSON.stringify of the rows: the constant parts of `source` are
 * escaped once per relation, so the hot path does no per-event object building for them.
 * Invariant: field names and order are those of Debezium 3.6's PostgreSQL connector (checked against
 * its output by test/events/debezium-differential.test.ts). ts_us/ts_ns are written as the µs (or ms)
 * value followed by zeros (exact text, no float arithmetic): streamed commit times are known to the
 * µs (pgoutput), snapshot and processing times to the ms.
 */
import type { Op, Position, Row } from './change.js';

/** Debezium's source.snapshot values (io.debezium.connector.SnapshotRecord, lower case). */
export type SnapshotMarker = 'true' | 'first' | 'first_in_data_collection' | 'last_in_data_collection' | 'last' | 'false' | 'incremental';

/** Where an event comes from (the `source` block's per-event fields). */
export interface SourceInfo {
  /** The event's identity (commit LSN of its transaction / snapshot point, ordinal). */
  readonly position: Position;
  /** Postgres transaction id; null for snapshot rows and non-transactional messages. */
  readonly xid: number | null;
  /** Commit time of the transaction (snapshot: the snapshot's time), ms since epoch → source.ts_ms. */
  readonly commitTimeMs: number;
  /** The same in µs when known (streaming: pgoutput's commit time) → source.ts_us / ts_ns; else ms scaled. */
  readonly commitTimeUs?: number;
  /** The change's own LSN (source.lsn); the commit LSN when unknown. */
  readonly lsn: bigint;
  readonly snapshot: SnapshotMarker;
  /**
   * End LSN of the previous transaction's commit record (first element of source.sequence, like Debezium);
   * null/undefined → `null` in the sequence.
   */
  readonly lastCommitLsn?: bigint | null;
}

/** The envelope's transaction block (provide.transaction.metadata=true). */
export interface TransactionBlock {
  readonly id: string;
  readonly total_order: number;
  readonly data_collection_order: number;
}

export interface EnvelopeStatics {
  /** source.version (cdc-fanout's package version). */
  readonly version: string;
  /** topic.prefix → source.name. */
  readonly name: string;
  /** Database name → source.db. */
  readonly db: string;
}

/** Precomputed JSON fragments of the `source` block for one (schema, table). */
export interface SourceTemplate {
  /** `{"version":…,"connector":"postgresql","name":…,"ts_ms":` */
  readonly head: string;
  /** `,"db":…,"sequence":` */
  readonly db: string;
  /** `,"schema":…,"table":…,"txId":` */
  readonly table: string;
  /**
   * The text around the per-change parts (sequence's own LSN, lsn) for the last transaction seen
   * (`serializeSource`): every change of a transaction shares it, so it is built once per
   * transaction, not per change.
   */
  last?: SourceCache;
}

interface SourceCache {
  readonly commitTimeMs: number;
  readonly commitTimeUs: number | undefined;
  readonly xid: number | null;
  readonly snapshot: SnapshotMarker;
  readonly lastCommitLsn: bigint | null | undefined;
  /** Up to the sequence's second element: `{…"sequence":"[\"<last>\",\"` */
  readonly head: string;
  /** From the end of the sequence to `"lsn":` */
  readonly middle: string;
}

export function sourceTemplate(statics: EnvelopeStatics, schema: string, table: string): SourceTemplate {
  const q = JSON.stringify;
  return {
    head: `{"version":${q(statics.version)},"connector":"postgresql","name":${q(statics.name)},"ts_ms":`,
    db: `,"db":${q(statics.db)},"sequence":`,
    table: `,"schema":${q(schema)},"table":${q(table)},"txId":`,
  };
}

/** Debezium's source.sequence: a JSON string `["<last commit lsn>","<this lsn>"]` of decimal LSNs. */
export function sequenceOf(info: SourceInfo): string {
  const last = info.lastCommitLsn === undefined || info.lastCommitLsn === null ? 'null' : `"${info.lastCommitLsn}"`;
  return `[${last},"${info.lsn}"]`;
}

/** `ms` scaled to µs (`zeros` = '000') or ns ('000000') as exact JSON number text; ms is an integer. */
function scaled(ms: number, zeros: string): string {
  return ms === 0 ? '0' : `${Math.trunc(ms)}${zeros}`;
}

/** JSON text of the `source` block (Debezium 3.6 order; origin/origin_lsn always null: no replication origins). */
export function serializeSource(t: SourceTemplate, info: SourceInfo): string {
  let c = t.last;
  if (c === undefined || c.commitTimeMs !== info.commitTimeMs || c.commitTimeUs !== info.commitTimeUs || c.xid !== info.xid || c.snapshot !== info.snapshot || c.lastCommitLsn !== info.lastCommitLsn) {
    c = sourceCache(t, info);
    t.last = c;
  }
  // source.sequence is a JSON string holding a JSON array: `"[\"<last>\",\"<lsn>\"]"` (LSN digits need no escaping).
  const lsn = info.lsn;
  const text = lsn.toString();
  return `${c.head}${text}${c.middle}${lsn <= MAX_EXACT ? text : Number(lsn)},"xmin":null,"origin":null,"origin_lsn":null}`;
}

/** Largest LSN whose JSON number text (`Number(lsn)`) is its exact decimal digits. */
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

function sourceCache(t: SourceTemplate, info: SourceInfo): SourceCache {
  const ms = info.commitTimeMs;
  const us = info.commitTimeUs === undefined ? scaled(ms, '000') : String(info.commitTimeUs);
  const last = info.lastCommitLsn === undefined || info.lastCommitLsn === null ? 'null' : `\\"${info.lastCommitLsn}\\"`;
  return {
    commitTimeMs: ms,
    commitTimeUs: info.commitTimeUs,
    xid: info.xid,
    snapshot: info.snapshot,
    lastCommitLsn: info.lastCommitLsn,
    head: `${t.head}${ms},"snapshot":"${info.snapshot}"${t.db}"[${last},\\"`,
    middle: `\\"]","ts_us":${us},"ts_ns":${scaled(Number(us), '000')}${t.table}${info.xid === null ? 'null' : info.xid},"lsn":`,
  };
}

export function serializeTransactionBlock(tx: TransactionBlock | null | undefined): string {
  if (!tx) return 'null';
  return `{"id":${JSON.stringify(tx.id)},"total_order":${tx.total_order},"data_collection_order":${tx.data_collection_order}}`;
}

/** JSON text of the envelope. `before`/`after` are row objects (or null). */
export function serializeEnvelope(
  before: Row | null,
  after: Row | null,
  sourceJson: string,
  op: Op,
  tsMs: number,
  tx: TransactionBlock | null | undefined,
): string {
  return (
    `{"before":${before === null ? 'null' : JSON.stringify(before)},"after":${after === null ? 'null' : JSON.stringify(after)}` +
    `,"source":${sourceJson},"transaction":${serializeTransactionBlock(tx)},"op":"${op}","ts_ms":${tsMs},"ts_us":${scaled(tsMs, '000')},"ts_ns":${scaled(tsMs, '000000')}}`
  );
}

/** Wraps a serialized payload the way JsonConverter does with schemas.enable=true. */
export function wrapWithSchema(schemaJson: string, payloadJson: string): string {
  return `{"schema":${schemaJson},"payload":${payloadJson}}`;
}
