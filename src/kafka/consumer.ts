/**
 * The sinks' Kafka consumer: a kafkajs consumer group reading with `read_committed` and manual
 * offset commits (the sink's own store is the source of truth for offsets; Kafka's group offsets are
 * committed afterwards only for lag tools) (the client itself: client.ts).
 */
import type { Consumer, Kafka } from 'kafkajs';

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
