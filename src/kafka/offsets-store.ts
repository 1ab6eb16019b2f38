/**
 * The source's durable state in Kafka: a compacted, single-partition topic holding, per connector,
 *  - its committed position `{connector, last_commit_lsn, last_seq, snapshot, flushed_lsn}`
 *    (key = connector name), written inside the same Kafka transaction as the events it covers, so
 *    it is exactly as durable as they are;
 *  - its slot ownership record (key = `<connector>:slot-owner`; ":" cannot occur in a connector
 *    name), written in its own Kafka transaction right after the pipeline created (or adopted /
 *    took over) the slot, before any data of that slot is published;
 *  - its table lifecycle record (key = `<connector>:tables`, see src/source/table-lifecycle.ts): the
 *    tables it captures and those that joined the selection and still need their snapshot, plus
 *    that snapshot's chunk checkpoint — written before a table is added to the publication, and
 *    with every chunk of the snapshot in the same Kafka transaction as the chunk's rows.
 * All are read back with read_committed.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { KafkaRecord } from './producer.js';

/** Snapshot progress checkpoint (present while a snapshot is running or was interrupted). */
export interface SnapshotCheckpoint {
  /** Consistent point of the (first) exported snapshot, `X/Y`; every snapshot row's version. */
  readonly consistent_lsn: string;
  /** Tables done, `schema.table`. */
  readonly tables_done: readonly string[];
  /** Table in progress and the raw text of the last primary key written (keyset resume). */
  readonly table: string | null;
  readonly last_key: readonly string[] | null;
  /** Next snapshot row ordinal (seq) to use. */
  readonly next_seq: number;
  readonly completed: boolean;
  /** Chunk plan and progress of `table` (chunked snapshots); absent in checkpoints of older versions. */
  readonly chunks?: ChunkCheckpoint | null;
}

/**
 * The chunks of the table in progress and which are done: what a resumed snapshot skips. Chunk i
 * of a `key` plan holds the primary keys in [bounds[i-1], bounds[i]) (chunk 0 from `after`,
 * exclusive, or the start; the last one open-ended); of a `ctid` plan the heap blocks
 * [i × blocks_per_chunk, (i+1) × blocks_per_chunk) (the last one open-ended).
 */
export interface ChunkCheckpoint {
  readonly kind: 'key' | 'ctid';
  readonly count: number;
  readonly bounds: readonly (readonly string[])[];
  readonly after: readonly string[] | null;
  readonly blocks_per_chunk: number;
  /** Every chunk below this index is done. */
  readonly done_below: number;
  /** Done chunks at or above done_below. */
  readonly done: readonly number[];
  /** Chunks partly written (key plans): chunk index → raw text of the last key written. */
  readonly partial: Readonly<Record<string, readonly string[]>>;
}

export interface StoredOffset {
  readonly connector: string;
  /** `X/Y` commit LSN of the last whole transaction (or snapshot point) committed to Kafka. */
  readonly last_commit_lsn: string;
  /** Seq of the last event of that transaction committed (-1: none). */
  readonly last_seq: number;
  readonly snapshot: SnapshotCheckpoint | null;
  /**
   * Idle watermark `X/Y`: every change at or below it is in Kafka (or was not ours). Written when
   * the slot is confirmed past the last data transaction while captured tables are idle, in its own
   * Kafka transaction *before* that LSN is confirmed to Postgres — so the slot's confirmed_flush_lsn
   * never passes max(last_commit_lsn, flushed_lsn) and a slot that did is provably ahead of us.
   */
  readonly flushed_lsn?: string;
  /**
   * The incremental snapshot's state (src/source/incremental-snapshot.ts), as of the last change the
   * stream committed: written with every position record, so a chunk's rows and the progress past
   * it are committed together. Absent: none was ever started.
   */
  readonly incremental?: IncrementalCheckpoint | null;
  /**
   * Timeline of the server the position was read from (IDENTIFY_SYSTEM when the source started).
   * A start on a server whose history left this timeline below the position is a gap
   * (slot-ownership.ts). Absent in records written before it existed.
   */
  readonly timeline?: number;
}

/** An incremental snapshot: what is left, where it is, whether it is paused. */
export interface IncrementalCheckpoint {
  readonly id: string;
  /** Tables still to read, the one in progress first (`schema.table`). */
  readonly tables: readonly string[];
  /** Per table: the `additional-conditions` filter (SQL boolean expression) limiting the rows read. */
  readonly conditions: Readonly<Record<string, string>>;
  /** Raw text of the last key read in tables[0] (null: from the start). */
  readonly last_key: readonly string[] | null;
  /** Raw text of tables[0]'s largest key when its first chunk was read (rows above it are only streamed). */
  readonly max_key: readonly string[] | null;
  readonly paused: boolean;
  /** Rows emitted so far, and the estimate of all rows (pg_class.reltuples at start). */
  readonly rows: number;
  readonly estimated: number;
  readonly started_at: string;
  /** Set when every table is done or the snapshot was stopped. */
  readonly finished: 'done' | 'stopped' | null;
}

