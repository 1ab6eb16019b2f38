/**
 * SinkRunner: drives one sink from a Kafka consumer group, exactly once.
 *
 * Ordering invariants (per partition; partitions run concurrently, up to partitions.concurrency):
 *   1. On every assignment (GROUP_JOIN) the partition's offset is loaded from the SINK'S store and
 *      the consumer seeks there. Until a batch arrives that was fetched exactly from that offset
 *      (`batch.fetchedOffset`), batches are dropped — this closes the race where a fetch started
 *      (from Kafka's group offset) before the seek. Records below the stored offset are dropped too.
 *   2. A fetched batch is split into bounded chunks (batch.max.records / batch.max.bytes). Per chunk:
 *      sink.write → rejected records routed (dlq: produced and acknowledged BEFORE step 3; skip:
 *      counted; none: the chunk's TABLE stops, step 5) → sink.commit(next offset) → Kafka commit
 *      (only for lag tools; failure there is harmless) → metrics.
 *   3. A retriable SinkError retries the same chunk (write + commit) with exponential backoff and
 *      jitter, forever: the partition waits, nothing is skipped. Any other error fails the sink.
 *   4. The sink's store is authoritative and may LOSE acknowledged writes (Redis restarted without
 *      AOF fsync, a checkpoint index deleted, a table recreated). A sink that sees its stored offsets
 *      behind what it last stored throws OffsetsRegressedError from commit(); the chunk is dropped
 *      (not committed) and the partition goes through step 1 again — offsets re-read from the store,
 *      the earliest offset of the partition when none is stored — so the lost range is replayed.
 *      Invariant: the runner never consumes past a store position it did not see committed.
 *   5. errors.tolerance=none and a chunk has a record that can never be applied: only that chunk's
 *      topic stops (one table per topic as the source writes them; a topic configured by hand
 *      that carries several tables stops as a whole). The chunk is NOT committed, the topic is paused (all its
 *      partitions held by this runner), and the table is listed in failedTables() with the error;
 *      every other topic goes on. A chunk carries one topic-partition, so no other table's offset
 *      is touched. Invariant: a failed table's stored offsets never move past the record that
 *      failed — its partitions are re-loaded from the store (step 1) when the table is retried
 *      (resume()) or the runner restarts, so the table re-applies from exactly where it stopped
 *      (writes are idempotent and versioned, so the chunk's records that were already written are
 *      harmless to re-apply).
 * Memory stays bounded in bytes: kafkajs fetches at most batch.max.bytes per partition and
 * fetch.max.bytes in all, and the next fetch waits until the current one's batches are written.
 */
import { EventEmitter } from 'node:events';
import type { KafkaClient } from '../../kafka/client.js';
import { createSinkConsumer, eachFetchedBatch, type BatchControl, type FetchedBatch, type SinkConsumer } from '../../kafka/consumer.js';
import { DlqProducer, type DlqSizeOptions } from '../../kafka/dlq-producer.js';
import type { Logger } from '../../observability/logger.js';
import { metrics } from '../../observability/metrics.js';
import { OffsetsRegressedError, SinkError, type PartitionOffset, type RejectedRecord, type Sink, type SinkBatch, type SinkRecord } from '../sink.js';
import { backoffDelay } from './backoff.js';
import type { ResolvedSinkConfig } from './config.js';
import { decodeMessage, type DecodeResult, type RawMessage } from './decode.js';
import { LagTracker, type LagSnapshot } from './lag.js';

export type RunnerStateName = 'STARTING' | 'RUNNING' | 'PAUSED' | 'FAILED' | 'RESTARTING' | 'STOPPED';

export interface RunnerState {
  readonly name: RunnerStateName;
  /** Why the runner is not RUNNING: what it waits for, or the error it retries and when next. */
  readonly reason?: string;
}

/**
 * Counters that outlive one runner instance (the daemon starts a fresh runner on every restart and
 * hands each the same object), read by the daemon's status and history.
 */
export interface SinkRunnerStats {
  /** Records applied (or routed by the error policy) and committed. */
  records: number;
  dlq: number;
  /** Sum and count of commit→applied latencies (Postgres commit ts_ms → sink commit), ms. */
  latencySumMs: number;
  latencyCount: number;
  /** Last error seen (retried or fatal), with its time. */
  lastError: { message: string; at: string } | undefined;
}

export function newSinkRunnerStats(): SinkRunnerStats {
  return { records: 0, dlq: 0, latencySumMs: 0, latencyCount: 0, lastError: undefined };
}

