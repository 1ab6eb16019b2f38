/**
 * Table lifecycle: tables that start matching the source's selection (include/exclude lists) are
 * added to the publication and snapshotted automatically — at start-up and, every
 * `table.discovery.interval.ms`, while the pipeline streams; tables that stop matching (or are
 * dropped) leave the publication. Every change is logged.
 *
 * Durable state (invariant: a table is in the publication only after the record saying it still
 * needs its snapshot is committed). The record `<connector>:tables` in the source's offsets topic
 * (offsets-store.ts TablesRecord) holds the captured tables (name + oid) and the pending ones. It is
 * written, in its own Kafka transaction, BEFORE the publication changes; the snapshot of the
 * pending tables rewrites it with every chunk, in the same Kafka transaction as the chunk's rows
 * (the chunk checkpoint is its `snapshot` field), and the run's last transaction clears `pending`.
 * So a crash anywhere — after the publication gained a table, mid-snapshot, before the last chunk —
 * leaves a record that still names the table, and the next start snapshots it (resuming after the
 * last checkpointed key). It lives in the offsets topic because that is where the source's other
 * durable state is (read at start, compacted, transactional, per connector), and a table in the
 * source database would need write access there and would not commit atomically with the rows.
 * The writes use their own transactional id `cdc-fanout-<name>-tables`, initialised before the
 * offsets topic is read, so a crashed instance's open transaction is aborted and cannot stall the
 * read_committed read.
 *
 * Ordering with streamed changes (why the snapshot never overwrites a newer change), the same
 * argument as the initial and the ad-hoc snapshot: the rows are read in the snapshot exported by a
 * temporary slot `<slot.name>_tables` created AFTER the table joined the publication, and they are
 * versioned at that slot's consistent point CP (position (CP, ordinal); version = commit LSN in every
 * sink). A change committed before CP is in the read, and if it was streamed too (it committed after
 * the table joined the publication) its version is < CP, so at every sink — ES external_gte,
 * ClickHouse ReplacingMergeTree(_version) + stale check, Redis version guard — it loses against the
 * snapshot image, which already contains it, in whatever order Kafka delivers the two. A change
 * committed after CP is streamed with a version > CP and wins. A change committed before the table
 * joined the publication is not streamed at all; the read contains it. A run resumed after a crash
 * reads the remaining rows in a fresh snapshot, still versioned at the original CP: it may contain
 * changes committed after CP, but each of those is also streamed (the table was already published)
 * with a higher version, so every key still ends at its latest value.
 */
import pg from 'pg';
import type { KafkaConfig } from '../kafka/config.js';
import type { TopicAdmin } from '../kafka/admin.js';
import { tablesKey, tablesRecord, type SnapshotCheckpoint, type StoredOffset, type TablesRecord, type TrackedTable } from '../kafka/offsets-store.js';
import { TransactionalProducer } from '../kafka/producer.js';
import type { Logger } from '../observability/logger.js';
import { formatLsn, parseLsn } from '../events/change.js';
import { TypeRegistry } from '../events/type-registry.js';
import type { SnapshotTables } from './snapshot-tables.js';
import { eventsOptions, transactionalId, type SourceConfig } from './config.js';
import { clientConfig, createSlotExportingSnapshot, dropSlot, ensurePublication, qualified, selectTables, warnTables, type CapturedTable, type ExportedSlot } from './connection.js';
import { OversizeGuard } from './oversize.js';
import { Publisher, publisherOptions } from './publisher.js';
import { createRecordBuilder } from './record-adapter.js';
import { RelationCache } from './relations.js';
import { Snapshotter, type SnapshotProgress } from './snapshotter.js';

export interface TableLifecycleStatus {
  /** Tables waiting for (or in) their snapshot. */
  readonly pending: readonly string[];
  /** The run in progress: its tables and progress; null when none. */
  readonly running: { readonly tables: readonly string[]; readonly progress: SnapshotProgress } | null;
}

interface LifecycleState {
  captured: TrackedTable[];
  pending: string[];
  removing: string[];
  run: string[] | null;
  checkpoint: { readonly cp: string; readonly snapshot: SnapshotCheckpoint } | null;
}

