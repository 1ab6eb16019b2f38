/**
 * PostgresSource — the coordinator: preflight + replication setup, offsets recovery, snapshot (per
 * snapshot.mode), then streaming; start/stop; status.
 *
 * Start-up order (each step relies on the one before):
 *  1. Postgres checks, captured tables, publication.
 *  2. Kafka: offsets topic exists; the transactional producer initialises `cdc-fanout-<name>`
 *     (fences any older instance and aborts its open transaction); then the offsets topic is read
 *     to its end (read_committed) → last committed position.
 *  3. Slot: create (exporting a snapshot when one is needed) or reuse; fail clearly when active.
 *  4. Snapshot (new, or resumed from its checkpoint), then streaming from the slot, dropping every
 *     event at or below the stored position.
 */
import pg from 'pg';
import type { KafkaConfig } from '../kafka/config.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { formatLsn, parseLsn, type Position } from '../events/change.js';
import { TypeRegistry } from '../events/type-registry.js';
import { TopicAdmin, topicDefaults } from '../kafka/admin.js';
import { readStoredOffset, type StoredOffset } from '../kafka/offsets-store.js';
import { ProducerFencedError, TransactionalProducer } from '../kafka/producer.js';
import { eventsOptions, offsetsTopic, parseSourceConfig, transactionalId, type SourceConfig } from './config.js';
import {
  checkServer,
  checkSlot,
  clientConfig,
  createSlot,
  createSlotExportingSnapshot,
  dropSlot,
  ensurePublication,
  resolveTables,
  slotInfo,
  type ExportedSlot,
} from './connection.js';
import { Heartbeat } from './heartbeat.js';
import { kafkaClient } from '../kafka/client.js';
import { OversizeGuard } from './oversize.js';
import { Publisher, type CommittedBatch } from './publisher.js';
import { createRecordBuilder } from './record-adapter.js';
import { RelationCache } from './relations.js';
import { Snapshotter, type SnapshotProgress } from './snapshotter.js';
import { StreamingSource, storedPosition } from './streaming.js';

export type SourceState = 'created' | 'starting' | 'snapshotting' | 'streaming' | 'stopping' | 'stopped' | 'failed';

export interface SourceStatus {
  readonly state: SourceState;
  /** Last position committed to Kafka (`X/Y`, seq). */
  readonly lastCommittedLsn: string | null;
  readonly lastCommittedSeq: number | null;
  /** Last LSN confirmed to Postgres. */
  readonly confirmedLsn: string | null;
  readonly eventsPublished: number;
  readonly kafkaTransactions: number;
  readonly snapshot: SnapshotProgress | null;
  readonly error: string | null;
}

export class PostgresSource {
  readonly config: SourceConfig;
  private state: SourceState = 'created';
  private error: unknown = null;
  private lastCommitted: StoredOffset | null = null;
  private eventsPublished = 0;
  private kafkaTransactions = 0;
  private snapshotter: Snapshotter | null = null;
  private streaming: StreamingSource | null = null;
  private producer: TransactionalProducer | null = null;
  private admin: TopicAdmin | null = null;
  private publisher: Publisher | null = null;
  private heartbeat: Heartbeat | null = null;
  private running: Promise<void> = Promise.resolve();
  private readonly listeners: ((batch: CommittedBatch) => void)[] = [];

  constructor(
    config: SourceConfig | Record<string, unknown>,
    private readonly kafkaConfig: KafkaConfig,
    private readonly logger: Logger,
  ) {
    this.config = parseSourceConfig(config);
  }

  status(): SourceStatus {
    return {
      state: this.state,
      lastCommittedLsn: this.lastCommitted?.last_commit_lsn ?? null,
      lastCommittedSeq: this.lastCommitted?.last_seq ?? null,
      confirmedLsn: this.streaming && this.streaming.confirmedLsn > 0n ? formatLsn(this.streaming.confirmedLsn) : null,
      eventsPublished: this.eventsPublished,
      kafkaTransactions: this.kafkaTransactions,
      snapshot: this.snapshotter ? { ...this.snapshotter.progress } : null,
      error: this.error ? String((this.error as Error).message ?? this.error) : null,
    };
  }

  /** Observe every Kafka commit (latency measurements, tests). */
  onCommitted(fn: (batch: CommittedBatch) => void): void {
    this.listeners.push(fn);
  }