/** Who created (or adopted / took over) the replication slot this pipeline streams from. */
export interface SlotOwnership {
  readonly pipeline: string;
  readonly slot: string;
  /** Database system identifier (IDENTIFY_SYSTEM), decimal string; a restored or other cluster differs. */
  readonly system_id: string;
  readonly database: string;
  /** `X/Y`: the slot's consistent point when created, or its confirmed_flush_lsn when adopted / taken over. */
  readonly created_lsn: string;
  /** ISO timestamp. */
  readonly created_at: string;
  readonly how: 'created' | 'adopted' | 'taken_over';
}

/** A captured table as the lifecycle record knows it: name and oid (a dropped and recreated table has a new oid). */
export interface TrackedTable {
  /** `schema.table`. */
  readonly table: string;
  readonly oid: number;
}

/**
 * The table lifecycle record (key `<connector>:tables`). It is a StoredOffset too (its
 * `connector` is the key), so the source's Snapshotter/Publisher write it as a chunk checkpoint
 * without knowing about it: `snapshot` is the checkpoint of the run over `run`.
 */
export interface TablesRecord extends StoredOffset {
  /** Tables the pipeline captures (selected by the include/exclude lists), as of this record. */
  readonly captured: readonly TrackedTable[];
  /** Tables that joined the selection and whose existing rows are not (all) in Kafka yet. */
  readonly pending: readonly string[];
  /** Tables of the snapshot run the `snapshot` checkpoint belongs to; null when none is running. */
  readonly run: readonly string[] | null;
  /** Tables that left the selection whose TRUNCATE event (table.removal.mode=truncate) is not published yet. */
  readonly removing?: readonly string[];
}

export const tablesKey = (connector: string): string => `${connector}:tables`;

export function tablesRecord(topic: string, record: TablesRecord): KafkaRecord {
  return { topic, key: record.connector, value: JSON.stringify(record) };
}

export const ownershipKey = (connector: string): string => `${connector}:slot-owner`;

export function ownershipRecord(topic: string, owner: SlotOwnership): KafkaRecord {
  return { topic, key: ownershipKey(owner.pipeline), value: JSON.stringify(owner) };
}

/** Everything the offsets topic holds for one connector, plus other pipelines' slot claims in it. */
export interface PipelineState {
  readonly offset: StoredOffset | null;
  readonly owner: SlotOwnership | null;
  /** Latest ownership record of every *other* connector in the same topic. */
  readonly otherOwners: readonly SlotOwnership[];
  /** The table lifecycle record (null: none written yet, e.g. a pipeline from before it existed). */
  readonly tables: TablesRecord | null;
}

export function offsetRecord(topic: string, offset: StoredOffset): KafkaRecord {
  return { topic, key: offset.connector, value: JSON.stringify(offset) };
}

/**
 * Reads the offsets topic from the beginning to its end (read_committed) and returns the last
 * record for `connector`. Call it after the transactional producer connected: initialising the
 * transactional id completes/aborts any transaction the previous instance left open, so the end
 * of the topic (high watermark) is stable and committed.
 */
export async function readStoredOffset(kafka: Kafka, topic: string, connector: string, highWatermark: bigint, timeoutMs = 60000): Promise<StoredOffset | null> {
  return (await readPipelineState(kafka, topic, connector, highWatermark, timeoutMs)).offset;
}

/** Like readStoredOffset, and also the slot ownership records (see the module comment). */
export async function readPipelineState(kafka: Kafka, topic: string, connector: string, highWatermark: bigint, timeoutMs = 60000): Promise<PipelineState> {
  if (highWatermark === 0n) return { offset: null, owner: null, otherOwners: [], tables: null };
  const consumer = kafka.consumer({ groupId: `cdc-fanout-offsets-reader-${randomUUID()}`, readUncommitted: false, allowAutoTopicCreation: false });
  let latest: StoredOffset | null = null;
  let owner: SlotOwnership | null = null;
  let tables: TablesRecord | null = null;
  const tKey = tablesKey(connector);
  const others = new Map<string, SlotOwnership | null>();
  const ownKey = ownershipKey(connector);
  let reached = false;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const seen = (offset: string): void => {
    if (BigInt(offset) >= highWatermark - 1n) {
      reached = true;
      resolveDone();
    }
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => seen(String(e.payload.lastOffset)));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        const key = message.key?.toString();
        if (key === connector && message.value) {
          latest = JSON.parse(message.value.toString()) as StoredOffset;
        } else if (key === tKey) {
          tables = message.value ? (JSON.parse(message.value.toString()) as TablesRecord) : null;
        } else if (key === ownKey) {
          owner = message.value ? (JSON.parse(message.value.toString()) as SlotOwnership) : null;
        } else if (key?.endsWith(':slot-owner')) {
          others.set(key, message.value ? (JSON.parse(message.value.toString()) as SlotOwnership) : null);
        }
        seen(message.offset);
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    if (!reached) throw new Error(`could not read the offsets topic "${topic}" to its end within ${timeoutMs} ms; is Kafka healthy?`);
    return { offset: latest, owner, otherOwners: [...others.values()].filter((o): o is SlotOwnership => o !== null), tables };
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}
