/**
 * Publisher: batches the events of whole Postgres transactions into Kafka transactions, each closed
 * with an offsets record `{connector, last_commit_lsn, last_seq}`, and reports the committed
 * position (the caller then confirms the LSN to Postgres — never before the Kafka commit).
 *
 * Invariants (the order below is the exactly-once argument):
 *  1. A Kafka transaction is committed only at a Postgres transaction boundary: it holds whole PG
 *     transactions, and its offsets record names the last one. A large PG transaction is streamed
 *     into the open Kafka transaction in chunks (bounded memory); the commit waits for its end. A
 *     crash before that aborts the Kafka transaction, so read_committed consumers never see it.
 *  2. Kafka operations run strictly one after another (one chain); the decoder keeps decoding while
 *     the chain works (pipelining), until `maxQueueSize` records or `maxQueueBytes` bytes wait —
 *     then `push` awaits (backpressure: the replication stream stops being read; nothing is
 *     dropped). Bytes, not only counts: 8,192 events of a table with 1 MB rows would be 8 GB.
 *     With pipelined sends (opt-in, CDC_FANOUT_KAFKA_PIPELINE=on) a send step ends once its
 *     request took its sequence numbers (the producer keeps call order
 *     per partition and holds at most MAX_UNACKED_SENDS requests awaiting acks, each at most
 *     max.request.size); a commit step waits for every ack before EndTxn.
 *  3. `onCommitted` runs after the Kafka commit returned, never earlier.
 *  4. Any Kafka failure is sticky: the publisher refuses further work and the source stops; a
 *     restart recovers from the offsets topic (an open Kafka transaction is aborted by the broker
 *     when the new instance initialises the same transactionalId).
 */
import { MAX_UNACKED_SENDS, type KafkaRecord, type TransactionalProducer } from '../kafka/producer.js';
import { offsetRecord, type StoredOffset } from '../kafka/offsets-store.js';
import { recordSizeBound } from '../kafka/record-size.js';
import type { KafkaConfig } from '../kafka/config.js';
import type { SourceConfig } from './config.js';

export interface CommittedBatch {
  readonly offset: StoredOffset;
  readonly events: number;
  /** Commit timestamps (ms) of the PG transactions in this Kafka transaction (latency metrics). */
  readonly commitTimesMs: readonly number[];
  readonly kafkaCommitMs: number;
}

export interface PublisherOptions {
  readonly offsetsTopic: string;
  readonly maxBatchSize: number;
  /**
   * Bytes (record size bounds, see src/kafka/record-size.ts) after which buffered records are sent
   * (kafka max.request.size). The producer still splits every send so no request or record batch
   * exceeds its limit; this keeps a send to about one request and bounds buffered bytes.
   */
  readonly maxBatchBytes?: number;
  readonly maxBatchWaitMs: number;
  readonly maxQueueSize: number;
  /**
   * Bytes (record size bounds) buffered or in flight after which `push` waits, like maxQueueSize
   * (Debezium's max.queue.size.in.bytes); 0 or absent: only the count bounds the queue.
   */
  readonly maxQueueBytes?: number;
  /** The server's timeline, written into every position record (StoredOffset.timeline). */
  readonly timeline?: number;
  readonly onCommitted: (batch: CommittedBatch) => void | Promise<void>;
  /** Called once with the first Kafka failure (the publisher is unusable afterwards). */
  readonly onFailure?: (err: unknown) => void;
}

/**
 * PublisherOptions from the configuration: batch and queue bounds from the source config, the batch
 * byte bound from kafka max.request.size. Every publisher (streaming, new-table and ad-hoc snapshots)
 * is built through this, so they all honour the same settings.
 */
export function publisherOptions(
  cfg: SourceConfig,
  kafka: Pick<KafkaConfig, 'max.request.size'>,
  own: Pick<PublisherOptions, 'offsetsTopic' | 'onCommitted' | 'onFailure' | 'timeline'>,
): PublisherOptions {
  return {
    maxBatchSize: cfg['max.batch.size'],
    maxBatchBytes: kafka['max.request.size'],
    maxBatchWaitMs: cfg['max.batch.wait.ms'],
    maxQueueSize: cfg['max.queue.size'],
    maxQueueBytes: cfg['max.queue.size.in.bytes'],
    ...own,
  };
}

