/**
 * Offsets in Elasticsearch: one document per (consumer group, topic, partition) in the checkpoint index,
 * written by commit() after the batch's bulk was acknowledged (an acknowledged write is durable:
 * the translog is fsynced per request by default), read back with a realtime mget on assignment.
 *
 * Implements `OffsetStore` (src/sinks/sink.ts) with its invariants:
 *   M. A commit at or below what this process last stored or loaded for a partition is ignored (no
 *      write). Each write is conditional on the `_seq_no`/`_primary_term` last seen for the doc
 *      (optimistic concurrency, no extra round trip); a conflict means someone else changed it — or
 *      it is gone (checkpoint index deleted or restored from an older snapshot). The doc is then
 *      read: behind or missing → OffsetsRegressedError (the runner re-seeks and replays the lost
 *      range); at or beyond our offset (another owner of the partition went further) → ignored (M);
 *      between (another owner, not as far) → written unconditionally.
 *   A. The sink calls commit only after the bulk of the batch was acknowledged; documents are
 *      versioned (`external_gte`), so the replay after a crash in between changes nothing.
 *   R. `reset(to)` writes the given offsets unconditionally, backwards included.
 */
import type { Client } from '@elastic/elasticsearch';
import type { Position } from '../../events/change.js';
import { isTransientStatus } from '../kit/index.js';
import { OffsetsRegressedError, SinkError, type OffsetStore, type PartitionOffset, type RegressedPartition, type TopicPartition } from '../sink.js';
import { responseErrorType, toSinkError } from './errors.js';

interface CheckpointDoc {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly updated_at: string;
}

const TRUNCATE_FIELDS = {
  truncate_index: { type: 'keyword' },
  truncate_lsn: { type: 'keyword' },
  truncate_seq: { type: 'integer' },
} as const;

interface TruncateMarkDoc {
  readonly truncate_index: string;
  readonly truncate_lsn: string;
  readonly truncate_seq: number;
  readonly updated_at: string;
}

const markId = (index: string): string => `truncate|${index}`;

/** What this process last stored or loaded for a checkpoint doc. */
interface Known {
  readonly offset: string;
  readonly seqNo: number | undefined;
  readonly primaryTerm: number | undefined;
}

interface BulkItem {
  _id?: string;
  status: number;
  _seq_no?: number;
  _primary_term?: number;
  error?: { type?: string; reason?: string };
}

export class CheckpointStore implements OffsetStore {
  constructor(
    private readonly client: Client,
    private readonly index: string,
    /** The sink's consumer group id (groupIdOf): whose offsets these are. */
    private readonly group: string,
    private readonly url: string,
  ) {}

  private readonly known = new Map<string, Known>();

  private id(tp: TopicPartition): string {
    return `${this.group}|${tp.topic}|${tp.partition}`;
  }

  async ensureIndex(): Promise<void> {
    try {
      await this.client.indices.create({
        index: this.index,
        settings: { number_of_shards: 1, auto_expand_replicas: '0-1' },
        mappings: {
          dynamic: 'strict',
          properties: {
            group: { type: 'keyword' },
            topic: { type: 'keyword' },
            partition: { type: 'integer' },
            offset: { type: 'keyword' },
            updated_at: { type: 'date' },
            ...TRUNCATE_FIELDS,
          },
        },
      });
    } catch (error) {
      if (responseErrorType(error) !== 'resource_already_exists_exception') throw toSinkError(error, `creating checkpoint index ${this.index}`, this.url);
      // An index created by an earlier version lacks the truncate-mark fields: adding fields is allowed.
      try {
        await this.client.indices.putMapping({ index: this.index, properties: TRUNCATE_FIELDS });
      } catch (e) {
        throw toSinkError(e, `updating the mapping of checkpoint index ${this.index}`, this.url);
      }
    }
  }

