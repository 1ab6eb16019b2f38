/**
 * The source's committed position in Kafka: a compacted, single-partition topic holding one record
 * per connector `{connector, last_commit_lsn, last_seq, snapshot}` (key = connector name). The
 * record is written inside the same Kafka transaction as the events it covers, so it is exactly as
 * durable as they are; it is read back with read_committed.
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
}

export interface StoredOffset {
  readonly connector: string;
  /** `X/Y` commit LSN of the last whole transaction (or snapshot point) committed to Kafka. */
  readonly last_commit_lsn: string;
  /** Seq of the last event of that transaction committed (-1: none). */
  readonly last_seq: number;
  readonly snapshot: SnapshotCheckpoint | null;
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
  if (highWatermark === 0n) return null;
  const consumer = kafka.consumer({ groupId: `cdc-fanout-offsets-reader-${randomUUID()}`, readUncommitted: false, allowAutoTopicCreation: false });
  let latest: StoredOffset | null = null;
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
        if (message.key?.toString() === connector && message.value) {
          latest = JSON.parse(message.value.toString()) as StoredOffset;
        }
        seen(message.offset);
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    if (!reached) throw new Error(`could not read the offsets topic "${topic}" to its end within ${timeoutMs} ms; is Kafka healthy?`);
    return latest;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}
