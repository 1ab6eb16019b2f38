/**
 * The sinks' Kafka consumer: a kafkajs consumer group reading with `read_committed` and manual
 * offset commits (the sink's own store is the source of truth for offsets; Kafka's group offsets are
 * committed afterwards only for lag tools) (the client itself: client.ts).
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';

/** The sink consumer handle (kafkajs' consumer: connect, subscribe, run, seek, pause, commitOffsets, events). */
export type SinkConsumer = Consumer;

/** Kafka message headers as the consumer hands them over (kafkajs: a value or, repeated, an array). */
export type RawHeaders = Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;

export interface SinkConsumerOptions {
  readonly groupId: string;
  /** Upper bound of bytes fetched per partition (bounds memory together with the concurrency). */
  readonly maxBytesPerPartition: number;
  /** Upper bound of bytes per fetch response. */
  readonly maxBytes: number;
  /** How long the broker may wait to fill a fetch. */
  readonly maxWaitTimeInMs: number;
  readonly sessionTimeout?: number;
  readonly heartbeatInterval?: number;
  /** How long the coordinator waits for members to rejoin on a rebalance. */
  readonly rebalanceTimeout?: number;
}

export function createSinkConsumer(kafka: Kafka, opts: SinkConsumerOptions): Consumer {
  return kafka.consumer({
    groupId: opts.groupId,
    readUncommitted: false,
    maxBytesPerPartition: opts.maxBytesPerPartition,
    maxBytes: opts.maxBytes,
    maxWaitTimeInMs: opts.maxWaitTimeInMs,
    // A daemon that crashed (kill -9, OOM) cannot leave its groups; after a restart its sinks wait
    // in STARTING until the broker expires the dead member — up to this session timeout (kafkajs has
    // no static membership). 10 s (the broker's minimum is 6 s) instead of kafkajs' 30 s; the runner
    // keeps heartbeating while a slow batch is written, so a slow sink is not taken for a dead one.
    sessionTimeout: opts.sessionTimeout ?? 10_000,
    heartbeatInterval: opts.heartbeatInterval ?? 1_000,
    rebalanceTimeout: opts.rebalanceTimeout ?? 60_000,
    // A sink decides where to read from (its own stored offsets); never auto-create topics.
    allowAutoTopicCreation: false,
  });
}

/** One fetched record, as the sink runtime reads it. */
export interface FetchedMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Decimal string. */
  readonly offset: string;
  /** Record timestamp, ms since the epoch as a decimal string. */
  readonly timestamp: string;
  readonly headers?: RawHeaders;
}

/** One partition's fetch response. */
export interface FetchedBatch {
  readonly topic: string;
  readonly partition: number;
  /** Data records only (control records and aborted transactions are not in here). */
  readonly messages: readonly FetchedMessage[];
  /**
   * The offset this fetch was requested from: equal to a stored offset the consumer was told to
   * seek to only when the fetch was issued after that seek took effect. Undefined when the client
   * does not report it.
   */
  readonly fetchedOffset: string | undefined;
  /** Offset of the last entry the fetch returned, control records (transaction markers) included. */
  lastOffset(): string;
}

/** What a batch handler may do with the consumer while it holds a batch. */
export interface BatchControl {
  /** Marks `offset` processed (kafkajs: the next fetch of this partition starts after it). */
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  /** False once the consumer stops. */
  isRunning(): boolean;
  /** True once a rebalance or seek made this batch obsolete. */
  isStale(): boolean;
}

export type BatchHandler = (batch: FetchedBatch, control: BatchControl) => Promise<void>;

/**
 * The `eachBatch` callback for `consumer.run` that hands `handler` our batch type. kafkajs keeps the
 * offset a fetch started from in `batch.fetchedOffset` but does not declare it in its typings; this
 * is the one place that reads it.
 */
export function eachFetchedBatch(handler: BatchHandler): (payload: EachBatchPayload) => Promise<void> {
  return (payload) => {
    const { batch } = payload;
    const fetchedOffset = (batch as unknown as { readonly fetchedOffset?: unknown }).fetchedOffset;
    const fetched: FetchedBatch = {
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages,
      fetchedOffset: fetchedOffset === undefined || fetchedOffset === null ? undefined : String(fetchedOffset),
      lastOffset: () => batch.lastOffset(),
    };
    return handler(fetched, {
      resolveOffset: (offset) => payload.resolveOffset(offset),
      heartbeat: () => payload.heartbeat(),
      isRunning: () => payload.isRunning(),
      isStale: () => payload.isStale(),
    });
  };
}