  /**
   * Truncate marks: per data index, the position of the last truncate applied. A change of that
   * table at an earlier position is stale even when no document is there to refuse it (the row's
   * insert may sit on a lagging partition). Raised with external_gte on the commit LSN, so a
   * replayed older truncate never lowers it.
   */
  async loadTruncateMarks(indices: readonly string[]): Promise<Map<string, Position>> {
    const out = new Map<string, Position>();
    if (indices.length === 0) return out;
    try {
      const response = await this.client.mget<TruncateMarkDoc>({ index: this.index, ids: indices.map(markId), realtime: true });
      for (const doc of response.docs) {
        if ('found' in doc && doc.found && doc._source) {
          out.set(doc._source.truncate_index, { commitLsn: BigInt(doc._source.truncate_lsn), seq: doc._source.truncate_seq });
        }
      }
      return out;
    } catch (error) {
      if (responseErrorType(error) === 'index_not_found_exception') return out;
      throw toSinkError(error, `reading truncate marks from ${this.index}`, this.url);
    }
  }

  async storeTruncateMark(index: string, position: Position): Promise<void> {
    const body = `{"index":{"_index":${JSON.stringify(this.index)},"_id":${JSON.stringify(markId(index))},"version":${position.commitLsn.toString()},"version_type":"external_gte"}}\n${JSON.stringify({
      truncate_index: index,
      truncate_lsn: position.commitLsn.toString(),
      truncate_seq: position.seq,
      updated_at: new Date().toISOString(),
    } satisfies TruncateMarkDoc)}\n`;
    let response: { errors?: boolean; items?: { index?: { status: number; error?: { type?: string; reason?: string } } }[] };
    try {
      response = await this.client.transport.request({ method: 'POST', path: '/_bulk', querystring: { filter_path: 'errors,items.*.status,items.*.error' }, bulkBody: body });
    } catch (error) {
      throw toSinkError(error, `writing the truncate mark of ${index}`, this.url);
    }
    const item = response.items?.[0]?.index;
    if (!response.errors || item?.status === 409) return; // 409: a newer truncate is already marked
    const status = item?.status ?? 0;
    throw new SinkError(`Elasticsearch writing the truncate mark of ${index} failed: ${item?.error?.type ?? 'error'}: ${item?.error?.reason ?? 'unknown'}`, {
      retriable: isTransientStatus(status),
    });
  }

  async load(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]> {
    if (partitions.length === 0) return [];
    try {
      const response = await this.client.mget<CheckpointDoc>({
        index: this.index,
        ids: partitions.map((tp) => this.id(tp)),
        realtime: true,
      });
      const out: PartitionOffset[] = [];
      for (const doc of response.docs) {
        if ('found' in doc && doc.found && doc._source) {
          out.push({ topic: doc._source.topic, partition: doc._source.partition, offset: doc._source.offset });
          this.known.set(doc._id, { offset: doc._source.offset, seqNo: doc._seq_no, primaryTerm: doc._primary_term });
        } else {
          this.known.delete(doc._id);
        }
      }
      return out;
    } catch (error) {
      // No checkpoint index (deleted since open): nothing stored, start where Kafka says (the runner
      // replays from the earliest offset if its group consumed the partition before).
      if (responseErrorType(error) === 'index_not_found_exception') {
        for (const tp of partitions) this.known.delete(this.id(tp));
        return [];
      }
      throw toSinkError(error, `reading offsets from ${this.index}`, this.url);
    }
  }

  /** INVARIANT M: offsets at or below what this process stored or loaded are ignored. */
  commit(offsets: readonly PartitionOffset[]): Promise<void> {
    return this.store(
      offsets.filter((o) => {
        const k = this.known.get(this.id(o));
        return k === undefined || BigInt(o.offset) > BigInt(k.offset);
      }),
    );
  }

  /** INVARIANT R: exactly these offsets, backwards included. */
  reset(to: readonly PartitionOffset[]): Promise<void> {
    return this.store(to, true);
  }

