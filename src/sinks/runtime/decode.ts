/**
 * Kafka message → SinkRecord. Key: JSON (a `{schema, payload}` wrapper is unwrapped). Value: the
 * Debezium envelope (wrapper unwrapped), null = tombstone. Position from the `cdc.commit_lsn` /
 * `cdc.seq` headers; for messages without them (e.g. produced by Debezium itself) it falls back to
 * `source.lsn` and `transaction.total_order`, which is only as good as Debezium's own ordering.
 * A message that cannot be decoded becomes a rejected record for the error policy, never a throw.
 */
import { HEADERS, type Op, type Position, type Row } from '../../events/change.js';
import type { RawHeaders, RejectedRecord, SinkRecord, SourceInfo } from '../sink.js';

export interface RawMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly offset: string;
  readonly headers?: RawHeaders;
}

export type DecodeResult = { readonly ok: true; readonly record: SinkRecord } | { readonly ok: false; readonly rejected: RejectedRecord };

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const OPS: ReadonlySet<string> = new Set(['c', 'u', 'd', 'r', 't', 'm']);

function header(msg: RawMessage, name: string): string | undefined {
  const h = msg.headers?.[name];
  const v = Array.isArray(h) ? h[0] : h;
  return v === undefined ? undefined : v.toString();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Unwraps the Kafka Connect JsonConverter `{schema, payload}` form when present. */
function unwrap(v: unknown): unknown {
  if (isObject(v) && 'payload' in v && 'schema' in v && Object.keys(v).length === 2) return v.payload;
  return v;
}

function rowOrNull(v: unknown, what: string): Row | null {
  if (v === null || v === undefined) return null;
  if (!isObject(v)) throw new DecodeError(`${what} must be a JSON object or null`);
  return v as Row;
}

function positionOf(msg: RawMessage, envelope: Record<string, unknown> | null): Position {
  const lsn = header(msg, HEADERS.commitLsn);
  const seq = header(msg, HEADERS.seq);
  if (lsn !== undefined) {
    if (!/^\d+$/.test(lsn)) throw new DecodeError(`header ${HEADERS.commitLsn} must be a decimal LSN, got "${lsn}"`);
    const s = seq === undefined ? 0 : Number(seq);
    if (!Number.isSafeInteger(s) || s < 0) throw new DecodeError(`header ${HEADERS.seq} must be a non-negative integer, got "${seq}"`);
    return { commitLsn: BigInt(lsn), seq: s };
  }
  const source = envelope && isObject(envelope.source) ? envelope.source : null;
  const tx = envelope && isObject(envelope.transaction) ? envelope.transaction : null;
  const srcLsn = source?.lsn;
  const order = tx?.total_order;
  return {
    commitLsn: typeof srcLsn === 'number' && Number.isSafeInteger(srcLsn) ? BigInt(srcLsn) : 0n,
    seq: typeof order === 'number' && Number.isSafeInteger(order) ? order : 0,
  };
}

// Runs once per Kafka message per sink: no closures created per call (under tsx each one also costs
// a keepNames `__name` call — 0.6 % of the daemon's CPU in bench:e2e).
export function decodeMessage(topic: string, partition: number, msg: RawMessage): DecodeResult {
  const base = {
    topic,
    partition,
    offset: msg.offset,
    raw: msg.headers ? { key: msg.key, value: msg.value, headers: msg.headers } : { key: msg.key, value: msg.value },
  };
  try {
    let key: Row | null = null;
    if (msg.key !== null && msg.key.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(msg.key.toString('utf8'));
      } catch (e) {
        throw new DecodeError(`key is not JSON: ${(e as Error).message}`);
      }
      key = rowOrNull(unwrap(parsed), 'key');
    }
    if (msg.value === null || msg.value.length === 0) {
      return { ok: true, record: { ...base, key, op: null, before: null, after: null, source: null, position: positionOf(msg, null) } };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(msg.value.toString('utf8'));
    } catch (e) {
      throw new DecodeError(`value is not JSON: ${(e as Error).message}`);
    }
    const envelope = unwrap(parsed);
    if (!isObject(envelope)) throw new DecodeError('value is not a Debezium envelope (expected a JSON object with before/after/source/op)');
    const op = envelope.op;
    if (typeof op !== 'string' || !OPS.has(op)) throw new DecodeError(`envelope "op" must be one of c,u,d,r,t,m, got ${JSON.stringify(op)}`);
    const source = envelope.source;
    if (!isObject(source) || typeof source.schema !== 'string' || typeof source.table !== 'string') {
      if (op !== 'm') throw new DecodeError('envelope "source" must be an object with string "schema" and "table"');
    }
    return {
      ok: true,
      record: {
        ...base,
        key,
        op: op as Op,
        before: rowOrNull(envelope.before, 'envelope "before"'),
        after: rowOrNull(envelope.after, 'envelope "after"'),
        source: isObject(source) ? (source as SourceInfo) : null,
        position: positionOf(msg, envelope),
      },
    };
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    return { ok: false, rejected: { record: { ...base, key: null, op: null, before: null, after: null, source: null, position: { commitLsn: 0n, seq: 0 } }, error } };
  }
}
