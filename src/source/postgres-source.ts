/**
 * PostgresSource — the coordinator: preflight + replication setup, offsets recovery, snapshot (per
 * snapshot.mode), then streaming; start/stop; status.
 *
 * Start-up order (each step relies on the one before):
 * -1. The server (connection.ts resolveServers): the primary of database.hosts — or the standby to
 *     decode on, plus the primary for writes — asked anew at every start, so the restart after a
 *     failover connects to the promoted standby. `config` is pinned to it from then on.
 *  0. Leadership lease (leader-lease.ts): while another daemon runs this pipeline's source, wait as
 *     `standby` (start() has not resolved; the daemon shows STANDBY) and poll; go on only holding
 *     the lease with the slot free. The lease is held until shutdown; losing it fails the source.
 *  1. Postgres checks, captured tables, publication.
 *  2. Kafka: offsets topic exists; the transactional producer initialises `cdc-fanout-<name>`
 *     (fences any older instance and aborts its open transaction); then the offsets topic is read
 *     to its end (read_committed) → last committed position.
 *  3. Slot: create (exporting a snapshot when one is needed) or reuse; fail clearly when active.
 *  4. Snapshot (new, or resumed from its checkpoint), then streaming from the slot, dropping every
 *     event at or below the stored position.
 */
import pg from 'pg';
import { certificateVerifyFailure } from '../spec/tls.js';
import type { KafkaConfig } from '../kafka/config.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { formatLsn, parseLsn, type Position } from '../events/change.js';
import { TypeRegistry } from '../events/type-registry.js';
import { TopicAdmin, topicDefaults } from '../kafka/admin.js';
import { ownershipRecord, readPipelineState, type SlotOwnership, type StoredOffset } from '../kafka/offsets-store.js';
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
  ensureSlotFailover,
  failoverVersionProblem,
  identifySystem,
  publishedTables,
  resolveServers,
  resolveTables,
  slotInfo,
  slotSample,
  standbySnapshotNudger,
  waitForReplay,
  type ExportedSlot,
  type ResolvedServers,
} from './connection.js';
import { PRIMARY_HA_SQL, primaryFailoverProblems, primaryHaSettings, type PrimaryHaRow } from './ha-settings.js';
import { LeaderLease, standbyReason } from './leader-lease.js';
import { SlotHealthTracker, type SlotHealth } from './slot-health.js';
import { committedWatermark, ownershipInput, planSlot } from './slot-ownership.js';
import { Heartbeat } from './heartbeat.js';
import { kafkaClient } from '../kafka/client.js';
import { OversizeGuard } from './oversize.js';
import { Publisher, publisherOptions, type CommittedBatch } from './publisher.js';
import { createRecordBuilder } from './record-adapter.js';
import { RelationCache } from './relations.js';
import { Snapshotter, type SnapshotProgress } from './snapshotter.js';
import { SnapshotTables, type TableSnapshotStatus } from './snapshot-tables.js';
import { StreamingSource, storedPosition } from './streaming.js';
import { TableLifecycle, type TableLifecycleStatus } from './table-lifecycle.js';
import { IncrementalSnapshot, type IncrementalStatus, type StartRequest } from './incremental-snapshot.js';
import { runAdHocSnapshot } from './adhoc-snapshot.js';

/** A snapshot request (signal table, CLI, admin API). */
export type SnapshotRequest =
  | { readonly kind: 'execute'; readonly tables: readonly string[]; readonly conditions?: Readonly<Record<string, string>>; readonly type?: 'incremental' | 'blocking' }
  | { readonly kind: 'pause' | 'resume' }
  /** `tables`: stop only these (Debezium's stop-snapshot data-collections); none: stop it all. */
  | { readonly kind: 'stop'; readonly tables?: readonly string[] };

export type SourceState = 'created' | 'standby' | 'starting' | 'snapshotting' | 'streaming' | 'stopping' | 'stopped' | 'failed';

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
  /**
   * Per-table progress of every snapshot this source ran (initial, tables added while streaming,
   * ad-hoc), in the order they began; with `snapshotTables` from the constructor, also those of the
   * earlier sources that shared it.
   */
  readonly snapshotTables: readonly TableSnapshotStatus[];
  readonly error: string | null;
  /** Last slot health poll (slot-health.ts), null before the first one or when disabled. */
  readonly slot: SlotHealth | null;
  /** Tables that joined the selection and wait for (or are in) their snapshot (table-lifecycle.ts). */
  readonly tables: TableLifecycleStatus | null;
  /** While `standby`: why it waits (who holds the lease or the slot). */
  readonly standby: string | null;
  /** The incremental snapshot (running, paused or the last one finished), null when none was started. */
  readonly incremental: IncrementalStatus | null;
}

