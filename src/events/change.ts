/**
 * The neutral change model: what the source emits after decoding pgoutput and converting values.
 * Nothing downstream of the decoder sees pgoutput types; everything downstream sees these.
 *
 * Position is an event's identity everywhere (see README "Guarantees"):
 *   (commitLsn, seq) — the commit LSN of its Postgres transaction and its ordinal inside it.
 * Positions strictly increase along the stream. Snapshot rows use the slot's consistent-point LSN
 * as commitLsn and their row ordinal as seq, so any later streamed change wins.
 */
export type Op = 'c' | 'u' | 'd' | 'r' | 't' | 'm';

export interface Position {
  /** Commit LSN of the transaction (or the snapshot's consistent point), as an unsigned 64-bit integer. */
  readonly commitLsn: bigint;
  /** Ordinal of the event inside its transaction / snapshot chunk, starting at 0. */
  readonly seq: number;
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commitLsn !== b.commitLsn) return a.commitLsn < b.commitLsn ? -1 : 1;
  return a.seq - b.seq;
}

/** Formats an LSN the way Postgres prints it: `16/B374D848`. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Parses `16/B374D848` into a bigint; throws on malformed input. */
const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** Parses "X/Y" (hex). Called once per replication message, so no regex captures or string BigInts. */
export function parseLsn(text: string): bigint {
  if (!LSN.test(text)) throw new Error(`not an LSN: "${text}" (expected hex "X/Y", e.g. 0/16B3748)`);
  const slash = text.indexOf('/');
  return (BigInt(parseInt(text.slice(0, slash), 16)) << 32n) | BigInt(parseInt(text.slice(slash + 1), 16));
}

/** A JSON value as it appears in event payloads after value conversion. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type Row = Record<string, JsonValue>;

/**
 * Placeholder Debezium writes for an unchanged TOASTed column (no REPLICA IDENTITY FULL).
 * Sinks must keep their stored value for such a column, never write the placeholder.
 */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

/** Kafka record headers cdc-fanout adds beside the Debezium envelope (Debezium consumers ignore them). */
export const HEADERS = {
  /** Commit LSN of the event's transaction, decimal string. Sinks use it as the row version. */
  commitLsn: 'cdc.commit_lsn',
  /** Ordinal inside the transaction, decimal string. */
  seq: 'cdc.seq',
} as const;