const track = (t: CapturedTable): TrackedTable => ({ table: qualified(t), oid: t.oid });
const sameTable = (a: TrackedTable, b: TrackedTable): boolean => a.table === b.table && a.oid === b.oid;

export class TableLifecycle {
  private readonly producer: TransactionalProducer;
  private readonly log: Logger;
  private readonly key: string;
  private state: LifecycleState = { captured: [], pending: [], removing: [], run: null, checkpoint: null };
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private snapshotter: Snapshotter | null = null;
  private client: pg.Client | null = null;

  constructor(
    private readonly config: SourceConfig,
    private readonly kafkaConfig: KafkaConfig,
    private readonly offsetsTopic: string,
    private readonly admin: TopicAdmin,
    logger: Logger,
    /** Called with an error the lifecycle cannot recover from (Kafka failure): the source fails and restarts. */
    private readonly onFatal: (e: Error) => void,
    /** Per-table snapshot progress for status (the source's). */
    private readonly snapshotTables?: SnapshotTables,
  ) {
    this.log = logger.child({ lifecycle: 'tables' });
    this.key = tablesKey(config.name);
    this.producer = new TransactionalProducer(kafkaConfig, {
      transactionalId: `${transactionalId(config)}-tables`,
      transactionTimeoutMs: config['kafka.transaction.timeout.ms'],
      logger: this.log,
      batchLimit: (t) => admin.batchLimit(t),
    });
  }

  get tempSlot(): string {
    return `${this.config['slot.name'].slice(0, 56)}_tables`;
  }

  /** Initialises the transactional id (aborts a crashed instance's open transaction); before the offsets topic is read. */
  async connect(): Promise<void> {
    await this.producer.connect();
  }

  status(): TableLifecycleStatus {
    const s = this.snapshotter;
    return { pending: [...this.state.pending], running: s && this.state.run ? { tables: [...this.state.run], progress: { ...s.progress } } : null };
  }

  /**
   * At start-up, before the publication is changed: decides which tables are new (selected now,
   * not captured per the stored record) and persists them as pending — durably, before
   * ensurePublication adds them. `fresh`: no stream position survives (the initial snapshot, run
   * or resumed now over `selected`, covers every selected table; or snapshot.mode=never on a first
   * start). `publicationTables`: the publication's tables before this start (null: none), the
   * fallback for a pipeline without a record yet.
   */
  async prepare(stored: TablesRecord | null, selected: readonly CapturedTable[], fresh: boolean, publicationTables: readonly string[] | null): Promise<void> {
    const now = selected.map(track);
    const names = new Set(now.map((t) => t.table));
    if (fresh) {
      this.state = { captured: now, pending: [], removing: [], run: null, checkpoint: null };
    } else {
      let known: readonly TrackedTable[];
      if (stored) known = stored.captured;
      else if (publicationTables && this.config['publication.autocreate.mode'] !== 'all_tables') {
        // First start with lifecycle tracking: what the publication held is what was captured.
        known = now.filter((t) => publicationTables.includes(t.table));
      } else {
        // FOR ALL TABLES streams every table already; nothing tells which were snapshotted.
        known = now;
      }
      const added = now.filter((t) => !known.some((k) => sameTable(k, t)));
      const removed = known.filter((k) => !now.some((t) => sameTable(k, t)));
      this.logChanges(added, removed, 'at start-up');
      const pending = [...new Set([...(stored?.pending ?? []), ...(this.config['snapshot.new.tables'] ? added.map((t) => t.table) : [])])].filter((t) => names.has(t));
      const run = stored?.run ? [...stored.run] : null;
      const checkpoint = run && stored?.snapshot && !stored.snapshot.completed ? { cp: stored.snapshot.consistent_lsn, snapshot: stored.snapshot } : null;
      const removing = this.removals(stored?.removing ?? [], removed);
      this.state = { captured: now, pending, removing, run: checkpoint ? run : null, checkpoint };
      if (pending.length > 0) this.log.info({ pending, resume: checkpoint ? { tables: run, table: checkpoint.snapshot.table, consistentPoint: checkpoint.cp } : null }, `tables to snapshot while streaming: ${pending.join(', ')}`);
    }
    const changed =
      !stored ||
      JSON.stringify(stored.captured) !== JSON.stringify(this.state.captured) ||
      JSON.stringify(stored.pending) !== JSON.stringify(this.state.pending) ||
      JSON.stringify(stored.removing ?? []) !== JSON.stringify(this.state.removing) ||
      (stored.run !== null) !== (this.state.run !== null);
    if (changed) await this.writeState();
  }

