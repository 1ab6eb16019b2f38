/**
 * Offsets in Elasticsearch: one document per (consumer group, topic, partition) in the checkpoint index,
 * written by commit() after the batch's bulk was acknowledged (an acknowledged write is durable:
 * the translog is fsynced per request by default), read back with a realtime mget on assignment.
 */
import type { Client } from '@elastic/elasticsearch';
import type { Position } from '../../events/change.js';
import { SinkError, type PartitionOffset, type TopicPartition } from '../sink.js';
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

export class CheckpointStore {
  constructor(
    private readonly client: Client,
    private readonly index: string,
    /** The sink's consumer group id (groupIdOf): whose offsets these are. */
    private readonly group: string,
    private readonly url: string,
  ) {}

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
      retriable: status === 429 || status >= 500,
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
        }
      }
      return out;
    } catch (error) {
      // No checkpoint index (deleted since open): nothing was ever stored, start where Kafka says.
      if (responseErrorType(error) === 'index_not_found_exception') return [];
      throw toSinkError(error, `reading offsets from ${this.index}`, this.url);
    }
  }

  async store(offsets: readonly PartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const now = new Date().toISOString();
    const operations = offsets.flatMap((o) => [
      { index: { _index: this.index, _id: this.id(o) } },
      { group: this.group, topic: o.topic, partition: o.partition, offset: o.offset, updated_at: now } satisfies CheckpointDoc,
    ]);
    let response;
    try {
      response = await this.client.bulk({ operations, filter_path: 'errors,items.*.status,items.*.error' });
    } catch (error) {
      throw toSinkError(error, `writing offsets to ${this.index}`, this.url);
    }
    if (response.errors) {
      const item = response.items.find((i) => i.index?.error)?.index;
      const status = item?.status ?? 0;
      throw new SinkError(`Elasticsearch writing offsets to ${this.index} failed: ${item?.error?.type ?? 'error'}: ${item?.error?.reason ?? 'unknown'}`, {
        retriable: status === 429 || status >= 500,
      });
    }
  }
}
