/**
 * The Sink contract, version 2. Every sink (Elasticsearch, ClickHouse, Redis, webhook, …) lives in its
 * own folder under src/sinks/<type>/ and implements `Sink`; the sink runtime (src/sinks/runtime/)
 * owns the Kafka consumer group, batching, retries, the error policy and rebalances, and calls a sink
 * only through these methods. Adding a sink touches its own folder and one line in
 * src/sinks/registry.ts. docs/writing-a-sink.md walks through it with the webhook sink.
 *
 * Lifecycle: `open()` → (`loadOffsets` on every assignment, then `write` + `commit` per batch)* →
 * `close()`. Outside the daemon, `cdc-fanout reset-offsets` (daemon stopped) runs
 * `open()` → `resetOffsets(to)` → `close()` on a fresh instance.
 *
 * Exactly-once protocol the runtime drives, per partition batch (see README "Guarantees"):
 *   1. `write(batch)`    — apply the batch's effects idempotently and versioned (a replay is a
 *                          no-op, an older version never overwrites a newer one). Records that can
 *                          never be applied (poison) are returned as `rejected`, not thrown.
 *   2. runtime           — sends rejected records to the dead-letter topic (policy `dlq`), counts
 *                          them (`skip`) or stops the sink (`none`).
 *   3. `commit(offsets)` — durably store, in the sink's offset store, the next offset to read for
 *                          each partition in the batch (semantics: `OffsetStore` below). A sink that
 *                          can make effects and offsets atomic (Redis MULTI/EXEC) may defer its
 *                          effects from write() into commit().
 *   4. runtime           — commits the same offsets to Kafka (only for lag tools).
 * On start and on every partition assignment the runtime calls `loadOffsets` and seeks there.
 * Throw a `SinkError` with `retriable: true` for transient failures (server down, 429, timeouts):
 * the runtime retries the same batch with backoff; nothing is skipped.
 * Throw an `OffsetsRegressedError` from `commit` when the stored offsets are BEHIND what this sink
 * last stored or loaded (or missing after having been present): the store lost acknowledged writes
 * (Redis restarted without AOF, checkpoint index deleted, table recreated). The runtime then drops
 * the batch, re-reads `loadOffsets` for those partitions and seeks there (earliest offset when
 * missing), so the lost range is applied again.
 */
import type { Op, Position, Row } from '../events/change.js';

/** Debezium `source` block as it arrives in the envelope (only the fields sinks rely on are typed). */
export interface SourceInfo {
  readonly version?: string;
  readonly connector?: string;
  readonly name?: string;
  readonly ts_ms?: number;
  readonly snapshot?: string;
  readonly db?: string;
  readonly schema: string;
  readonly table: string;
  readonly txId?: number | null;
  readonly lsn?: number | null;
  readonly [extra: string]: unknown;
}

/** A change record as the sink sees it: decoded key and envelope plus its Kafka coordinates. */
export interface SinkRecord {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset, decimal string (kafkajs style). */
  readonly offset: string;
  /** Decoded key (primary-key columns), null when the message has no key. */
  readonly key: Row | null;
  /** Operation; `null` marks a tombstone (value null) which sinks usually ignore. */
  readonly op: Op | null;
  readonly before: Row | null;
  readonly after: Row | null;
  /** Source metadata; null for tombstones. */
  readonly source: SourceInfo | null;
  /** Event identity: version for sinks = position.commitLsn (fits a signed 64-bit integer). */
  readonly position: Position;
  /**
   * Raw Kafka key/value bytes and headers, kept for the dead-letter topic. The headers carry the
   * event's position (`cdc.commit_lsn`, `cdc.seq`): a dead-lettered record keeps them, so a replay
   * applies it at its original version and the sinks' staleness checks compare like with like.
   */
  readonly raw: { readonly key: Buffer | null; readonly value: Buffer | null; readonly headers?: RawHeaders };
}

/** Kafka message headers as kafkajs hands them over. */
export type RawHeaders = Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;

/** One partition's worth of records, in offset order. */
export interface SinkBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly SinkRecord[];
}

export interface RejectedRecord {
  readonly record: SinkRecord;
  readonly error: Error;
}