export class Publisher {
  private buf: KafkaRecord[] = [];
  /** Size bounds (recordSizeBound) of the records in `buf`, and of those before `bufBoundary`. */
  private bufBytes = 0;
  private boundaryBytes = 0;
  /** Records at the head of `buf` that belong to completed PG transactions. */
  private bufBoundary = 0;
  /** Records of the current, incomplete PG transaction were already sent into the Kafka tx. */
  private partialSent = false;
  private pendingOffset: StoredOffset | null = null;
  private pendingEvents = 0;
  private pendingCommitTimes: number[] = [];
  private firstPendingAt = 0;
  private inflightRecords = 0;
  private inflightBytes = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Pending chain steps, oldest first (backpressure waits for the oldest, not for all). */
  private readonly steps: Promise<void>[] = [];
  private failure: unknown = null;
  private timer: NodeJS.Timeout | null = null;
  private eventsSinceCommit = 0;
  /**
   * Events after which the open Kafka transaction commits (max.batch.wait.ms bounds the wait too):
   * one send's worth, or with a pipelined producer as many sends as may await their acks at once —
   * a commit waits for every ack and then for EndTxn, so committing every send would leave the
   * broker idle while the next request is built, and the source idle while the broker commits.
   */
  private readonly commitEvents: number;

  constructor(
    private readonly producer: TransactionalProducer,
    private readonly opts: PublisherOptions,
  ) {
    this.commitEvents = opts.maxBatchSize * (producer.pipelined ? MAX_UNACKED_SENDS : 1);
  }

  get failed(): unknown {
    return this.failure;
  }

  /** Nothing buffered, nothing in flight, no PG transaction open in Kafka. */
  get idle(): boolean {
    return this.buf.length === 0 && this.inflightRecords === 0 && this.pendingOffset === null && !this.partialSent;
  }

  /**
   * Adds the records of one change of the current PG transaction. Returns a promise only when the
   * queue is full (wait for it: backpressure); otherwise nothing, so the per-change path allocates
   * no promise.
   */
  push(records: readonly KafkaRecord[], bytes?: number): Promise<void> | undefined {
    this.throwIfFailed();
    if (bytes === undefined) {
      bytes = 0;
      for (const r of records) bytes += recordSizeBound(r);
    }
    const maxBytes = this.opts.maxBatchBytes;
    if (maxBytes !== undefined && this.buf.length > 0 && this.bufBytes + bytes > maxBytes) this.sendBuffered();
    for (const r of records) this.buf.push(r);
    this.bufBytes += bytes;
    this.eventsSinceCommit += records.length;
    const maxQueueBytes = this.opts.maxQueueBytes;
    if (this.buf.length >= this.opts.maxBatchSize || (maxQueueBytes && this.bufBytes >= maxQueueBytes)) this.sendBuffered();
    return this.full ? this.backpressure() : undefined;
  }

  /** Sends everything buffered (may include part of the open PG transaction) into the Kafka tx. */
  private sendBuffered(): void {
    if (this.buf.length > this.bufBoundary) this.partialSent = true;
    const chunk = this.buf;
    const bytes = this.bufBytes;
    this.buf = [];
    this.bufBoundary = 0;
    this.bufBytes = 0;
    this.boundaryBytes = 0;
    this.enqueue(chunk.length, bytes, () => this.producer.send(chunk, bytes));
  }

  private get full(): boolean {
    if (this.steps.length === 0) return false;
    const maxQueueBytes = this.opts.maxQueueBytes;
    return this.buf.length + this.inflightRecords > this.opts.maxQueueSize || (maxQueueBytes !== undefined && maxQueueBytes > 0 && this.bufBytes + this.inflightBytes > maxQueueBytes);
  }

  /** Waits for the oldest Kafka steps until the queue is below max.queue.size again. */
  private async backpressure(): Promise<void> {
    while (this.full) await this.steps[0];
    this.throwIfFailed();
  }

