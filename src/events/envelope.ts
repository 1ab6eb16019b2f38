/**
 * The Debezium value envelope {before, after, source, op, ts_ms, transaction}, serialized by
 * string concatenation around JSON.stringify of the rows: the constant parts of `source` are
 * escaped once per relation, so the hot path does no per-event object building for them.
 */
import type { Op, Position, Row } from './change.js';

export type SnapshotMarker = 'true' | 'last' | 'false' | 'incremental';

/** Where an event comes from (the `source` block's per-event fields). */
export interface SourceInfo {
  /** The event's identity (commit LSN of its transaction / snapshot point, ordinal). */
  readonly position: Position;
  /** Postgres transaction id; null for snapshot rows and non-transactional messages. */
  readonly xid: number | null;
  /** Commit time of the transaction (snapshot: the snapshot's time), ms since epoch → source.ts_ms. */
  readonly commitTimeMs: number;
  /** The change's own LSN (source.lsn); the commit LSN when unknown. */
  readonly lsn: bigint;
  readonly snapshot: SnapshotMarker;
  /**
   * Commit LSN of the previous transaction (first element of source.sequence, like Debezium);
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

/** JSON text of the `source` block. */
export function serializeSource(t: SourceTemplate, info: SourceInfo): string {
  return (
    `${t.head}${info.commitTimeMs},"snapshot":"${info.snapshot}"${t.db}${JSON.stringify(sequenceOf(info))}` +
    `${t.table}${info.xid === null ? 'null' : info.xid},"lsn":${Number(info.lsn)},"xmin":null}`
  );
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
    `,"source":${sourceJson},"op":"${op}","ts_ms":${tsMs},"transaction":${serializeTransactionBlock(tx)}}`
  );
}

/** Wraps a serialized payload the way JsonConverter does with schemas.enable=true. */
export function wrapWithSchema(schemaJson: string, payloadJson: string): string {
  return `{"schema":${schemaJson},"payload":${payloadJson}}`;
}