export interface SinkRunnerOptions {
  readonly kafka: KafkaClient;
  readonly sink: Sink;
  readonly config: ResolvedSinkConfig;
  readonly pipeline: string;
  readonly logger: Logger;
  /** Called after a chunk's offsets are durable in the sink (tests, benchmarks, the DLQ replay's report). */
  readonly onCommitted?: (batch: SinkBatch, outcome: ChunkOutcome) => void;
  /**
   * Bounded replay of a dead-letter topic (src/sinks/runtime/dlq-replay.ts): messages are decoded by
   * `decode` instead of decodeMessage, and a partition stops at `until` (exclusive). Everything else —
   * offsets loaded from and committed to the sink's own store with the effects, retries, the error
   * policy — is the live path's.
   */
  readonly replay?: ReplayHooks;
  /** `sink` label of this runner's metrics; default the sink's name (a replay uses its own, so it never overwrites the live sink's lag gauges). */
  readonly metricsSinkLabel?: string;
  /** Dead-letter record sizes (kafka max.request.size, topic.creation.max.message.bytes); default 1 MiB. */
  readonly dlqSize?: DlqSizeOptions;
  /** kafkajs session timeout (ms); default: createSinkConsumer's. Tests use shorter ones for quicker rebalances. */
  readonly sessionTimeoutMs?: number;
  /** Shared counters (see SinkRunnerStats); a private set when omitted. */
  readonly stats?: SinkRunnerStats;
  /** How often end offsets are fetched for the lag (ms); default 2000. */
  readonly lagIntervalMs?: number;
  /**
   * A sink that follows the source's table selection (no `topics`/`tables` of its own): it consumes
   * every existing topic `match` accepts (config.topicList is empty), and emits `topics` with the
   * new list when a matching topic appears — the owner restarts it then (kafkajs resolves a
   * subscription once), so a table that joins the selection reaches the sink with no config edit.
   */
  readonly discoverTopics?: { readonly match: (topic: string) => boolean; readonly intervalMs: number };
}

/** What happened to a committed chunk, for callers that report per record (the DLQ replay). */
export interface ChunkOutcome {
  /** Records routed by the error policy (rejected by the sink or undecodable). */
  readonly rejected: readonly RejectedRecord[];
  /** Writes the store refused as older than what it holds (the sink's staleness check). */
  readonly staleSkipped: number;
  /** Messages passed over without being handed to the sink (ReplayHooks.decode returned skip). */
  readonly skipped: number;
  /** Next offset stored for the chunk's partition. */
  readonly next: string;
}

/** See SinkRunnerOptions.replay. */
export interface ReplayHooks {
  /** Stop offset (exclusive) per partition of the consumed topic; partitions not listed are not read. */
  readonly until: ReadonlyMap<number, bigint>;
  /** A message → a record to apply, a record to route by the error policy, or `skip` (passed over). */
  decode(topic: string, partition: number, msg: RawMessage): DecodeResult | { readonly ok: 'skip' };
  /** A partition reached `until` (its stored offset is at or past it). Called once per partition. */
  onPartitionDone(partition: number): void;
}

/**
 * A record that cannot be applied and errors.tolerance=none: its table (topic) stops at that record;
 * the other tables of the sink go on (see SinkRunner.failTable).
 */
export class TableStoppedError extends Error {
  constructor(
    message: string,
    readonly topic: string,
    readonly partition: number,
    readonly offset: string,
    readonly table: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TableStoppedError';
  }
}

/** A table (its topic) stopped at a record it cannot apply (errors.tolerance=none); the rest of the sink runs on. */
export interface FailedTable {
  readonly topic: string;
  /** "schema.table" from the record's source block; null when the record has none (undecodable). */
  readonly table: string | null;
  readonly partition: number;
  /** Offset of the record that cannot be applied. */
  readonly offset: string;
  /** Offset in the sink's store the table re-applies from when it is retried (null: none stored yet). */
  readonly resumeFrom: string | null;
  readonly error: string;
  /** ISO time the table stopped. */
  readonly since: string;
}

/** A retried batch given up because the partition moved or the runner stops (not a failure). */
class AbandonedError extends Error {
  constructor(what: string) {
    super(`${what} abandoned: partition revoked or runner stopping`);
    this.name = 'AbandonedError';
  }
}

interface PartitionState {
  readonly generation: number;
  /** Offset loaded from the sink's store (null: never consumed → start where Kafka says). */
  readonly loaded: Promise<string | null>;
  /** True once a batch fetched from the loaded offset arrived. */
  synced: boolean;
  /** Next offset to process (guards against re-delivery). */
  next: bigint | null;
}

/** A write in flight this long shows the sink as not RUNNING (with the reason) although nothing failed yet. */
const STALL_AFTER_MS = 10_000;

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function recordBytes(r: { key: Buffer | null; value: Buffer | null }): number {
  return (r.key?.length ?? 0) + (r.value?.length ?? 0);
}

