/**
 * Test builders for the sink side: SinkRecord / SinkBatch as the runtime hands them to a sink, and raw
 * Kafka messages (JSON key, Debezium envelope value, cdc.* position headers) as the source publishes
 * them. Shared by the conformance suite, the runtime tests and every sink's tests.
 */
import type { Op, Position, Row } from '../../src/events/change.js';
import { HEADERS } from '../../src/events/change.js';
import type { SinkBatch, SinkRecord, SourceInfo } from '../../src/sinks/sink.js';

export interface ChangeSpec {
  /** Table name; schema defaults to `public`. */
  readonly table: string;
  readonly schema?: string;
  readonly op: Op;
  readonly before?: Row | null;
  readonly after?: Row | null;
  /** Event position; a number/bigint is taken as the commit LSN with seq 0. */
  readonly position: Position | bigint | number;
  /** Key row; default: the `keyColumns` picked from after ?? before. Null for truncate. */
  readonly key?: Row | null;
  /** Primary-key columns used to derive the key (default `['id']`). */
  readonly keyColumns?: readonly string[];
  /** Commit time in ms (source.ts_ms); default Date.now(). */
  readonly tsMs?: number;
  /** Debezium `topic.prefix` (source.name, topic name); default `test`. */
  readonly prefix?: string;
}

export function pos(commitLsn: bigint | number, seq = 0): Position {
  return { commitLsn: BigInt(commitLsn), seq };
}

function toPosition(p: ChangeSpec['position']): Position {
  return typeof p === 'bigint' || typeof p === 'number' ? pos(p) : p;
}

/** Topic name the source uses for a table: `<prefix>.<schema>.<table>`. */
export function topicFor(table: string, schema = 'public', prefix = 'test'): string {
  return `${prefix}.${schema}.${table}`;
}

export function keyOf(spec: ChangeSpec): Row | null {
  if (spec.key !== undefined) return spec.key;
  if (spec.op === 't') return null;
  const row = spec.after ?? spec.before;
  if (!row) return null;
  const key: Row = {};
  for (const c of spec.keyColumns ?? ['id']) key[c] = row[c] ?? null;
  return key;
}

export function sourceOf(spec: ChangeSpec): SourceInfo {
  const position = toPosition(spec.position);
  return {
    version: '0.1.0',
    connector: 'postgresql',
    name: spec.prefix ?? 'test',
    ts_ms: spec.tsMs ?? Date.now(),
    snapshot: spec.op === 'r' ? 'true' : 'false',
    db: 'postgres',
    schema: spec.schema ?? 'public',
    table: spec.table,
    txId: 1000,
    lsn: Number(position.commitLsn),
  };
}

/** The Debezium envelope value for a change (no Connect schema wrapper). */
export function envelopeOf(spec: ChangeSpec): Record<string, unknown> {
  const position = toPosition(spec.position);
  return {
    before: spec.before ?? null,
    after: spec.after ?? null,
    source: sourceOf(spec),
    op: spec.op,
    ts_ms: Date.now(),
    transaction: { id: `1000:${position.commitLsn}`, total_order: position.seq + 1, data_collection_order: position.seq + 1 },
  };
}

/** A SinkRecord as the runtime decodes it. `partition`/`offset` default to 0/"0". */
export function sinkRecord(spec: ChangeSpec, at: { topic?: string; partition?: number; offset?: string | number } = {}): SinkRecord {
  const key = keyOf(spec);
  const envelope = envelopeOf(spec);
  return {
    topic: at.topic ?? topicFor(spec.table, spec.schema, spec.prefix),
    partition: at.partition ?? 0,
    offset: String(at.offset ?? 0),
    key,
    op: spec.op,
    before: spec.before ?? null,
    after: spec.after ?? null,
    source: sourceOf(spec),
    position: toPosition(spec.position),
    raw: { key: key ? Buffer.from(JSON.stringify(key)) : null, value: Buffer.from(JSON.stringify(envelope)) },
  };
}

/** A tombstone (null value) for a key, as follows a delete. */
export function tombstoneRecord(table: string, key: Row, position: Position | bigint | number, at: { topic?: string; partition?: number; offset?: string | number } = {}): SinkRecord {
  return {
    topic: at.topic ?? topicFor(table),
    partition: at.partition ?? 0,
    offset: String(at.offset ?? 0),
    key,
    op: null,
    before: null,
    after: null,
    source: null,
    position: toPosition(position),
    raw: { key: Buffer.from(JSON.stringify(key)), value: null },
  };
}

/**
 * A batch for one partition. Records keep their own topic but get consecutive offsets from
 * `firstOffset` (default 0) and the batch's partition.
 */
export function sinkBatch(records: readonly SinkRecord[], opts: { topic?: string; partition?: number; firstOffset?: number } = {}): SinkBatch {
  const topic = opts.topic ?? records[0]?.topic ?? topicFor('t');
  const partition = opts.partition ?? 0;
  const first = opts.firstOffset ?? 0;
  return {
    topic,
    partition,
    records: records.map((r, i) => ({ ...r, topic, partition, offset: String(first + i) })),
  };
}

/** Next offset after a batch (last offset + 1), as the runtime commits it. */
export function nextOffset(batch: SinkBatch): string {
  const last = batch.records[batch.records.length - 1];
  if (!last) throw new Error('empty batch has no next offset');
  return (BigInt(last.offset) + 1n).toString();
}

export interface KafkaTestMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** ms since epoch, as a string (kafkajs style). */
  timestamp?: string;
}

/**
 * A raw Kafka message as the source publishes it: key JSON, Debezium envelope value (optionally wrapped
 * in `{schema, payload}` like the JsonConverter with schemas.enable=true), position headers.
 */
export function debeziumMessage(spec: ChangeSpec, opts: { schemas?: boolean } = {}): KafkaTestMessage {
  const position = toPosition(spec.position);
  const key = keyOf(spec);
  const envelope = envelopeOf(spec);
  const value = opts.schemas ? { schema: { type: 'struct', name: `${spec.prefix ?? 'test'}.Envelope`, optional: false, fields: [] }, payload: envelope } : envelope;
  return {
    key: key ? Buffer.from(JSON.stringify(opts.schemas ? { schema: { type: 'struct', fields: [] }, payload: key } : key)) : null,
    value: Buffer.from(JSON.stringify(value)),
    headers: { [HEADERS.commitLsn]: position.commitLsn.toString(), [HEADERS.seq]: String(position.seq) },
  };
}

/** The tombstone message that follows a delete. */
export function tombstoneMessage(key: Row, position: Position | bigint | number): KafkaTestMessage {
  const p = toPosition(position);
  return { key: Buffer.from(JSON.stringify(key)), value: null, headers: { [HEADERS.commitLsn]: p.commitLsn.toString(), [HEADERS.seq]: String(p.seq) } };
}