/** Observer of the leadership wait: the reason while waiting as standby, null once it takes over. */
export type StandbyListener = (reason: string | null) => void;

export class PostgresSource {
  private cfg: SourceConfig;
  /** The primary's settings for writes when decoding on a standby (else null: the source's own server). */
  private primaryCfg: SourceConfig | null = null;
  private writer: pg.Client | null = null;
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
  private lifecycle: TableLifecycle | null = null;
  private incremental: IncrementalSnapshot | null = null;
  private running: Promise<void> = Promise.resolve();
  private slotHealth: SlotHealth | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private healthClient: pg.Client | null = null;
  private healthBusy = false;
  private lastWarning = { text: '', at: 0 };
  /** A fatal condition found outside the snapshot/stream loops (slot health), reported as the failure. */
  private pendingFatal: Error | null = null;
  private watermarkAt = 0;
  private readonly listeners: ((batch: CommittedBatch) => void)[] = [];
  private lease: LeaderLease | null = null;
  private standbyText: string | null = null;
  private standbyListener: StandbyListener | null = null;
  /** Set by stop(): ends the standby wait. */
  private stopRequested = false;
  private wake: (() => void) | null = null;

  private readonly snapshotTables: SnapshotTables;

  /**
   * `snapshotTables`: pass the same one to each source a restart creates for one pipeline to keep
   * the tables an earlier source finished in status (unfinished ones are dropped on start).
   */
  constructor(
    config: SourceConfig | Record<string, unknown>,
    private readonly kafkaConfig: KafkaConfig,
    private readonly logger: Logger,
    snapshotTables?: SnapshotTables,
  ) {
    this.cfg = parseSourceConfig(config);
    this.snapshotTables = snapshotTables ?? new SnapshotTables();
  }

  /** The source config; once start() picked the server (database.hosts), pinned to it. */
  get config(): SourceConfig {
    return this.cfg;
  }

