/**
 * Narrow seam between the source pipeline and the events layer (src/events/record.ts): the
 * pipeline depends only on this interface, the events RecordBuilder implements it.
 */
import { createRecordBuilder as createEventsBuilder, type EventRecord, type SourceChange, type SourceInfo } from '../events/record.js';
import type { EventsConfig } from '../events/config.js';
import type { TransactionStart } from '../events/transaction.js';
import type { RelationInfo } from '../events/types.js';

export type { SourceChange, SourceInfo };

export interface RecordBuilder {
  /** Kafka records for one change (a PK-changing update yields delete [+ tombstone] + create). */
  build(change: SourceChange): EventRecord[];
  /** Compiles converters for a (new or changed) relation and validates it; throws a clear error. */
  prepare(relation: RelationInfo): void;
  /** Topic of a relation's data records (for topic creation); given the keys, it records the topic's cleanup.policy. */
  topicFor(relation: Pick<RelationInfo, 'schema' | 'table'> & { readonly keyColumns?: readonly string[] }): string;
  /** cleanup.policy of a data topic seen by topicFor with its table's keys (for topic creation). */
  cleanupPolicyOfTopic(topic: string): string | undefined;
  readonly messageTopic: string;
  readonly transactionTopic: string;
  /** BEGIN/END records for the transaction topic (empty unless provide.transaction.metadata). */
  beginTransaction(start: TransactionStart): EventRecord[];
  endTransaction(commitLsn: bigint): EventRecord[];
}

export function createRecordBuilder(events: EventsConfig, dbName: string): RecordBuilder {
  return createEventsBuilder(events, { dbName });
}