export class SinkRunner extends EventEmitter {
  private consumer: SinkConsumer | undefined;
  private dlq: DlqProducer | undefined;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly committed = new Map<string, PartitionOffset>();
  /** Replay mode: partitions that reached their stop offset (reported once). */
  private readonly replayDone = new Set<number>();
  /** Topics stopped at a record they cannot apply (invariant 5), by topic. */
  private readonly failed = new Map<string, FailedTable>();
  private generation = 0;
  private stopping = false;
  private current: RunnerState = { name: 'STOPPED' };
  private lastErr: Error | undefined;
  private readonly labels: { pipeline: string; sink: string };
  private readonly log: Logger;
  /** Labelled metric children, resolved once (label hashing per record is measurable at 10k+/s). */
  private readonly m: {
    records: ReturnType<typeof metrics.sinkRecords.labels>;
    batchSize: ReturnType<typeof metrics.sinkBatchSize.labels>;
    batchLatency: ReturnType<typeof metrics.sinkBatchLatency.labels>;
    endToEnd: ReturnType<typeof metrics.sinkEndToEnd.labels>;
    stale: ReturnType<typeof metrics.sinkStale.labels>;
  };
  /** Last time the Kafka group offset was committed, per partition (throttled: it is only for lag tools). */
  private readonly kafkaCommittedAt = new Map<string, number>();
  readonly stats: SinkRunnerStats;
  private readonly lagTracker: LagTracker;
  private readonly lagIntervalMs: number;
  private lagTimer: NodeJS.Timeout | undefined;
  private lagAdmin: ReturnType<KafkaClient['admin']> | undefined;
  private lagPolling = false;
  /** Label sets of the lag gauges this runner set (removed when unknown or revoked). */
  private readonly lagSeries = new Set<string>();
  /** The topics subscribed to: config.topicList, or the discovered ones (discoverTopics). */
  private topics: readonly string[] = [];
  private discoveryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SinkRunnerOptions) {
    super();
    this.labels = { pipeline: opts.pipeline, sink: opts.metricsSinkLabel ?? opts.config.name };
    this.log = opts.logger.child({ sink: opts.config.name });
    this.stats = opts.stats ?? newSinkRunnerStats();
    this.lagIntervalMs = opts.lagIntervalMs ?? 2000;
    this.lagTracker = new LagTracker(this.lagIntervalMs * 3 + 5000);
    const l = this.labels;
    this.m = {
      records: metrics.sinkRecords.labels(l),
      batchSize: metrics.sinkBatchSize.labels(l),
      batchLatency: metrics.sinkBatchLatency.labels(l),
      endToEnd: metrics.sinkEndToEnd.labels(l),
      stale: metrics.sinkStale.labels(l),
    };
  }

  get state(): RunnerState {
    return this.current;
  }

  get lastError(): Error | undefined {
    return this.lastErr;
  }

  /** The topics this runner subscribed to (config.topicList, or the discovered ones). */
  get subscribedTopics(): readonly string[] {
    return this.topics;
  }

  /** Offsets (next to read) this runner committed to the sink, per partition. */
  offsets(): PartitionOffset[] {
    return [...this.committed.values()];
  }

  /** Tables stopped at a record they cannot apply (errors.tolerance=none), oldest first. */
  failedTables(): FailedTable[] {
    return [...this.failed.values()];
  }

  /** Offset and time lag of the assigned partitions (see lag.ts); cheap, computed from the last poll. */
  lag(): LagSnapshot {
    return this.lagTracker.snapshot();
  }

  private noteError(e: Error): void {
    this.lastErr = e;
    this.stats.lastError = { message: e.message.replace(/\s*\n\s*/g, ' '), at: new Date().toISOString() };
  }

  private setState(name: RunnerStateName, reason?: string): void {
    this.current = reason === undefined ? { name } : { name, reason };
    this.emit('state', this.current);
  }

  async start(): Promise<void> {
    const { config, kafka, sink } = this.opts;
    this.stopping = false;
    this.setState('STARTING', 'opening the sink');
    await this.retrying('open', () => sink.open());
    if (config['errors.tolerance'] === 'dlq') {
      this.dlq = new DlqProducer(kafka, config.dlqTopic, config.name, this.opts.dlqSize);
      await this.dlq.start();
    }
    const consumer = createSinkConsumer(kafka, {
      groupId: config.groupId,
      maxBytesPerPartition: config['batch.max.bytes'],
      // In bytes, not only per partition: batch.max.bytes × partitions.concurrency (16 MiB by
      // default) per sink, three sinks in one daemon, was ~50 MB of raw records plus their objects.
      maxBytes: config['fetch.max.bytes'],
      maxWaitTimeInMs: config['batch.max.wait.ms'],
      sessionTimeout: this.opts.sessionTimeoutMs,
      heartbeatInterval: this.opts.sessionTimeoutMs ? Math.max(500, Math.floor(this.opts.sessionTimeoutMs / 10)) : undefined,
      rebalanceTimeout: this.opts.sessionTimeoutMs,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onAssignment(e.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart && !this.stopping) void this.fail(e.payload.error);
    });
    this.topics = this.opts.discoverTopics ? await this.waitForMatchingTopics(this.opts.discoverTopics.match) : config.topicList;
    await this.waitForTopics(this.topics);
    if (this.stopping) return;
    this.startLagPoller();
    this.setState('STARTING', `joining consumer group ${config.groupId}`);
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config['partitions.concurrency'],
      eachBatch: eachFetchedBatch((batch, control) => this.eachBatch(batch, control)),
    });
    this.setState('RUNNING');
    if (this.opts.discoverTopics) this.startDiscovery(this.opts.discoverTopics);
  }

  /** Lists the topics `match` accepts; waits (STARTING, with the reason) until there is one. */
  private async waitForMatchingTopics(match: (topic: string) => boolean): Promise<string[]> {
    const admin = this.opts.kafka.admin();
    await admin.connect();
    try {
      let logged = false;
      for (;;) {
        const found = (await admin.listTopics()).filter(match).sort();
        if (found.length > 0 || this.stopping) return found;
        if (!logged) this.log.info('following the source\'s table selection: waiting for its first table topic');
        logged = true;
        this.setState('STARTING', 'waiting for topics: none of the source\'s tables has a topic yet');
        await sleep(1000);
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** Every intervalMs: a new topic of the source's selection → emit `topics` (the owner restarts this runner). */
  private startDiscovery(d: { readonly match: (topic: string) => boolean; readonly intervalMs: number }): void {
    let busy = false;
    this.discoveryTimer = setInterval(() => {
      if (busy || this.stopping) return;
      busy = true;
      void (async () => {
        const admin = this.opts.kafka.admin();
        try {
          await admin.connect();
          const found = (await admin.listTopics()).filter(d.match).sort();
          const added = found.filter((t) => !this.topics.includes(t));
          if (added.length > 0 && !this.stopping) {
            this.log.info({ added }, `new topics of the source's table selection: ${added.join(', ')}; re-subscribing`);
            this.emit('topics', found);
          }
        } catch (e) {
          this.log.debug({ err: String(e) }, 'topic discovery failed; retrying next interval');
        } finally {
          busy = false;
          await admin.disconnect().catch(() => undefined);
        }
      })();
    }, d.intervalMs);
    this.discoveryTimer.unref();
  }

  /**
   * Waits until every topic exists. A data topic appears when the source first sees its table (a
   * snapshot or the first change), so a sink started first — or an idle table — would otherwise fail
   * its subscription ("does not host this topic-partition") and restart in a loop. Waiting is
   * logged (state STARTING, reason naming the topics; info at once, then a warning every 30 s) so a
   * misspelt topic is visible rather than silent.
   */
  private async waitForTopics(topics: readonly string[]): Promise<void> {
    const admin = this.opts.kafka.admin();
    await admin.connect();
    try {
      const since = Date.now();
      let warnedAt = 0;
      for (;;) {
        const have = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !have.has(t));
        if (missing.length === 0) {
          if (warnedAt > 0) this.log.info({ waitedMs: Date.now() - since }, 'all topics exist; starting');
          return;
        }
        if (this.stopping) return;
        if (warnedAt === 0 || Date.now() - warnedAt >= 30_000) {
          // Normal on a first start (info); still missing after 30 s deserves a look (warn).
          this.log[warnedAt === 0 ? 'info' : 'warn'](
            { missing, waitedMs: Date.now() - since },
            'waiting for topics to exist: the source creates a table\'s topic when it snapshots the table or sees its first change; check the topic names if this persists',
          );
          warnedAt = Date.now();
        }
        this.setState('STARTING', `waiting for topics: ${missing.join(', ')}`);
        await sleep(1000);
      }
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Fetches the end offsets (last stable offsets: the admin client lists offsets read_committed) of
   * the assigned partitions' topics every lagIntervalMs and publishes the lag gauges. One fetch at a
   * time; a failed fetch leaves the lag to turn unknown once the last one is too old.
   */
  private startLagPoller(): void {
    if (this.lagTimer) return;
    const poll = async (): Promise<void> => {
      if (this.lagPolling || this.stopping) return;
      this.lagPolling = true;
      try {
        const topics = this.lagTracker.topics();
        if (topics.length > 0) {
          if (!this.lagAdmin) {
            const admin = this.opts.kafka.admin({ retry: { retries: 1 } });
            await admin.connect();
            if (this.stopping || !this.lagTimer) {
              // stopped while connecting: stopLagPoller() has already run
              await admin.disconnect().catch(() => undefined);
              return;
            }
            this.lagAdmin = admin;
          }
          for (const topic of topics) this.lagTracker.setEnds(topic, await this.lagAdmin.fetchTopicOffsets(topic));
        }
      } catch (e) {
        this.log.debug({ err: e }, 'end offsets fetch failed; lag turns unknown if this persists');
        const admin = this.lagAdmin;
        this.lagAdmin = undefined;
        await admin?.disconnect().catch(() => undefined);
      } finally {
        this.lagPolling = false;
      }
      this.publishLag();
    };
    this.lagTimer = setInterval(() => void poll(), this.lagIntervalMs);
    this.lagTimer.unref();
  }

  private publishLag(): void {
    const snap = this.lagTracker.snapshot();
    const seen = new Set<string>();
    for (const p of snap.partitions) {
      const labels = { ...this.labels, topic: p.topic, partition: String(p.partition) };
      const k = tpKey(p.topic, p.partition);
      if (p.lag === null) continue;
      seen.add(k);
      this.lagSeries.add(k);
      metrics.sinkLag.set(labels, p.lag);
    }
    for (const k of [...this.lagSeries]) {
      if (seen.has(k)) continue;
      const [topic, partition] = k.split('\u0000') as [string, string];
      metrics.sinkLag.remove({ ...this.labels, topic, partition });
      this.lagSeries.delete(k);
    }
    if (snap.timeLagMs === null) metrics.sinkTimeLag.remove(this.labels);
    else metrics.sinkTimeLag.set(this.labels, snap.timeLagMs / 1000);
  }

  private async stopLagPoller(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = undefined;
    const admin = this.lagAdmin;
    this.lagAdmin = undefined;
    await admin?.disconnect().catch(() => undefined);
    for (const k of this.lagSeries) {
      const [topic, partition] = k.split('\u0000') as [string, string];
      metrics.sinkLag.remove({ ...this.labels, topic, partition });
    }
    this.lagSeries.clear();
    metrics.sinkTimeLag.remove(this.labels);
  }

  /** Graceful stop: the in-flight chunk finishes and commits, the consumer leaves the group. */
  async stop(): Promise<void> {
    if (this.current.name === 'STOPPED' && !this.consumer) return;
    this.stopping = true;
    if (this.discoveryTimer) clearInterval(this.discoveryTimer);
    this.discoveryTimer = undefined;
    await this.stopLagPoller();
    try {
      // Leave Kafka's group offsets at the sink's (for lag tools) before leaving the group.
      if (this.consumer && this.committed.size > 0) await this.consumer.commitOffsets(this.offsets()).catch(() => undefined);
      await this.consumer?.disconnect();
    } finally {
      this.consumer = undefined;
      await this.dlq?.stop().catch(() => undefined);
      this.dlq = undefined;
      await this.opts.sink.close().catch((e: unknown) => this.log.warn({ err: e }, 'sink close failed'));
      if (this.current.name !== 'FAILED') this.setState('STOPPED');
    }
  }

  pause(): void {
    if (!this.consumer || this.current.name !== 'RUNNING') return;
    this.consumer.pause(this.topics.map((topic) => ({ topic })));
    this.setState('PAUSED', 'paused through the admin API (resume to continue)');
  }

  /**
   * Resumes a paused sink, and retries every failed table: its partitions re-load their offsets
   * from the sink's store (invariant 5) and the table re-applies from the record that failed.
   */
  resume(): void {
    if (!this.consumer) return;
    const paused = this.current.name === 'PAUSED';
    if (!paused && this.current.name !== 'RUNNING' && this.current.name !== 'RESTARTING') return;
    const retry = [...this.failed.keys()];
    for (const topic of retry) {
      this.failed.delete(topic);
      for (const key of [...this.partitions.keys()]) {
        const [t, part] = key.split('\u0000') as [string, string];
        if (t !== topic) continue;
        this.committed.delete(key);
        this.partitions.set(key, this.loadPartition(t, Number(part), this.generation));
      }
      this.log.info({ topic }, 'retrying a failed table from its stored offset');
    }
    if (paused) {
      this.consumer.resume(this.topics.map((topic) => ({ topic })));
      this.setState('RUNNING');
    } else if (retry.length > 0) {
      this.consumer.resume(retry.map((topic) => ({ topic })));
    }
  }

  /**
   * Stops one table (invariant 5): its topic is paused and listed with the error; nothing of the
   * failing chunk is committed. The other topics of the sink go on.
   */
  private failTable(e: TableStoppedError): void {
    if (this.failed.has(e.topic)) return;
    const stored = this.partitions.get(tpKey(e.topic, e.partition))?.next;
    const entry: FailedTable = {
      topic: e.topic,
      table: e.table,
      partition: e.partition,
      offset: e.offset,
      resumeFrom: stored === undefined || stored === null ? null : stored.toString(),
      error: e.message.replace(/\s*\n\s*/g, ' '),
      since: new Date().toISOString(),
    };
    this.failed.set(e.topic, entry);
    this.noteError(e);
    metrics.sinkErrors.inc({ ...this.labels, kind: 'table_failed' });
    try {
      this.consumer?.pause([{ topic: e.topic }]);
    } catch (err) {
      // Only before consumer.run(); eachBatch drops the topic's batches anyway (it checks `failed`).
      this.log.warn({ err, topic: e.topic }, 'pausing the failed table\'s topic failed; its batches are dropped uncommitted');
    }
    this.log.error(
      { table: entry.table, topic: entry.topic, partition: entry.partition, offset: entry.offset, resumeFrom: entry.resumeFrom, err: entry.error },
      `table ${entry.table ?? entry.topic} stopped (the other tables of the sink go on): ${entry.error}`,
    );
    // a stall of the failed chunk showed the sink RESTARTING; the sink itself runs on
    if (this.current.name === 'RESTARTING') this.setState('RUNNING');
    this.emit('table-failed', entry);
  }

  private async fail(error: Error): Promise<void> {
    if (this.current.name === 'FAILED') return;
    this.noteError(error);
    void this.stopLagPoller();
    this.log.error({ err: error }, 'sink stopped');
    this.setState('FAILED', error.message);
    this.stopping = true;
    // Leave the group from outside the eachBatch call that failed.
    setImmediate(() => {
      const c = this.consumer;
      this.consumer = undefined;
      void (async () => {
        await c?.disconnect().catch(() => undefined);
        await this.dlq?.stop().catch(() => undefined);
        await this.opts.sink.close().catch(() => undefined);
        this.emit('failed', error);
      })();
    });
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    const generation = ++this.generation;
    const assigned = new Set<string>();
    for (const [topic, parts] of Object.entries(assignment)) {
      for (const partition of parts) {
        assigned.add(tpKey(topic, partition));
        this.partitions.set(tpKey(topic, partition), this.loadPartition(topic, partition, generation));
      }
    }
    for (const key of [...this.partitions.keys()]) if (!assigned.has(key)) this.partitions.delete(key);
    for (const key of [...this.committed.keys()]) if (!assigned.has(key)) this.committed.delete(key);
    this.lagTracker.assign(Object.entries(assignment).flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition }))));
    this.log.info({ assignment, generation }, 'partitions assigned');
    // A failed table stays stopped across rebalances (invariant 5).
    if (this.failed.size > 0) {
      try {
        this.consumer?.pause([...this.failed.keys()].map((topic) => ({ topic })));
      } catch (err) {
        this.log.debug({ err }, 're-pausing failed tables after a rebalance failed; their batches are dropped uncommitted');
      }
    }
  }

  /**
   * Loads the partition's stored offset and seeks there. No stored offset means "never consumed"
   * (start where Kafka says: the earliest offset for a new group) — unless the store lost it:
   * after a regression (`earliestIfMissing`), or when the Kafka group has a committed offset (this
   * sink consumed the partition before, so its checkpoint was wiped while the daemon was down).
   * Then replay from the partition's earliest offset rather than continue where Kafka's group offset
   * is (for a compacted topic this rebuilds the store).
   */
  private loadPartition(topic: string, partition: number, generation: number, earliestIfMissing = false): PartitionState {
    const state: PartitionState = {
      generation,
      synced: false,
      next: null,
      loaded: this.retrying('loadOffsets', async () => {
        const found = await this.opts.sink.loadOffsets([{ topic, partition }]);
        const stored = found.find((o) => o.topic === topic && o.partition === partition)?.offset ?? null;
        if (stored !== null) return stored;
        if (earliestIfMissing) return this.earliestOffset(topic, partition);
        const group = await this.groupOffset(topic, partition);
        if (group === null) return null;
        const earliest = await this.earliestOffset(topic, partition);
        this.log.error(
          { topic, partition, kafkaGroupOffset: group, replayFrom: earliest },
          'the sink store has no offset for a partition this consumer group already consumed (checkpoint deleted, store wiped or restarted without persistence); replaying from the earliest offset',
        );
        metrics.sinkErrors.inc({ ...this.labels, kind: 'offsets_regressed' });
        return earliest;
      }).then((offset) => {
        if (this.generation === generation) this.lagTracker.setStored(topic, partition, offset);
        if (offset !== null) this.replayProgress(partition, offset);
        if (offset !== null) {
          state.next = BigInt(offset);
          try {
            this.consumer?.seek({ topic, partition, offset });
          } catch (e) {
            this.log.warn({ err: e, topic, partition }, 'seek failed; batches are dropped until one is fetched from the stored offset');
          }
        }
        return offset;
      }),
    };
    return state;
  }

  /** Replay mode: tells the driver once a partition's stored offset reached its stop offset. */
  private replayProgress(partition: number, next: string): void {
    const replay = this.opts.replay;
    if (!replay || this.replayDone.has(partition)) return;
    const until = replay.until.get(partition);
    if (until === undefined || BigInt(next) >= until) {
      this.replayDone.add(partition);
      replay.onPartitionDone(partition);
    }
  }

  /** The consumer group's committed Kafka offset for a partition, null when none. */
  private async groupOffset(topic: string, partition: number): Promise<string | null> {
    const admin = this.opts.kafka.admin();
    try {
      await admin.connect();
      const [t] = await admin.fetchOffsets({ groupId: this.opts.config.groupId, topics: [topic] });
      const off = t?.partitions.find((p) => p.partition === partition)?.offset;
      return off === undefined || BigInt(off) < 0n ? null : off;
    } catch (e) {
      throw new SinkError(`reading the Kafka group offset of ${topic}/${partition} failed: ${(e as Error).message}`, { retriable: true, cause: e });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Low watermark of a partition (the earliest offset still in Kafka). */
  private async earliestOffset(topic: string, partition: number): Promise<string> {
    const admin = this.opts.kafka.admin();
    try {
      await admin.connect();
      const offs = await admin.fetchTopicOffsets(topic);
      const low = offs.find((o) => o.partition === partition)?.low;
      if (low === undefined) throw new Error(`partition ${partition} not found`);
      return low;
    } catch (e) {
      throw new SinkError(`reading the earliest offset of ${topic}/${partition} failed: ${(e as Error).message}`, { retriable: true, cause: e });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** The sink's store lost committed offsets: re-load and re-seek those partitions (invariant 4). */
  private reseek(e: OffsetsRegressedError): void {
    this.log.error(
      {
        sink: this.opts.config.name,
        partitions: e.partitions.map((p) => ({ topic: p.topic, partition: p.partition, stored: p.stored, lastCommitted: p.expected, lostRange: `[${p.stored ?? 'earliest'}, ${p.expected})` })),
        cause: e.message,
      },
      'sink store lost committed offsets (it was rolled back or wiped); re-seeking the partitions to the stored offsets and replaying the lost range',
    );
    metrics.sinkErrors.inc({ ...this.labels, kind: 'offsets_regressed' });
    for (const p of e.partitions) {
      const key = tpKey(p.topic, p.partition);
      if (!this.partitions.has(key)) continue; // revoked meanwhile: the next owner loads from the store anyway
      this.committed.delete(key);
      this.partitions.set(key, this.loadPartition(p.topic, p.partition, this.generation, true));
    }
  }

  private async eachBatch(batch: FetchedBatch, control: BatchControl): Promise<void> {
    const { resolveOffset, heartbeat, isRunning, isStale } = control;
    const { topic, partition } = batch;
    // A failed table's batches are left unresolved and uncommitted (invariant 5).
    if (this.stopping || this.failed.has(topic)) return;
    let p = this.partitions.get(tpKey(topic, partition));
    if (!p) {
      // A batch before our GROUP_JOIN handler ran (should not happen): load now.
      p = this.loadPartition(topic, partition, this.generation);
      this.partitions.set(tpKey(topic, partition), p);
    }
    const stored = await p.loaded;
    if (!isRunning() || isStale() || this.stopping) return;
    if (!p.synced) {
      const fetchedOffset = batch.fetchedOffset;
      if (stored === null || fetchedOffset === stored) {
        p.synced = true;
      } else {
        // Fetched before our seek took effect: drop it and make sure the seek is pending.
        this.log.debug({ topic, partition, fetchedOffset, stored }, 'dropping batch fetched before the seek');
        this.consumer?.seek({ topic, partition, offset: stored });
        return;
      }
    }
    let messages = batch.messages.filter((m) => p.next === null || BigInt(m.offset) >= p.next);
    // Replay mode: nothing at or past the stop offset is processed — nor stored as consumed.
    const until = this.opts.replay ? (this.opts.replay.until.get(partition) ?? 0n) : undefined;
    let cut = false;
    if (until !== undefined) {
      const before = messages.length;
      messages = messages.filter((m) => BigInt(m.offset) < until);
      cut = messages.length < before;
    }
    const maxRecords = this.opts.config['batch.max.records'];
    const maxBytes = this.opts.config['batch.max.bytes'];
    let i = 0;
    while (i < messages.length) {
      if (!isRunning() || isStale() || this.stopping || this.failed.has(topic)) return;
      // The oldest record fetched but not applied yet: its age is the partition's time lag.
      this.lagTracker.setPending(topic, partition, Number(messages[i]!.timestamp));
      const records: SinkRecord[] = [];
      const rejected: RejectedRecord[] = [];
      let skipped = 0;
      let bytes = 0;
      let lastOffset = '';
      while (i < messages.length && records.length + rejected.length + skipped < maxRecords) {
        const m = messages[i]!;
        const size = recordBytes(m);
        if (bytes > 0 && bytes + size > maxBytes) break;
        bytes += size;
        const raw = { key: m.key, value: m.value, offset: m.offset, headers: m.headers };
        const decoded = this.opts.replay ? this.opts.replay.decode(topic, partition, raw) : decodeMessage(topic, partition, raw);
        if (decoded.ok === 'skip') skipped++;
        else if (decoded.ok) records.push(decoded.record);
        else rejected.push(decoded.rejected);
        lastOffset = m.offset;
        i++;
      }
      const chunk: SinkBatch = { topic, partition, records };
      // The last chunk also covers what trails the data in the fetched batch (transaction markers,
      // aborted records): without it a caught-up partition would stay one marker behind, show lag 1,
      // and re-fetch the marker after every restart.
      // (Not when the replay cut the batch at its stop offset: what trails is unprocessed records.)
      const tail = i === messages.length && !cut ? BigInt(batch.lastOffset()) : -1n;
      const next = ((tail > BigInt(lastOffset) ? tail : BigInt(lastOffset)) + 1n).toString();
      const ok = await this.processChunk(chunk, rejected, skipped, next, heartbeat, () => !isRunning() || isStale());
      if (!ok) return;
      p.next = BigInt(next);
      resolveOffset((BigInt(next) - 1n).toString());
      this.committed.set(tpKey(topic, partition), { topic, partition, offset: next });
      this.lagTracker.setStored(topic, partition, next);
      this.lagTracker.setPending(topic, partition, i < messages.length ? Number(messages[i]!.timestamp) : null);
      await heartbeat().catch((e: unknown) => this.log.debug({ err: e }, 'heartbeat failed'));
      this.replayProgress(partition, next);
    }
    if (p.next !== null) this.replayProgress(partition, p.next.toString());
    const done = this.committed.get(tpKey(topic, partition));
    if (done) {
      // Kafka's group offset is for lag tools only (the sink's store is authoritative): at most once a second per partition.
      const key = tpKey(topic, partition);
      if (Date.now() - (this.kafkaCommittedAt.get(key) ?? 0) >= 1000) {
        this.kafkaCommittedAt.set(key, Date.now());
        await this.consumer?.commitOffsets([done]).catch((e: unknown) => this.log.debug({ err: e }, 'kafka offset commit failed (harmless)'));
      }
    }
  }

  /** write → route rejected → commit, retried on retriable errors. Returns false when the runner stops or fails. */
  private async processChunk(chunk: SinkBatch, decodeRejected: RejectedRecord[], skipped: number, next: string, heartbeat: () => Promise<void>, abandoned: () => boolean): Promise<boolean> {
    const started = process.hrtime.bigint();
    const { sink } = this.opts;
    let staleSkipped = 0;
    let rejectedCount = 0;
    let routed: readonly RejectedRecord[] = [];
    // Heartbeats go on while the sink writes (a bulk request may take up to its timeout): the
    // consumer's session timeout is short so that a crashed daemon's partitions move quickly.
    // A server that accepts connections but does not answer (frozen, overloaded) only fails after
    // the sink's request timeout; the state says so before that.
    const since = Date.now();
    let stalled = false;
    const keepAlive = setInterval(() => {
      void heartbeat().catch(() => undefined);
      const waited = Date.now() - since;
      if (waited >= STALL_AFTER_MS && this.current.name === 'RUNNING') {
        stalled = true;
        this.setState('RESTARTING', `batch ${chunk.topic}/${chunk.partition}@${next}: no answer from the sink for ${Math.round(waited / 1000)} s (still waiting; it is retried if the request times out)`);
      }
    }, 1000);
    keepAlive.unref();
    const done = await this.retrying(
      `batch ${chunk.topic}/${chunk.partition}@${next}`,
      async () => {
        const result = chunk.records.length > 0 ? await sink.write(chunk) : { rejected: [], staleSkipped: 0 };
        const rejected = [...decodeRejected, ...result.rejected];
        await this.route(rejected);
        await sink.commit([{ topic: chunk.topic, partition: chunk.partition, offset: next }]);
        staleSkipped = result.staleSkipped;
        rejectedCount = rejected.length;
        routed = rejected;
      },
      heartbeat,
      abandoned,
    ).then(
      () => true,
      (e: unknown) => {
        if (e instanceof OffsetsRegressedError && !this.stopping) this.reseek(e);
        else if (e instanceof TableStoppedError && !this.stopping) this.failTable(e);
        else if (!this.stopping && !(e instanceof AbandonedError)) void this.fail(e instanceof Error ? e : new Error(String(e)));
        return false;
      },
    ).finally(() => clearInterval(keepAlive));
    if (!done) return false;
    if (stalled && this.current.name === 'RESTARTING') this.setState('RUNNING');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const applied = chunk.records.length - rejectedCount + decodeRejected.length;
    this.m.records.inc(Math.max(0, applied));
    this.stats.records += Math.max(0, applied);
    this.m.batchSize.observe(chunk.records.length + decodeRejected.length);
    this.m.batchLatency.observe(seconds);
    if (staleSkipped > 0) this.m.stale.inc(staleSkipped);
    const now = Date.now();
    for (const r of chunk.records) {
      const ts = r.source?.ts_ms;
      if (typeof ts === 'number') {
        const ms = Math.max(0, now - ts);
        this.m.endToEnd.observe(ms / 1000);
        this.stats.latencySumMs += ms;
        this.stats.latencyCount++;
      }
    }
    this.opts.onCommitted?.(chunk, { rejected: routed, staleSkipped, skipped, next });
    return true;
  }

  private async route(rejected: readonly RejectedRecord[]): Promise<void> {
    if (rejected.length === 0) return;
    metrics.sinkErrors.inc({ ...this.labels, kind: 'rejected' }, rejected.length);
    const policy = this.opts.config['errors.tolerance'];
    if (policy === 'none') {
      const first = rejected[0]!;
      const { topic, partition, offset, source } = first.record;
      const table = source ? `${source.schema}.${source.table}` : null;
      const { name } = this.opts.config;
      throw new TableStoppedError(
        `sink "${name}" cannot apply ${table === null ? `topic ${topic}` : `table ${table}`} at ${topic}/${partition}@${offset}: ${first.error.message}` +
          ` — errors.tolerance=none stops this table at that record (nothing past it is applied; the other tables go on).` +
          ` Fix the cause, then resume the sink (POST /pipelines/${this.opts.pipeline}/sinks/${name}/resume) or restart it: the table re-applies from where it stopped.` +
          ` Or set errors.tolerance to "dlq" or "skip" to route such records and continue`,
        topic,
        partition,
        offset,
        table,
        { cause: first.error },
      );
    }
    if (policy === 'dlq') {
      try {
        await this.dlq!.send(rejected);
      } catch (e) {
        throw new SinkError(`dead-letter produce to ${this.opts.config.dlqTopic} failed: ${(e as Error).message}`, { retriable: true, cause: e });
      }
      metrics.sinkDlq.inc(this.labels, rejected.length);
      this.stats.dlq += rejected.length;
    }
    for (const r of rejected) {
      this.log.warn({ topic: r.record.topic, partition: r.record.partition, offset: r.record.offset, error: r.error.message, policy }, 'record rejected');
    }
  }

  /**
   * Runs `fn` until it succeeds; retries retriable SinkErrors. Gives up (AbandonedError) when the
   * runner stops or the partition was revoked/re-seeked meanwhile — the batch is then simply not
   * committed and will be read again by whoever owns the partition.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>, heartbeat?: () => Promise<void>, abandoned?: () => boolean): Promise<T> {
    const cfg = {
      initialMs: this.opts.config['errors.retry.initial.backoff.ms'],
      maxMs: this.opts.config['errors.retry.max.backoff.ms'],
      jitter: this.opts.config['errors.retry.jitter'],
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await fn();
        if (attempt > 1) this.log.info({ what, attempts: attempt }, 'recovered after retries');
        // Also after a re-seek (the failed chunk was dropped, its replacement succeeds at once).
        if (this.current.name === 'RESTARTING') this.setState('RUNNING');
        return out;
      } catch (e) {
        // A regression is not retried as is: the chunk is dropped and the partition re-seeked.
        const retriable = e instanceof SinkError && e.retriable && !(e instanceof OffsetsRegressedError);
        if (!retriable || this.stopping) throw e;
        this.noteError(e);
        metrics.sinkErrors.inc({ ...this.labels, kind: 'retriable' });
        const delay = backoffDelay(attempt, cfg);
        this.log.warn({ what, attempt, delayMs: delay, err: e.message }, 'retriable sink error; retrying');
        // The state says so at once (the daemon's /ready turns not-ready): RUNNING → RESTARTING; a
        // start that cannot open the sink stays STARTING, with the reason.
        const reason = `${e.message.replace(/\s*\n\s*/g, ' ')} — retry ${attempt} at ${new Date(Date.now() + delay).toISOString().slice(11, 19)} UTC`;
        if (this.current.name === 'RUNNING' || this.current.name === 'RESTARTING') this.setState('RESTARTING', reason);
        else if (this.current.name === 'STARTING') this.setState('STARTING', reason);
        const until = Date.now() + delay;
        while (Date.now() < until) {
          if (this.stopping) throw e;
          if (abandoned?.()) throw new AbandonedError(what);
          await sleep(Math.min(500, until - Date.now()));
          await heartbeat?.().catch(() => undefined);
        }
      }
    }
  }
}