  /** Where writes go (e.g. the signal table): the primary when decoding on a standby, else `config`. */
  get writeConfig(): SourceConfig {
    return this.primaryCfg ?? this.cfg;
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
      snapshotTables: this.snapshotTables.list(),
      error: this.error ? String((this.error as Error).message ?? this.error) : null,
      slot: this.slotHealth,
      tables: this.lifecycle?.status() ?? null,
      standby: this.state === 'standby' ? this.standbyText : null,
      incremental: this.incremental?.status() ?? null,
    };
  }

  /** Observe the standby wait (the daemon shows STANDBY with the reason). */
  onStandby(fn: StandbyListener): void {
    this.standbyListener = fn;
  }

  /**
   * Waits until this process holds the leadership lease and the slot is free (see leader-lease.ts).
   * Returns false when stop() was called meanwhile. Errors (Postgres unreachable) propagate: the
   * supervisor restarts the source, which waits again.
   */
  private async lead(log: Logger): Promise<boolean> {
    const lease = new LeaderLease(this.config);
    this.lease = lease;
    const every = this.config['standby.poll.interval.ms'];
    let lastReason = '';
    for (;;) {
      if (this.stopRequested) return false;
      const a = await lease.tryAcquire();
      if (a.kind === 'acquired') break;
      if (a.kind === 'foreign') {
        // Not another instance of this pipeline: no lease; the slot checks below fail loudly.
        log.warn({ slot: this.config['slot.name'] }, `${a.what}: not an instance of pipeline "${this.config.name}", so not waiting as standby`);
        await lease.release();
        this.lease = null;
        break;
      }
      const reason = standbyReason(a, this.config['slot.name']);
      this.standbyText = reason;
      if (this.state !== 'standby' || reason !== lastReason) {
        log.info({ slot: this.config['slot.name'] }, reason);
        lastReason = reason;
      }
      this.state = 'standby';
      this.standbyListener?.(reason);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.round(every * (0.8 + 0.4 * Math.random())));
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
    if (this.state === 'standby') {
      log.warn({ slot: this.config['slot.name'] }, 'took over: this daemon holds the leadership lease and the slot is free; starting the source');
      this.standbyListener?.(null);
    }
    this.state = 'starting';
    this.standbyText = null;
    // Losing the lease while active: stop, so that a standby can take over cleanly.
    lease.onLost((e) => {
      if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'failed') return;
      this.fail(e);
    });
    return true;
  }

  /** Observe every Kafka commit that carries events (latency measurements, tests). */
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
    this.snapshotTables.dropUnfinished();
    const log = this.logger.child({ connector: this.cfg.name });
    // Which server to decode from (and the primary for writes): every start resolves again, so the
    // restart after a failover finds the promoted standby.
    let servers: ResolvedServers;
    try {
      servers = await resolveServers(this.cfg);
      if (this.cfg['slot.failover']) {
        const problem = failoverVersionProblem(servers.serverVersionNum);
        if (problem) throw new Error(problem);
        if (servers.onStandby) throw new Error('slot.failover cannot be combined with database.target.session.attrs: standby: Postgres makes failover slots only on a primary (a slot on a standby is not synced further). Remove one of them.');
      }
    } catch (caught) {
      const e = explainStartError(caught);
      this.state = 'failed';
      this.error = e;
      throw e;
    }
    const hostList = Boolean(this.cfg['database.hosts']);
    this.cfg = servers.target;
    if (servers.onStandby) this.primaryCfg = servers.primary;
    const cfg = this.cfg;
    if (hostList || servers.onStandby) {
      log.info({ server: `${cfg['database.hostname']}:${cfg['database.port']}`, onStandby: servers.onStandby }, servers.onStandby ? 'decoding on a hot standby' : 'connected to the primary of database.hosts');
    }
    const pgClient = new pg.Client(clientConfig(cfg));
    // The server going away (a failover) must fail the source through the stream, not crash the
    // process with an unhandled 'error' event of this idle catalog connection.
    pgClient.on('error', (e) => log.warn({ err: e }, 'catalog connection to Postgres lost'));
    let exported: ExportedSlot | null = null;
    let nudge: { stop(): void } | null = null;
    try {
      if (!(await this.lead(log))) {
        await this.shutdown();
        this.state = 'stopped';
        return;
      }
      await pgClient.connect();
      await checkServer(pgClient, cfg);
      if (cfg['slot.failover']) {
        // What would make the failover slot useless (docs/ha.md); `validate --online` also checks the standbys.
        const row = (await pgClient.query<PrimaryHaRow>(PRIMARY_HA_SQL)).rows[0];
        for (const p of row ? primaryFailoverProblems(primaryHaSettings(row)) : []) log.warn({ slot: cfg['slot.name'], fix: p.fix }, `slot.failover: ${p.message}`);
      }
      const tables = await resolveTables(pgClient, cfg, log);
      // What the publication held before this start (the lifecycle's fallback when it has no record yet).
      const publicationTables = await publishedTables(pgClient, cfg['publication.name']);

      const kafka = kafkaClient(this.kafkaConfig, { logger: log });
      const topic = offsetsTopic(cfg);
      this.admin = new TopicAdmin(kafka, topicDefaults(this.kafkaConfig));
      await this.admin.connect();
      await this.admin.ensureOffsetsTopic(topic);
      // Check the slot before fencing: a running instance shows up as an active slot.
      const slot = await slotInfo(pgClient, cfg['slot.name']);
      checkSlot(slot, cfg);
      const server = await identifySystem(cfg);
      const admin = this.admin;
      this.producer = new TransactionalProducer(this.kafkaConfig, {
        transactionalId: transactionalId(cfg),
        transactionTimeoutMs: cfg['kafka.transaction.timeout.ms'],
        logger: log,
        batchLimit: (t) => admin.batchLimit(t),
      });
      await this.producer.connect();
      // Initialised before the offsets topic is read: aborts a crashed instance's open transaction of
      // this id, which would otherwise hold back the read_committed read below.
      // On a standby: the primary alters the publication and exports the new tables' snapshot.
      this.lifecycle = new TableLifecycle(this.primaryCfg ?? cfg, this.kafkaConfig, topic, admin, log, (e) => this.fail(e), this.snapshotTables);
      await this.lifecycle.connect();
      const state = await readPipelineState(kafka, topic, cfg.name, await this.admin.highWatermark(topic));
      let stored = state.offset;
      this.lastCommitted = stored;
      log.info(
        { stored, owner: state.owner, slot: { exists: slot.exists, confirmedFlushLsn: slot.confirmedFlushLsn === null ? null : formatLsn(slot.confirmedFlushLsn), walStatus: slot.walStatus } },
        'recovered position',
      );

      // Ownership and gap checks (slot-ownership.ts): throws when the slot is not provably ours or
      // changes were lost; otherwise says whether to use the slot or (re)create it.
      const plan = planSlot(ownershipInput(cfg, server, slot, state));
      for (const note of plan.notes) log.warn({ slot: cfg['slot.name'] }, note);
      // Invariant: the lifecycle record naming the tables that still need a snapshot is committed
      // before the publication gains them (table-lifecycle.ts), and the publication exists before
      // any slot is created (pgoutput fails on changes decoded before its publication existed).
      // `fresh`: no stream position survives, so the initial snapshot (run or resumed now over
      // `tables`) covers every selected table.
      const survives = plan.kind === 'use' || !plan.resetOffsets ? stored : null;
      const fresh = plan.kind === 'use' ? !stored || Boolean(stored.snapshot && !stored.snapshot.completed) : !survives;
      await this.lifecycle.prepare(state.tables, tables, fresh, publicationTables);
      // Publication DDL on the primary; a standby decodes once it replayed it.
      if (this.primaryCfg) {
        this.writer = new pg.Client(clientConfig(this.primaryCfg));
        this.writer.on('error', () => undefined);
        await this.writer.connect();
        await ensurePublication(this.writer, cfg, tables, log);
        await waitForReplay(this.writer, pgClient);
      } else await ensurePublication(pgClient, cfg, tables, log);
      const own = async (how: SlotOwnership['how'], lsn: bigint): Promise<void> => {
        const owner: SlotOwnership = { pipeline: cfg.name, slot: cfg['slot.name'], system_id: server.systemId, database: cfg['database.dbname'], created_lsn: formatLsn(lsn), created_at: new Date().toISOString(), how };
        // Own Kafka transaction, committed before any data of this slot is published.
        await this.producer!.send([ownershipRecord(topic, owner)]);
        await this.producer!.commit();
        log.info({ owner }, 'recorded slot ownership');
      };

      const builder = createRecordBuilder(eventsOptions(cfg), cfg['database.dbname']);
      this.admin.cleanupPolicyOf = (t) => builder.cleanupPolicyOfTopic(t);
      // Data topics of every captured table up front (tables added later: on their first Relation message).
      const extra = [builder.messageTopic, ...(cfg['provide.transaction.metadata'] ? [builder.transactionTopic] : [])];
      await this.admin.ensureTopics([...tables.map((t) => builder.topicFor(t)), ...extra]);
      const relations = new RelationCache(new TypeRegistry(pgClient), pgClient);
      this.publisher = new Publisher(
        this.producer,
        publisherOptions(cfg, this.kafkaConfig, {
          offsetsTopic: topic,
          onCommitted: (b) => this.committed(b),
          onFailure: (e) => this.streaming?.abort(e),
          timeline: server.timeline,
        }),
      );

      // Decide snapshot vs streaming.
      const mode = cfg['snapshot.mode'];
      const wantsSnapshot = mode !== 'never';
      let snapshot: { cp: bigint; name: string | null; resume: StoredOffset['snapshot'] } | null = null;
      // A slot on a standby is created once the primary logs a running-xacts record: ask for it.
      nudge = this.writer ? standbySnapshotNudger(this.writer) : null;
      if (plan.kind === 'use') {
        if (plan.record) await own(plan.record, slot.confirmedFlushLsn ?? 0n);
        if (await ensureSlotFailover(pgClient, cfg)) log.warn({ slot: cfg['slot.name'] }, 'slot.failover: turned failover on for the existing slot (Postgres now syncs it to standbys with sync_replication_slots = on)');
        if (stored?.snapshot && !stored.snapshot.completed) snapshot = { cp: parseLsn(stored.snapshot.consistent_lsn), name: null, resume: stored.snapshot };
      } else {
        // Only reached for a missing slot or one this pipeline provably owns (planSlot).
        if (plan.drop) await dropSlot(pgClient, cfg['slot.name']);
        if (plan.resetOffsets) {
          // Start over: the old position (maybe from another timeline, after a failover) must not
          // reach idlePoint's watermark record, where a restart would read it as this slot's.
          stored = null;
          this.lastCommitted = null;
        }
        if (wantsSnapshot && !stored) {
          exported = await createSlotExportingSnapshot(cfg);
          await own('created', exported.consistentPoint);
          snapshot = { cp: exported.consistentPoint, name: exported.snapshotName, resume: null };
          log.info({ slot: cfg['slot.name'], consistentPoint: formatLsn(exported.consistentPoint) }, 'created slot with exported snapshot');
        } else {
          const lsn = await createSlot(pgClient, cfg);
          await own('created', lsn);
          log.info({ slot: cfg['slot.name'], lsn: formatLsn(lsn) }, 'created slot');
        }
        if (cfg['slot.failover']) log.info({ slot: cfg['slot.name'] }, 'slot created with failover = true (synced to standbys with sync_replication_slots = on)');
      }
      nudge?.stop();
      // The primary connection served the set-up only (heartbeats and the lifecycle have their own).
      await this.writer?.end().catch(() => undefined);
      this.writer = null;

      const guard = new OversizeGuard(cfg['event.oversize.handling.mode'], admin, this.kafkaConfig['max.request.size'], cfg.name, log);
      const deps = { config: cfg, relations, builder, publisher: this.publisher, guard, admin, logger: log };
      // Watermarks are writes (pg_logical_emit_message): on a standby they and the chunk reads
      // between them go to the primary, whose WAL the standby's slot decodes in the same order.
      this.incremental = new IncrementalSnapshot(this.primaryCfg ?? cfg, stored?.incremental ?? null, log, (e) => this.fail(e));
      this.streaming = new StreamingSource({ ...deps, stored: storedPosition(stored), onIdle: (walEnd) => this.idlePoint(walEnd), incremental: this.incremental });
      const streaming = this.streaming;
      this.heartbeat = new Heartbeat(cfg['heartbeat.interval.ms'], cfg['heartbeat.action.query'], clientConfig(this.primaryCfg ?? cfg), () => streaming.heartbeat(), log);

      const snap = snapshot;
      const exportedSlot = exported;
      exported = null;
      this.startHealth(log);
      this.running = (async () => {
        try {
          if (this.pendingFatal) throw this.pendingFatal;
          if (snap) {
            this.state = 'snapshotting';
            this.snapshotter = new Snapshotter({ ...deps, tables: this.snapshotTables });
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
          // New tables are snapshotted and the catalog checked while the stream runs (its own slot,
          // producer and record: table-lifecycle.ts).
          this.lifecycle?.start();
          // Incremental snapshots (requested, or resumed from the stored state) run alongside.
          this.incremental?.start();
          await streaming.run();
        } catch (caught) {
          // A stream that broke because the slot vanished or was invalidated reports that, with the remedy.
          const e = this.pendingFatal ?? (caught instanceof ProducerFencedError || this.state === 'stopping' ? null : await this.diagnoseSlot()) ?? caught;
          if (this.state === 'stopping' && !(e instanceof ProducerFencedError)) return;
          this.state = 'failed';
          this.error = e;
          log.error({ err: e }, 'source failed');
          await this.shutdown();
          throw e;
        }
      })();
      this.running.catch(() => undefined);
    } catch (caught) {
      const e = explainStartError(caught);
      this.state = 'failed';
      this.error = e;
      nudge?.stop();
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
    // Idle watermarks (no events) are bookkeeping, not data commits: listeners do not see them.
    if (b.events > 0) for (const l of this.listeners) l(b);
    // Only now, after the Kafka commit: confirm to Postgres (no-op while snapshotting).
    if (this.state === 'streaming' && !b.offset.snapshot) await this.streaming?.confirm(committedWatermark(b.offset));
  }

  /**
   * Idle point from the stream (streaming.ts onKeepalive): record it in the offsets topic as
   * `flushed_lsn`, and confirm it to Postgres only after that Kafka commit (committed()). So the
   * slot never gets ahead of the durable state, which is what lets start-up tell an idle slot from
   * one someone else advanced. At most one in flight, at most once per heartbeat interval.
   */
  private idlePoint(walEnd: bigint): void {
    if (this.state !== 'streaming' || !this.publisher) return;
    const last = this.lastCommitted;
    if (last && walEnd <= committedWatermark(last)) {
      void this.streaming?.confirm(walEnd).catch(() => undefined);
      return;
    }
    const every = this.config['heartbeat.interval.ms'] > 0 ? this.config['heartbeat.interval.ms'] : 10000;
    if (Date.now() - this.watermarkAt < every) return;
    const inc = this.incremental?.checkpoint();
    const offset: StoredOffset = { connector: this.config.name, last_commit_lsn: last?.last_commit_lsn ?? '0/0', last_seq: last?.last_seq ?? -1, snapshot: null, flushed_lsn: formatLsn(walEnd), ...(inc ? { incremental: inc } : {}) };
    if (this.publisher.commitWatermark(offset)) this.watermarkAt = Date.now();
  }

  /** Polls the slot every slot.health.interval.ms: metrics, status, warnings; a lost or vanished slot fails the source. */
  private startHealth(log: Logger): void {
    const every = this.config['slot.health.interval.ms'];
    if (every <= 0 || this.healthTimer) return;
    const tracker = new SlotHealthTracker(this.config['slot.name'], { lagWarnBytes: this.config['slot.lag.warn.bytes'], lagWarnMs: this.config['slot.lag.warn.ms'] });
    const labels = { pipeline: this.config.name };
    const poll = async (): Promise<void> => {
      if (this.healthBusy || (this.state !== 'snapshotting' && this.state !== 'streaming' && this.state !== 'starting')) return;
      this.healthBusy = true;
      try {
        if (!this.healthClient) {
          const c = new pg.Client(clientConfig(this.config));
          c.on('error', () => undefined);
          await c.connect();
          this.healthClient = c;
        }
        const { health, fatal } = tracker.observe(await slotSample(this.healthClient, this.config['slot.name']));
        this.slotHealth = health;
        if (health.lagBytes !== null) metrics.slotLagBytes.set(labels, health.lagBytes);
        if (health.lagMs !== null) metrics.slotLagMs.set(labels, health.lagMs);
        if (health.retainedBytes !== null) metrics.slotRetainedBytes.set(labels, health.retainedBytes);
        for (const w of ['reserved', 'extended', 'unreserved', 'lost', 'missing']) {
          metrics.slotWalStatus.set({ ...labels, wal_status: w }, (health.exists ? health.walStatus === w : w === 'missing') ? 1 : 0);
        }
        // Logged when the kind of warning changes (numbers aside), else once a minute.
        const text = health.warnings.join('; ');
        const kind = text.replace(/\d+/g, '#');
        if (text && (kind !== this.lastWarning.text || Date.now() - this.lastWarning.at > 60000)) {
          log.warn({ slot: health }, text);
          this.lastWarning = { text: kind, at: Date.now() };
        } else if (!text) this.lastWarning = { text: '', at: 0 };
        if (fatal && (this.state === 'snapshotting' || this.state === 'streaming')) this.fail(new Error(fatal));
      } catch (e) {
        log.warn({ err: e }, 'slot health poll failed (will retry next interval)');
        await this.healthClient?.end().catch(() => undefined);
        this.healthClient = null;
      } finally {
        this.healthBusy = false;
      }
    };
    this.healthTimer = setInterval(() => void poll(), every);
    this.healthTimer.unref();
    void poll();
  }

  /**
   * After a stream/snapshot failure: the slot-health verdict when the slot is gone or lost, else
   * null. Checked a few times over ~2 s: whoever ends a walsender to drop its slot (an operator, a
   * failover script) drops it a moment after the connection broke.
   */
  private async diagnoseSlot(): Promise<Error | null> {
    const c = new pg.Client({ ...clientConfig(this.config), connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const tracker = new SlotHealthTracker(this.config['slot.name'], { lagWarnBytes: 0, lagWarnMs: 0 });
      for (let attempt = 0; attempt < 4; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 600));
        const sample = await slotSample(c, this.config['slot.name']);
        const { health, fatal } = tracker.observe(sample);
        if (fatal) {
          this.slotHealth = health;
          return new Error(fatal);
        }
        if (sample.activePid !== null) return null;
      }
      return null;
    } catch {
      return null;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /**
   * Starts an incremental snapshot of `tables` while streaming continues (added to the running one),
   * optionally limited per table by a SQL filter (Debezium's additional-conditions). Returns its id.
   */
  async incrementalSnapshot(req: StartRequest): Promise<string> {
    if (!this.incremental || (this.state !== 'streaming' && this.state !== 'snapshotting')) throw new Error(`the source is ${this.state}; an incremental snapshot starts only while it runs`);
    return this.incremental.request(req);
  }

  /** Pauses, resumes or stops the running incremental snapshot (at a chunk boundary). Returns its id. */
  async controlSnapshot(kind: 'pause' | 'resume' | 'stop', tables: readonly string[] = []): Promise<string> {
    if (!this.incremental) throw new Error(`the source is ${this.state}; no incremental snapshot to ${kind}`);
    return this.incremental.control(kind, tables);
  }

  /**
   * One entry for signals, the CLI and the admin API: `execute` starts an incremental snapshot
   * (resolves once requested: `accepted`) or, with type `blocking`, runs an ad-hoc snapshot on a
   * temporary slot (adhoc-snapshot.ts; resolves when it is `done`, one at a time); pause, resume
   * and stop act on the incremental snapshot.
   */
  async snapshot(req: SnapshotRequest): Promise<{ readonly id: string; readonly status: 'accepted' | 'done' }> {
    if (req.kind !== 'execute') return { id: await this.controlSnapshot(req.kind, req.kind === 'stop' ? (req.tables ?? []) : []), status: 'done' };
    if (req.type !== 'blocking') return { id: await this.incrementalSnapshot({ tables: req.tables, conditions: req.conditions ?? {} }), status: 'accepted' };
    if (req.conditions && Object.keys(req.conditions).length > 0) throw new Error('additional conditions apply to incremental snapshots only');
    const next = this.blocking.then(() => runAdHocSnapshot({ config: this.config, kafka: this.kafkaConfig, tables: req.tables, logger: this.logger, snapshotTables: this.snapshotTables }));
    this.blocking = next.catch(() => undefined);
    await next;
    return { id: 'blocking', status: 'done' };
  }

  private blocking: Promise<unknown> = Promise.resolve();

  /** Fails the running snapshot or stream with `e` (it becomes the source's error). */
  private fail(e: Error): void {
    if (this.pendingFatal) return;
    this.pendingFatal = e;
    this.snapshotter?.stop();
    this.streaming?.abort(e);
  }

  /** Stops reading, commits what is complete, aborts a partial transaction, closes everything. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.wake?.();
    if (this.state === 'stopped' || this.state === 'created') {
      this.state = 'stopped';
      return;
    }
    if (this.state === 'standby') {
      // start() leaves the wait at once and releases the lease connection itself.
      this.state = 'stopping';
      await this.lease?.release();
      return;
    }
    if (this.state !== 'failed') this.state = 'stopping';
    this.snapshotter?.stop();
    // The stream is told to stop first, with no await before it: a stop racing the stream's start
    // must reach it before it starts replicating. The lifecycle (own producer) stops alongside.
    const lifecycle = this.lifecycle?.stop().catch(() => undefined);
    const incremental = this.incremental?.stop().catch(() => undefined);
    await this.streaming?.stop().catch(() => undefined);
    await this.running.catch(() => undefined);
    await lifecycle;
    await incremental;
    if (this.publisher && !this.publisher.failed && !this.publisher.hasPartial) await this.publisher.flush().catch(() => undefined);
    await this.shutdown();
    if (this.config['slot.drop.on.stop']) {
      const c = new pg.Client(clientConfig(this.config));
      c.on('error', () => undefined);
      await c.connect();
      await dropSlot(c, this.config['slot.name']).finally(() => c.end());
    }
    if (this.state !== 'failed') this.state = 'stopped';
  }

  private async shutdown(): Promise<void> {
    await this.incremental?.stop().catch(() => undefined);
    await this.lifecycle?.stop().catch(() => undefined);
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    await this.healthClient?.end().catch(() => undefined);
    this.healthClient = null;
    this.publisher?.close();
    await this.heartbeat?.stop();
    await this.producer?.close();
    await this.admin?.close();
    await this.pgClient?.end().catch(() => undefined);
    this.pgClient = null;
    await this.writer?.end().catch(() => undefined);
    this.writer = null;
    // Last: a standby may start only after this instance stopped writing to Kafka.
    await this.lease?.release();
  }
}

/** A certificate that does not verify is a settings problem: say which settings. Else the error as is. */
function explainStartError(caught: unknown): unknown {
  const unverified = certificateVerifyFailure(caught);
  return unverified ? new Error(`Postgres TLS: the server's certificate does not verify (${unverified}); check source.database.tls (ca, servername, mode)`, { cause: caught }) : caught;
}