  /** Starts the background work: snapshots of pending tables, then the periodic catalog check. */
  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.snapshotter?.stop();
    this.wake?.();
    await this.loop?.catch(() => undefined);
    await this.producer.close().catch(() => undefined);
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  private async run(): Promise<void> {
    const every = this.config['table.discovery.interval.ms'];
    try {
      while (!this.stopped) {
        // Removals first: a table dropped and re-created under its name gets its TRUNCATE before the
        // new table's snapshot (whose consistent point is then later, so its rows survive it).
        if (this.state.removing.length > 0) await this.publishRemovals();
        if (this.state.pending.length > 0) await this.snapshotPending();
        if (this.stopped || every <= 0) {
          if (this.state.pending.length === 0) return;
          continue;
        }
        await this.sleep(every);
        if (!this.stopped) await this.check();
      }
    } catch (e) {
      if (this.stopped) return;
      const err = e instanceof Error ? e : new Error(String(e));
      this.log.error({ err }, 'table lifecycle failed; the source restarts and resumes it from the offsets topic');
      this.onFatal(new Error(`table lifecycle: ${err.message}`));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  private async pg(): Promise<pg.Client> {
    if (!this.client) {
      const c = new pg.Client(clientConfig(this.config));
      c.on('error', () => undefined);
      await c.connect();
      this.client = c;
    }
    return this.client;
  }

  /**
   * One run-time check of the catalog against the selection. A table that starts matching (new, or
   * recreated: another oid) is recorded as pending first, then added to the publication (filtered
   * mode); one that stops matching or was dropped is recorded and leaves the publication.
   */
  async check(): Promise<void> {
    let client: pg.Client;
    try {
      client = await this.pg();
    } catch (e) {
      this.log.warn({ err: String(e) }, 'table check: cannot connect to Postgres; retrying next interval');
      return;
    }
    let tables: CapturedTable[];
    try {
      tables = (await selectTables(client, this.config)).tables;
    } catch (e) {
      this.log.warn({ err: String(e) }, 'table check failed; retrying next interval');
      await this.client?.end().catch(() => undefined);
      this.client = null;
      return;
    }
    const now = tables.map(track);
    const known = this.state.captured;
    const added = now.filter((t) => !known.some((k) => sameTable(k, t)));
    const removed = known.filter((k) => !now.some((t) => sameTable(k, t)));
    if (added.length === 0 && removed.length === 0) return;
    this.logChanges(added, removed, 'while streaming');
    const names = new Set(now.map((t) => t.table));
    const newly = this.config['snapshot.new.tables'] ? added.map((t) => t.table) : [];
    this.state = {
      ...this.state,
      captured: now,
      pending: [...new Set([...this.state.pending, ...newly])].filter((t) => names.has(t)),
      removing: this.removals(this.state.removing, removed),
    };
    // Durable first (see the module comment), then the publication.
    await this.writeState();
    if (added.length > 0) await warnTables(client, tables.filter((t) => added.some((a) => a.oid === t.oid)), this.log);
    if (this.config['publication.autocreate.mode'] === 'filtered' && tables.length > 0) {
      await ensurePublication(client, this.config, tables, this.log);
      this.log.info({ publication: this.config['publication.name'], tables: tables.length }, 'publication updated to the selected tables');
    } else if (this.config['publication.autocreate.mode'] === 'disabled' && added.length > 0) {
      this.log.warn({ publication: this.config['publication.name'], added: added.map((t) => t.table) }, 'publication.autocreate.mode=disabled: add the new tables to the publication yourself (ALTER PUBLICATION … ADD TABLE …), else their changes are not streamed');
    }
  }

  /** Tables whose TRUNCATE is still to be published (table.removal.mode=truncate): a re-added one is not. */
  private removals(before: readonly string[], removed: readonly TrackedTable[]): string[] {
    if (this.config['table.removal.mode'] !== 'truncate') return [];
    // A name that left and came back (dropped and re-created: another oid) is truncated too: the
    // old table's rows must go; the new table's snapshot follows the truncate.
    return [...new Set([...before, ...removed.map((t) => t.table)])];
  }

  /**
   * table.removal.mode=truncate: publishes one TRUNCATE event per table that left the selection, in
   * one Kafka transaction with the record that clears them from `removing` (so a crash before it
   * publishes them again; sinks apply a truncate idempotently). Invariant: its position is the
   * server's current WAL LSN, read after the table left the publication (or was dropped) — later
   * than the commit of every change of the table that was streamed — so each sink removes exactly
   * what it holds from the old table; a table re-created under the name is snapshotted afterwards
   * at a later consistent point, so its rows are newer than the truncate.
   */
  private async publishRemovals(): Promise<void> {
    const client = await this.pg();
    const lsn = parseLsn((await client.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l);
    const builder = createRecordBuilder(eventsOptions(this.config), this.config['database.dbname']);
    const relations = new RelationCache(new TypeRegistry(client), client);
    const records = [];
    for (const name of this.state.removing) {
      const dot = name.indexOf('.');
      const info = await relations.update({ oid: 0, schema: name.slice(0, dot), table: name.slice(dot + 1), replicaIdentity: 'default', keyColumns: [], columns: [] });
      builder.prepare(info);
      await this.admin.ensureTopics([builder.topicFor(info)]);
      records.push(...builder.build({ op: 't', relation: info, source: { position: { commitLsn: lsn, seq: 0 }, xid: null, commitTimeMs: Date.now(), lsn, snapshot: 'false' } }));
    }
    const done = this.state.removing;
    this.state = { ...this.state, removing: [] };
    await this.producer.send([...records, tablesRecord(this.offsetsTopic, this.record(null))]);
    await this.producer.commit();
    this.log.info({ tables: done, position: formatLsn(lsn) }, `table.removal.mode=truncate: published a TRUNCATE for ${done.join(', ')}; each sink removes its rows per its truncate.mode`);
  }

  private logChanges(added: readonly TrackedTable[], removed: readonly TrackedTable[], when: string): void {
    for (const t of added) {
      this.log.info(
        { table: t.table, oid: t.oid },
        this.config['snapshot.new.tables']
          ? `table ${t.table} now matches the table selection (${when}): captured from now on; its existing rows are snapshotted while streaming continues`
          : `table ${t.table} now matches the table selection (${when}): captured from now on; snapshot.new.tables=false, so its existing rows are NOT published`,
      );
    }
    for (const t of removed) {
      this.log.warn(
        { table: t.table, oid: t.oid },
        this.config['table.removal.mode'] === 'truncate'
          ? `table ${t.table} no longer matches the table selection or was dropped (${when}): no longer captured; a TRUNCATE event for it is published (table.removal.mode=truncate)`
          : `table ${t.table} no longer matches the table selection or was dropped (${when}): no longer captured; what the sinks hold for it is kept (table.removal.mode=keep; see docs/table-lifecycle.md)`,
      );
    }
  }

  private record(snapshot: StoredOffset | null): TablesRecord {
    const s = this.state;
    return {
      connector: this.key,
      last_commit_lsn: snapshot?.last_commit_lsn ?? s.checkpoint?.cp ?? '0/0',
      last_seq: snapshot?.last_seq ?? -1,
      snapshot: snapshot?.snapshot ?? s.checkpoint?.snapshot ?? null,
      captured: s.captured,
      pending: s.pending,
      run: s.run,
      removing: s.removing,
    };
  }

  /** Commits the current state in its own Kafka transaction. */
  private async writeState(): Promise<void> {
    await this.producer.send([tablesRecord(this.offsetsTopic, this.record(null))]);
    await this.producer.commit();
  }

  /** Snapshots the pending tables (one run; resumes an interrupted one first). */
  private async snapshotPending(): Promise<void> {
    const cfg = this.config;
    const client = await this.pg();
    const { tables } = await selectTables(client, cfg);
    const byName = new Map(tables.map((t) => [qualified(t), t]));
    const gone = this.state.pending.filter((t) => !byName.has(t));
    if (gone.length > 0) {
      this.log.warn({ tables: gone }, 'pending tables no longer exist or match; their snapshot is dropped');
      this.state = { ...this.state, pending: this.state.pending.filter((t) => byName.has(t)), run: this.state.run?.filter((t) => byName.has(t)) ?? null };
      await this.writeState();
      if (this.state.pending.length === 0) return;
    }
    const resume = this.state.run && this.state.checkpoint ? this.state.checkpoint : null;
    const runNames = resume ? this.state.run! : [...this.state.pending];
    const runTables = runNames.map((n) => byName.get(n)).filter((t): t is CapturedTable => t !== undefined);
    const slotCfg: SourceConfig = { ...cfg, 'slot.name': this.tempSlot };
    await dropSlot(client, this.tempSlot); // a leftover from a crashed run
    let exported: ExportedSlot | null = null;
    try {
      let cp: bigint;
      if (resume) {
        cp = parseLsn(resume.cp);
        this.log.info({ tables: runNames, consistentPoint: resume.cp, table: resume.snapshot.table }, 'resuming the snapshot of new tables (fresh read, versioned at the original consistent point)');
      } else {
        exported = await createSlotExportingSnapshot(slotCfg);
        cp = exported.consistentPoint;
        this.log.info({ tables: runNames, consistentPoint: formatLsn(cp), slot: this.tempSlot }, 'snapshot of new tables: exported snapshot taken');
      }
      this.state = { ...this.state, run: runNames };
      const publisher = new Publisher(
        this.producer,
        publisherOptions(cfg, this.kafkaConfig, {
          offsetsTopic: this.offsetsTopic,
          onCommitted: (b) => {
            // The committed record is the durable state now.
            const r = b.offset as TablesRecord;
            if (r.snapshot && !r.snapshot.completed) this.state = { ...this.state, checkpoint: { cp: r.snapshot.consistent_lsn, snapshot: r.snapshot } };
          },
        }),
      );
      const runSet = new Set(runNames);
      const builder = createRecordBuilder(eventsOptions(cfg), cfg['database.dbname']);
      // The snapshot creates a new table's topic: with the cleanup.policy its builder records.
      const otherPolicies = this.admin.cleanupPolicyOf;
      this.admin.cleanupPolicyOf = (t) => builder.cleanupPolicyOfTopic(t) ?? otherPolicies?.(t);
      this.snapshotter = new Snapshotter({
        config: cfg,
        relations: new RelationCache(new TypeRegistry(client), client),
        builder,
        publisher,
        guard: new OversizeGuard(cfg['event.oversize.handling.mode'], this.admin, this.kafkaConfig['max.request.size'], cfg.name, this.log),
        admin: this.admin,
        logger: this.log,
        ...(this.snapshotTables ? { tables: this.snapshotTables } : {}),
        // Every chunk carries the whole lifecycle state; the last one (completed) clears the run's
        // tables from `pending` in the same Kafka transaction as the run's final record.
        checkpointRecord: (o) => {
          const done = o.snapshot?.completed === true;
          const rec: TablesRecord = {
            ...this.record(o),
            pending: done ? this.state.pending.filter((t) => !runSet.has(t)) : this.state.pending,
            run: done ? null : runNames,
          };
          return rec;
        },
      });
      await this.snapshotter.run(runTables, cp, exported?.snapshotName ?? null, resume?.snapshot ?? null);
      this.state = { ...this.state, pending: this.state.pending.filter((t) => !runSet.has(t)), run: null, checkpoint: null };
      this.log.info({ tables: runNames, rows: this.snapshotter.progress.rowsDone }, `snapshot of new tables done: ${runNames.join(', ')}`);
    } finally {
      this.snapshotter = null;
      await exported?.close().catch(() => undefined);
      await dropSlot(client, this.tempSlot).catch((e: unknown) => this.log.warn({ err: String(e), slot: this.tempSlot }, 'could not drop the temporary snapshot slot; drop it by hand'));
    }
  }
}