export interface WriteResult {
  /** Records that can never be applied; the runtime routes them per `errors.tolerance`. */
  readonly rejected: readonly RejectedRecord[];
  /** Writes the store refused because it already holds a newer version (counted, not errors). */
  readonly staleSkipped: number;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Next offset to consume for a partition (last processed + 1), decimal string. */
export interface PartitionOffset extends TopicPartition {
  readonly offset: string;
}

/**
 * Where a sink keeps its consumed offsets: ONE interface, the same semantics for every sink. Each
 * sink's store implements it (Elasticsearch: `CheckpointStore`, a document per (group, topic,
 * partition) in `checkpoint.index`; ClickHouse: `CheckpointTable`, rows in `checkpoint.table` under
 * `checkpoint.group`; Redis: the hash `offsets.key` written in the MULTI/EXEC of the effects; webhook
 * and any sink without a transactional place: `KafkaGroupOffsetStore`, the runtime's default store).
 * A `Sink` exposes it as `loadOffsets` / `commit` / `resetOffsets`.
 *
 * Offsets are "next offset to read" (last applied + 1), decimal strings. A partition with no stored
 * offset was never consumed by this sink (the runtime then starts at the earliest offset if its
 * Kafka group consumed the partition before, else per the group's start rule).
 *
 * Semantics (pinned for every sink by the conformance suite, test/sinks/conformance.ts):
 *
 *   INVARIANT M (monotonic commit) — `commit` never moves a partition's stored offset backwards. A
 *     commit BELOW the stored offset is IGNORED for that partition — not an error, the call resolves
 *     and the stored offset stays — while the other partitions of the same call still move. A late
 *     or retried commit of an older chunk is legitimate (a retry after a timeout whose commit did
 *     land, a replay after a rebalance), so refusing would only stall the partition; ignoring it
 *     loses nothing because the stored offset already covers those records. Compared against the
 *     stored value where the store can do it atomically (Redis WATCH, Elasticsearch `_seq_no`),
 *     otherwise against what this instance last loaded or committed (ClickHouse, Kafka group): the
 *     consumer group gives each partition one owner, and the runtime loads before it commits.
 *     Equal offsets are a no-op as well.
 *
 *   INVARIANT A (atomic or idempotent) — an offset is stored only together with, or after, the
 *     effects of every record before it: atomically with them (Redis), or after the target
 *     acknowledged them (everything else). A crash in between therefore leaves the offset BEHIND the
 *     effects, never ahead: the batch is replayed, and the replay is harmless because effects are
 *     idempotent by event position (versions: ES `external_gte`, ClickHouse `ReplacingMergeTree
 *     (_version)`, Redis Lua version check; or the webhook's idempotency key per event).
 *
 *   INVARIANT R (reset) — `reset(to)` is the ONLY way offsets move backwards: it stores exactly the
 *     given offsets (earlier or later than the stored ones), other partitions untouched. It is an
 *     operator action with no sink consuming the partitions (`cdc-fanout reset-offsets`, daemon
 *     stopped and the consumer group empty; the CLI resolves `--to earliest|latest|<ISO time>` into
 *     offsets per partition from Kafka). After a rewind the runtime re-delivers from there, and by A the
 *     re-delivered events re-apply to the same end state (versions make already-applied events
 *     no-ops; truncate watermarks stay, so a replayed change older than a truncate stays removed).
 *     A running instance that loaded or committed a partition adopts the reset value as its floor.
 *
 *   Lost store — separate from M: when the stored offset is found BELOW what this instance stored or
 *     loaded (the store lost acknowledged writes), `commit` throws `OffsetsRegressedError` where the
 *     store can see it (Redis, Elasticsearch) instead of committing past the loss. *
 * Which store — the choice decides the sink's guarantee; pick the strongest the target allows:
 *   1. offsets in the SAME transaction as the effects (defer effects from write() into commit()):
 *      EXACTLY ONCE — both or neither are durable. Redis (MULTI/EXEC with the offsets hash).
 *   2. the target's own store, written AFTER idempotent, versioned effects: EFFECTIVELY ONCE — a
 *      crash in between replays the batch, which changes nothing. Elasticsearch, ClickHouse.
 *   3. the DEFAULT store for targets with no transactional place (HTTP, object storage):
 *      `KafkaGroupOffsetStore` (src/sinks/runtime/kafka-group-offsets.ts, Kafka group offsets
 *      committed after the target acknowledged) PLUS an idempotency key per event derived from the
 *      record's position (`<topic>/<partition>/<offset>`, identical on every replay): AT LEAST ONCE,
 *      duplicates only with the same key, which the target dedupes. Webhook.
 */
export interface OffsetStore {
  /** Stored next-offsets for these partitions (missing = never consumed); becomes this instance's floor for M. */
  load(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]>;
  /** Durably store next-offsets, monotonic per partition (M); only after or with the effects before them (A). */
  commit(offsets: readonly PartitionOffset[]): Promise<void>;
  /** Store exactly these offsets, backwards included (R); only with no sink consuming the partitions. */
  reset(to: readonly PartitionOffset[]): Promise<void>;
}

export interface Sink {
  /** Connect, create checkpoint storage (index/table/hash) if missing. Retried by the runtime. */
  open(): Promise<void>;
  /** `OffsetStore.load` of the sink's offset store. */
  loadOffsets(partitions: readonly TopicPartition[]): Promise<PartitionOffset[]>;
  write(batch: SinkBatch): Promise<WriteResult>;
  /** `OffsetStore.commit` of the sink's offset store (plus the deferred effects of a sink whose effects and offsets are atomic). */
  commit(offsets: readonly PartitionOffset[]): Promise<void>;
  /** `OffsetStore.reset` of the sink's offset store: called by `cdc-fanout reset-offsets` after `open()`. */
  resetOffsets(to: readonly PartitionOffset[]): Promise<void>;
  close(): Promise<void>;
}

/** Error type sinks throw; `retriable` drives the runtime's retry with backoff. */
export class SinkError extends Error {
  readonly retriable: boolean;
  constructor(message: string, options: { retriable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'SinkError';
    this.retriable = options.retriable;
  }
}

/** One partition whose stored offset went backwards: `stored` (null = missing) < `expected`. */
export interface RegressedPartition extends TopicPartition {
  /** Offset found in the store now (null: the checkpoint is gone). */
  readonly stored: string | null;
  /** Offset this process last stored or loaded for the partition. */
  readonly expected: string;
}

/**
 * The sink's store lost acknowledged writes: its offsets are behind what this process committed.
 * Not retried as is — the runtime re-seeks the partitions to the stored offsets and replays.
 */
export class OffsetsRegressedError extends SinkError {
  readonly partitions: readonly RegressedPartition[];
  constructor(message: string, partitions: readonly RegressedPartition[]) {
    super(message, { retriable: true });
    this.name = 'OffsetsRegressedError';
    this.partitions = partitions;
  }
}
