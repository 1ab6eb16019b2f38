/**
 * Narrow adapter between the source pipeline and the events layer: one source change in, the Kafka
 * records out. The pipeline depends only on `RecordBuilder`; `createRecordBuilder` wires the events
 * layer's converters/envelope. (Until src/events/record.ts lands this holds a minimal fallback.)
 */
import type { Position } from '../events/change.js';
import { HEADERS, UNAVAILABLE_VALUE, formatLsn, type JsonValue, type Op, type Row } from '../events/change.js';
import { UNCHANGED_TOAST, type RawTuple, type RelationInfo, type RawValue } from '../events/types.js';
import type { KafkaRecord } from '../kafka/producer.js';

export interface SourceInfo {
  readonly position: Position;
  readonly xid: number | null;
  readonly commitTimeMs: number;
  /** LSN reported in source.lsn (the change's own LSN when known, else the commit LSN). */
  readonly lsn: bigint;
  readonly snapshot: 'false' | 'true' | 'last';
}

export type SourceChange =
  | { readonly op: 'c' | 'u' | 'd' | 'r'; readonly relation: RelationInfo; readonly before: RawTuple | null; readonly after: RawTuple | null; readonly source: SourceInfo }
  | { readonly op: 't'; readonly relation: RelationInfo; readonly source: SourceInfo }
  | { readonly op: 'm'; readonly prefix: string; readonly content: Buffer; readonly transactional: boolean; readonly source: SourceInfo };

export interface RecordBuilder {
  /** Kafka records for one change (a PK-changing update yields delete [+ tombstone] + create). */
  build(change: SourceChange): KafkaRecord[];
  /** Topic of a relation's data records (for topic creation). */
  topicFor(relation: Pick<RelationInfo, 'schema' | 'table'>): string;
  /** Topic of logical decoding messages. */
  readonly messageTopic: string;
}

export interface RecordBuilderOptions {
  readonly topicPrefix: string;
  readonly dbName: string;
  readonly version: string;
  readonly tombstonesOnDelete: boolean;
}

/** Minimal fallback (text/number/bool/json); replaced by the events layer's full converters. */
export function createRecordBuilder(opts: RecordBuilderOptions): RecordBuilder {
  const topicFor = (r: Pick<RelationInfo, 'schema' | 'table'>): string => `${opts.topicPrefix}.${r.schema}.${r.table}`;
  const messageTopic = `${opts.topicPrefix}.message`;
  const headers = (s: SourceInfo): Record<string, string> => ({ [HEADERS.commitLsn]: s.position.commitLsn.toString(), [HEADERS.seq]: String(s.position.seq) });
  const source = (s: SourceInfo, rel: { schema: string; table: string } | null): Record<string, JsonValue> => ({
    version: opts.version,
    connector: 'postgresql',
    name: opts.topicPrefix,
    ts_ms: s.commitTimeMs,
    snapshot: s.snapshot,
    db: opts.dbName,
    schema: rel?.schema ?? '',
    table: rel?.table ?? '',
    txId: s.xid,
    lsn: Number(s.lsn),
    sequence: JSON.stringify([formatLsn(s.position.commitLsn), formatLsn(s.lsn)]),
  });
  const row = (rel: RelationInfo, t: RawTuple | null): Row | null => {
    if (!t) return null;
    const out: Row = {};
    rel.columns.forEach((c, i) => (out[c.name] = convert(t[i] ?? null, c.type.kind)));
    return out;
  };
  const keyOf = (rel: RelationInfo, t: RawTuple): string => {
    const key: Row = {};
    const names = rel.keyColumns.length > 0 ? rel.keyColumns : rel.columns.map((c) => c.name);
    for (const n of names) {
      const i = rel.columns.findIndex((c) => c.name === n);
      if (i >= 0) key[n] = convert(t[i] ?? null, rel.columns[i]!.type.kind);
    }
    return JSON.stringify(key);
  };
  const envelope = (op: Op, before: Row | null, after: Row | null, s: SourceInfo, rel: RelationInfo | null): string =>
    JSON.stringify({ before, after, source: source(s, rel), op, ts_ms: Date.now(), transaction: null });

  return {
    topicFor,
    messageTopic,
    build(ch) {
      const h = headers(ch.source);
      if (ch.op === 'm') {
        const value = JSON.stringify({
          op: 'm',
          ts_ms: Date.now(),
          source: source(ch.source, null),
          message: { prefix: ch.prefix, content: ch.content.toString('base64') },
        });
        return [{ topic: messageTopic, key: null, value, headers: h }];
      }
      const topic = topicFor(ch.relation);
      if (ch.op === 't') return [{ topic, key: null, value: envelope('t', null, null, ch.source, ch.relation), headers: h }];
      const rel = ch.relation;
      const before = row(rel, ch.before);
      const after = row(rel, ch.after);
      if (ch.op === 'd') {
        const key = keyOf(rel, ch.before!);
        const out: KafkaRecord[] = [{ topic, key, value: envelope('d', before, null, ch.source, rel), headers: h }];
        if (opts.tombstonesOnDelete) out.push({ topic, key, value: null, headers: h });
        return out;
      }
      const key = keyOf(rel, ch.after!);
      if (ch.op === 'u' && ch.before) {
        const oldKey = keyOf(rel, ch.before);
        if (oldKey !== key) {
          const out: KafkaRecord[] = [{ topic, key: oldKey, value: envelope('d', before, null, ch.source, rel), headers: h }];
          if (opts.tombstonesOnDelete) out.push({ topic, key: oldKey, value: null, headers: h });
          out.push({ topic, key, value: envelope('c', null, after, ch.source, rel), headers: h });
          return out;
        }
      }
      return [{ topic, key, value: envelope(ch.op, before, after, ch.source, rel), headers: h }];
    },
  };
}

function convert(v: RawValue, kind: string): JsonValue {
  if (v === null) return null;
  if (v === UNCHANGED_TOAST) return UNAVAILABLE_VALUE;
  switch (kind) {
    case 'int2':
    case 'int4':
    case 'oid':
      return Number(v);
    case 'int8': {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : v;
    }
    case 'float4':
    case 'float8': {
      const n = Number(v);
      return Number.isFinite(n) ? n : v;
    }
    case 'bool':
      return v === 't';
    default:
      return v;
  }
}