  /** `offset` with the server's timeline (when known and not already set): what the offsets topic stores. */
  private stamped(offset: StoredOffset): StoredOffset {
    return this.opts.timeline === undefined || offset.timeline !== undefined ? offset : { ...offset, timeline: this.opts.timeline };
  }

  /** Marks the end of a PG transaction whose events were all pushed; `offset` names it. */
  async endTransaction(offset: StoredOffset, commitTimeMs: number): Promise<void> {
    this.throwIfFailed();
    this.bufBoundary = this.buf.length;
    this.boundaryBytes = this.bufBytes;
    this.partialSent = false;
    if (this.pendingOffset === null) this.firstPendingAt = Date.now();
    this.pendingOffset = offset;
    this.pendingEvents++;
    this.pendingCommitTimes.push(commitTimeMs);
    if (this.eventsSinceCommit >= this.commitEvents || Date.now() - this.firstPendingAt >= this.opts.maxBatchWaitMs) {
      this.commitPending();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        // Between messages; commit only what ends at a PG boundary and has no partial tx in Kafka.
        if (!this.partialSent) this.commitPending();
      }, Math.max(1, this.opts.maxBatchWaitMs - (Date.now() - this.firstPendingAt)));
    }
    await this.backpressure();
  }

  /**
   * Idle watermark: commits a Kafka transaction holding only `offset` (with `flushed_lsn`) when
   * nothing is buffered or in flight; returns false (nothing done) otherwise. onCommitted runs after
   * the commit, like for data — only then may the caller confirm `flushed_lsn` to Postgres.
   */
  commitWatermark(offset: StoredOffset): boolean {
    if (!this.idle || this.failure) return false;
    const record = offsetRecord(this.opts.offsetsTopic, this.stamped(offset));
    this.enqueue(1, 0, async () => {
      await this.producer.send([record]);
      await this.producer.commit();
      await this.opts.onCommitted({ offset, events: 0, commitTimesMs: [], kafkaCommitMs: Date.now() });
    });
    return true;
  }

  /** Commits everything pending now and waits for the chain (clean stop, snapshot chunks). */
  async flush(): Promise<void> {
    if (!this.partialSent) this.commitPending();
    await this.drain();
  }

  /** Waits until the Kafka chain has done everything enqueued so far. */
  async drain(): Promise<void> {
    await this.chain;
    this.throwIfFailed();
  }

  /** A PG transaction is partly in the open Kafka transaction (a clean stop must abort it). */
  get hasPartial(): boolean {
    return this.partialSent || this.buf.length > this.bufBoundary;
  }

  /** Stops timers; an open Kafka transaction is aborted by the caller closing the producer. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private commitPending(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const offset = this.pendingOffset;
    if (!offset || this.failure) return;
    const records = this.buf.splice(0, this.bufBoundary);
    let bytes = this.boundaryBytes;
    this.bufBoundary = 0;
    this.bufBytes -= this.boundaryBytes;
    this.boundaryBytes = 0;
    const events = this.eventsSinceCommit - this.buf.length;
    this.eventsSinceCommit = this.buf.length;
    const commitTimes = this.pendingCommitTimes;
    this.pendingOffset = null;
    this.pendingEvents = 0;
    this.pendingCommitTimes = [];
    const offsetsRecord = offsetRecord(this.opts.offsetsTopic, this.stamped(offset));
    bytes += recordSizeBound(offsetsRecord);
    records.push(offsetsRecord);
    this.enqueue(records.length, bytes, async () => {
      await this.producer.send(records, bytes);
      await this.producer.commit();
      await this.opts.onCommitted({ offset, events, commitTimesMs: commitTimes, kafkaCommitMs: Date.now() });
    });
  }

  private enqueue(count: number, bytes: number, op: () => Promise<void>): void {
    this.inflightRecords += count;
    this.inflightBytes += bytes;
    const step = this.chain.then(async () => {
      try {
        if (!this.failure) await op();
      } catch (e) {
        if (!this.failure) {
          this.failure = e;
          this.opts.onFailure?.(e);
        }
      } finally {
        this.inflightRecords -= count;
        this.inflightBytes -= bytes;
        this.steps.shift();
      }
    });
    this.steps.push(step);
    this.chain = step;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}