  private async store(offsets: readonly PartitionOffset[], unconditional = false): Promise<void> {
    if (offsets.length === 0) return;
    const now = new Date().toISOString();
    const operations = offsets.flatMap((o) => {
      const k = unconditional ? undefined : this.known.get(this.id(o));
      const cond = k?.seqNo !== undefined && k.primaryTerm !== undefined ? { if_seq_no: k.seqNo, if_primary_term: k.primaryTerm } : {};
      return [
        { index: { _index: this.index, _id: this.id(o), ...cond } },
        { group: this.group, topic: o.topic, partition: o.partition, offset: o.offset, updated_at: now } satisfies CheckpointDoc,
      ];
    });
    let response: { errors: boolean; items: { index?: BulkItem }[] };
    try {
      response = (await this.client.bulk({ operations, filter_path: 'errors,items.*._id,items.*.status,items.*.error,items.*._seq_no,items.*._primary_term' })) as typeof response;
    } catch (error) {
      throw toSinkError(error, `writing offsets to ${this.index}`, this.url);
    }
    const conflicts: PartitionOffset[] = [];
    offsets.forEach((o, i) => {
      const item = response.items[i]?.index;
      if (item && !item.error) this.known.set(this.id(o), { offset: o.offset, seqNo: item._seq_no, primaryTerm: item._primary_term });
      else if (item?.status === 409 && !unconditional) conflicts.push(o);
    });
    if (conflicts.length > 0) await this.resolveConflicts(conflicts);
    if (response.errors && response.items.some((i) => i.index?.error && i.index.status !== 409)) {
      const item = response.items.find((i) => i.index?.error && i.index.status !== 409)?.index;
      const status = item?.status ?? 0;
      throw new SinkError(`Elasticsearch writing offsets to ${this.index} failed: ${item?.error?.type ?? 'error'}: ${item?.error?.reason ?? 'unknown'}`, {
        retriable: isTransientStatus(status),
      });
    }
  }

  /** A conditional checkpoint write conflicted: regressed (behind/missing) → OffsetsRegressedError; at/after ours → ignored (M); between → written. */
  private async resolveConflicts(conflicts: readonly PartitionOffset[]): Promise<void> {
    const expected = new Map(conflicts.map((o) => [this.id(o), this.known.get(this.id(o))?.offset]));
    let stored: Map<string, string>;
    const seen = new Map<string, Known>();
    try {
      const response = await this.client.mget<CheckpointDoc>({ index: this.index, ids: conflicts.map((o) => this.id(o)), realtime: true });
      stored = new Map(response.docs.flatMap((d) => ('found' in d && d.found && d._source ? [[d._id, d._source.offset] as const] : [])));
      for (const d of response.docs) if ('found' in d && d.found && d._source) seen.set(d._id, { offset: d._source.offset, seqNo: d._seq_no, primaryTerm: d._primary_term });
    } catch (error) {
      if (responseErrorType(error) !== 'index_not_found_exception') throw toSinkError(error, `reading offsets from ${this.index}`, this.url);
      stored = new Map();
    }
    const regressed: RegressedPartition[] = [];
    const ahead: PartitionOffset[] = [];
    for (const o of conflicts) {
      const id = this.id(o);
      const was = expected.get(id);
      const now = stored.get(id) ?? null;
      const doc = seen.get(id);
      if (was !== undefined && (now === null || BigInt(now) < BigInt(was))) regressed.push({ topic: o.topic, partition: o.partition, stored: now, expected: was });
      else if (now !== null && doc && BigInt(now) >= BigInt(o.offset)) this.known.set(id, doc); // M: already at or beyond ours
      else ahead.push(o);
    }
    for (const r of regressed) this.known.delete(this.id(r));
    if (ahead.length > 0) await this.store(ahead, true);
    if (regressed.length > 0) {
      throw new OffsetsRegressedError(
        `Elasticsearch checkpoint index ${this.index} lost offsets (${regressed.map((r) => `${r.topic}/${r.partition}: stored ${r.stored ?? 'missing'}, last committed ${r.expected}`).join('; ')}): ` +
          'the index or its documents were deleted, or restored from an older snapshot. Replaying the lost range from Kafka.',
        regressed,
      );
    }
  }
}
