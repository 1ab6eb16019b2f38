/**
 * What the conformance suite and its kill -9 child (conformance-child.ts) share, without vitest: the
 * conformance table, and the stream of batches the atomicity and reset checks apply — the child
 * writes it until it is killed, the parent replays it from the stored offset and reconciles.
 */
import type { Row } from '../../src/events/change.js';
import type { SinkBatch } from '../../src/sinks/sink.js';
import { pos, sinkBatch, sinkRecord, topicFor } from '../support/records.js';

export const CONFORMANCE = {
  prefix: 'conf',
  schema: 'public',
  table: 'conf_items',
  /** Topic of the conformance table. */
  get topic(): string {
    return topicFor(this.table, this.schema, this.prefix);
  },
} as const;

/** Rows of the stream: every record inserts a new id; each batch also updates the hot row 0. */
export const STREAM = { batches: 12, perBatch: 150 } as const;

const streamRow = (id: number, name: string): Row => ({ id, name, bio: `bio of ${id}`, n: id * 10 });

/** Batch `k` of the stream on partition 0, at offsets k·(perBatch+1) …; positions grow with offsets. */
export function streamBatch(k: number): SinkBatch {
  const size = STREAM.perBatch + 1;
  const first = k * size;
  const at = (i: number): ReturnType<typeof pos> => pos(10_000 + first + i, 0);
  const records = [];
  for (let i = 0; i < STREAM.perBatch; i++) {
    const id = 1 + first + i;
    records.push(sinkRecord({ table: CONFORMANCE.table, schema: CONFORMANCE.schema, prefix: CONFORMANCE.prefix, op: 'c', after: streamRow(id, `row ${id}`), position: at(i) }));
  }
  const hot = k === 0 ? { op: 'c' as const, before: null } : { op: 'u' as const, before: streamRow(0, `hot ${k - 1}`) };
  records.push(sinkRecord({ table: CONFORMANCE.table, schema: CONFORMANCE.schema, prefix: CONFORMANCE.prefix, ...hot, after: streamRow(0, `hot ${k}`), position: at(STREAM.perBatch) }));
  return sinkBatch(records, { topic: CONFORMANCE.topic, partition: 0, firstOffset: first });
}

/** The batch holding offset `offset` (the replay restarts at its start: offsets are batch-aligned when committed). */
export const batchAt = (offset: number): number => Math.floor(offset / (STREAM.perBatch + 1));

/** The rows the first `offset` records of the stream leave (keyed like readState: JSON.stringify({id})). */
export function streamState(offset: number): Map<string, Row> {
  const out = new Map<string, Row>();
  for (let k = 0; k < STREAM.batches; k++) {
    for (const r of streamBatch(k).records) {
      if (Number(r.offset) >= offset) return out;
      if (r.after) out.set(JSON.stringify({ id: r.after.id }), r.after);
    }
  }
  return out;
}

/** Offset after the whole stream. */
export const STREAM_END = STREAM.batches * (STREAM.perBatch + 1);

/** How the kill -9 child builds the same sink as the harness: through its registered plugin. */
export interface ChildSinkSpec {
  readonly type: string;
  /** The sink's own config fields (its spec parses them). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly pipeline: string;
  readonly sinkName: string;
  readonly groupId?: string;
  /** The sink keeps its offsets in Kafka (the default store): the child passes the stack's Kafka settings. */
  readonly kafka?: boolean;
}
