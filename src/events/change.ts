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

/** Value of the hex digits text[from, to) (1–8 of them), or -1 when there are none, too many or a non-hex character. */
function hexValue(text: string, from: number, to: number): number {
  if (to <= from || to - from > 8) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * Parses "X/Y" (1–8 hex digits each, as Postgres prints LSNs: `16/B374D848`) into a bigint; throws on
 * malformed input. Called once per replication message: no regex, no substrings, one BigInt while
 * the value fits a double exactly (below 2^53, i.e. X < 0x200000 — every LSN of a real server).
 */
export function parseLsn(text: string): bigint {
  const slash = text.indexOf('/');
  const hi = slash < 0 ? -1 : hexValue(text, 0, slash);
  const lo = hi < 0 ? -1 : hexValue(text, slash + 1, text.length);
  if (lo < 0) throw new Error(`not an LSN: "${text}" (expected hex "X/Y", e.g. 0/16B3748)`);
  return hi < 0x200000 ? BigInt(hi * 4294967296 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
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