  /** Resolves when the source stopped cleanly; rejects with the fatal error otherwise. */
  whenStopped(): Promise<void> {
    return this.running;
  }

  /** Sets up and starts the pipeline; returns once setup is done (snapshot/streaming run on). */
  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`source already ${this.state}`);
    this.state = 'starting';
    const cfg = this.config;
    const log = this.logger.child({ connector: cfg.name });
    const pgClient = new pg.Client(clientConfig(cfg));
    let exported: ExportedSlot | null = null;
    try {
      await pgClient.connect();
      await checkServer(pgClient, cfg);
      const tables = await resolveTables(pgClient, cfg, log);
      await ensurePublication(pgClient, cfg, tables, log);

      const kafka = kafkaClient(this.kafkaConfig, { logger: log });
      const topic = offsetsTopic(cfg);
      this.admin = new TopicAdmin(kafka, topicDefaults(this.kafkaConfig));
      await this.admin.connect();
      await this.admin.ensureOffsetsTopic(topic);
      // Check the slot before fencing: a running instance shows up as an active slot.
      let slot = await slotInfo(pgClient, cfg['slot.name']);
      checkSlot(slot, cfg);
      const admin = this.admin;
      this.producer = new TransactionalProducer(this.kafkaConfig, {
        transactionalId: transactionalId(cfg),
        transactionTimeoutMs: cfg['kafka.transaction.timeout.ms'],
        logger: log,
        batchLimit: (t) => admin.batchLimit(t),
      });
      await this.producer.connect();
      let stored = await readStoredOffset(kafka, topic, cfg.name, await this.admin.highWatermark(topic));
      this.lastCommitted = stored;
      log.info({ stored, slot: { exists: slot.exists, confirmedFlushLsn: slot.confirmedFlushLsn === null ? null : formatLsn(slot.confirmedFlushLsn) } }, 'recovered position');

      const builder = createRecordBuilder(eventsOptions(cfg), cfg['database.dbname']);
      // Data topics of every captured table up front (tables added later: on their first Relation message).
      const extra = [builder.messageTopic, ...(cfg['provide.transaction.metadata'] ? [builder.transactionTopic] : [])];
      await this.admin.ensureTopics([...tables.map((t) => builder.topicFor(t)), ...extra]);
      const relations = new RelationCache(new TypeRegistry(pgClient), pgClient);
      this.publisher = new Publisher(this.producer, {
        offsetsTopic: topic,
        maxBatchSize: cfg['max.batch.size'],
        maxBatchBytes: this.kafkaConfig['max.request.size'],
        maxBatchWaitMs: cfg['max.batch.wait.ms'],
        maxQueueSize: cfg['max.queue.size'],
        onCommitted: (b) => this.committed(b),
        onFailure: (e) => this.streaming?.abort(e),
      });

      // Decide snapshot vs streaming.
      const mode = cfg['snapshot.mode'];
      const wantsSnapshot = mode !== 'never';
      let snapshot: { cp: bigint; name: string | null; resume: StoredOffset['snapshot'] } | null = null;
      if (stored?.snapshot && !stored.snapshot.completed && slot.exists) {
        snapshot = { cp: parseLsn(stored.snapshot.consistent_lsn), name: null, resume: stored.snapshot };
      } else if (!slot.exists || (!stored && wantsSnapshot)) {
        if (slot.exists) {
          // Slot without any committed offset: nothing was published from it; recreate it to get an
          // exported snapshot consistent with it.
          log.warn({ slot: cfg['slot.name'] }, 'slot exists but no offsets were committed; recreating it for the initial snapshot');
          await dropSlot(pgClient, cfg['slot.name']);
        }
        const needSnapshot = wantsSnapshot && (!stored || mode === 'when_needed');
        if (needSnapshot) {
          exported = await createSlotExportingSnapshot(cfg);
          snapshot = { cp: exported.consistentPoint, name: exported.snapshotName, resume: null };
          stored = null;
          log.info({ slot: cfg['slot.name'], consistentPoint: formatLsn(exported.consistentPoint) }, 'created slot with exported snapshot');
        } else {
          const lsn = await createSlot(pgClient, cfg);
          if (stored) {
            log.error(
              { slot: cfg['slot.name'] },
              'the replication slot was missing although offsets exist: changes made while it was missing are lost. Use snapshot.mode=when_needed to re-snapshot in this case.',
            );
          }
          log.info({ slot: cfg['slot.name'], lsn: formatLsn(lsn) }, 'created slot');
        }
      }
      slot = await slotInfo(pgClient, cfg['slot.name']);

      const guard = new OversizeGuard(cfg['event.oversize.handling.mode'], admin, this.kafkaConfig['max.request.size'], cfg.name, log);
      const deps = { config: cfg, relations, builder, publisher: this.publisher, guard, admin, logger: log };
      this.streaming = new StreamingSource({ ...deps, stored: storedPosition(stored) });
      const streaming = this.streaming;
      this.heartbeat = new Heartbeat(cfg['heartbeat.interval.ms'], cfg['heartbeat.action.query'], clientConfig(cfg), () => streaming.heartbeat(), log);

      const snap = snapshot;
      const exportedSlot = exported;
      exported = null;
      this.running = (async () => {
        try {
          if (snap) {
            this.state = 'snapshotting';
            this.snapshotter = new Snapshotter(deps);
            let lastSeq: number;
            try {
              lastSeq = await this.snapshotter.run(tables, snap.cp, snap.name, snap.resume);
            } finally {
              await exportedSlot?.close().catch(() => undefined);
            }
            const p: Position = { commitLsn: snap.cp, seq: lastSeq };
            streaming.setStored(p);
            if (mode === 'initial_only') {
              log.info('snapshot.mode=initial_only: snapshot done, not streaming');
              return;
            }
          }
          if (this.state === 'stopping') return;
          this.state = 'streaming';
          this.heartbeat?.start();
          log.info('streaming started');
          await streaming.run();
        } catch (e) {
          if (this.state === 'stopping' && !(e instanceof ProducerFencedError)) return;
          this.state = 'failed';
          this.error = e;
          log.error({ err: e }, 'source failed');
          await this.shutdown();
          throw e;
        }
      })();
      this.running.catch(() => undefined);
    } catch (e) {
      this.state = 'failed';
      this.error = e;
      await exported?.close().catch(() => undefined);
      await this.shutdown();
      throw e;
    } finally {
      // TypeRegistry keeps using pgClient for catalog lookups while running; closed in shutdown.
      this.pgClient = pgClient;
    }
  }

  private pgClient: pg.Client | null = null;

  private async committed(b: CommittedBatch): Promise<void> {
    this.lastCommitted = b.offset;
    this.eventsPublished += b.events;
    this.kafkaTransactions++;
    metrics.sourceEventsPublished.inc({ pipeline: this.config.name }, b.events);
    metrics.sourceTransactionsCommitted.inc({ pipeline: this.config.name });
    for (const t of b.commitTimesMs) metrics.sourceCommitLatency.observe({ pipeline: this.config.name }, (b.kafkaCommitMs - t) / 1000);
    for (const l of this.listeners) l(b);
    // Only now, after the Kafka commit: confirm to Postgres (no-op while snapshotting).
    if (this.state === 'streaming' && !b.offset.snapshot) await this.streaming?.confirm(parseLsn(b.offset.last_commit_lsn));
  }

  /** Stops reading, commits what is complete, aborts a partial transaction, closes everything. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'created') {
      this.state = 'stopped';
      return;
    }
    if (this.state !== 'failed') this.state = 'stopping';
    this.snapshotter?.stop();
    await this.streaming?.stop().catch(() => undefined);
    await this.running.catch(() => undefined);
    if (this.publisher && !this.publisher.failed && !this.publisher.hasPartial) await this.publisher.flush().catch(() => undefined);
    await this.shutdown();
    if (this.config['slot.drop.on.stop']) {
      const c = new pg.Client(clientConfig(this.config));
      await c.connect();
      await dropSlot(c, this.config['slot.name']).finally(() => c.end());
    }
    if (this.state !== 'failed') this.state = 'stopped';
  }

  private async shutdown(): Promise<void> {
    this.publisher?.close();
    await this.heartbeat?.stop();
    await this.producer?.close();
    await this.admin?.close();
    await this.pgClient?.end().catch(() => undefined);
    this.pgClient = null;
  }
}
