/**
 * Streaming change-event source: reads the slot through pg-logical-replication (pgoutput), decodes
 * to raw changes, assigns positions, drops what the offsets topic says is already in Kafka, and
 * hands records to the Publisher. Confirms LSNs to Postgres only from the Publisher's
 * after-Kafka-commit callback (and from idle keepalives, see `onKeepalive`).
 *
 * Positions: pgoutput's Begin carries the commit LSN (final_lsn), xid and commit time, so every
 * change knows (commitLsn, seq) before its transaction ends. Dedup on restart: skip a whole
 * transaction whose commit LSN < stored; at the stored commit LSN skip seq ≤ stored last_seq.
 */
import { LogicalReplicationService } from 'pg-logical-replication';
import { formatLsn, parseLsn, type Position } from '../events/change.js';
import type { RelationInfo } from '../events/types.js';
import type { EventRecord } from '../events/record.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { StoredOffset } from '../kafka/offsets-store.js';
import type { TopicAdmin } from '../kafka/admin.js';
import { clientConfig } from './connection.js';
import type { SourceConfig } from './config.js';
import { PgoutputDecoder, RawPgoutputPlugin } from './decoder.js';
import type { Publisher } from './publisher.js';
import type { RecordBuilder, SourceChange, SourceInfo } from './record-adapter.js';
import type { RelationCache } from './relations.js';
import type { RawChange } from './raw-change.js';

interface OpenTx {
  readonly xid: number;
  readonly commitLsn: bigint;
  readonly commitTimeMs: number;
  seq: number;
  emitted: number;
  readonly skipAll: boolean;
  readonly skipUpTo: number;
}

export interface StreamingDeps {
  readonly config: SourceConfig;
  readonly relations: RelationCache;
  readonly builder: RecordBuilder;
  readonly publisher: Publisher;
  readonly admin: TopicAdmin;
  readonly logger: Logger;
  /** Last position committed to Kafka (from the offsets topic), or null. */
  readonly stored: Position | null;
}

export class StreamingSource {
  private readonly service: LogicalReplicationService;
  private readonly decoder = new PgoutputDecoder();
  private tx: OpenTx | null = null;
  /** Commit LSN of the previous transaction (source.sequence[0]). */
  private lastCommitLsn: bigint | null = null;
  private stored: Position | null;
  /** Highest LSN confirmed to Postgres (flush position). */
  confirmedLsn = 0n;
  /** WAL position of the last message received (keepalive or data). */
  private receivedLsn = 0n;
  private fatal: ((e: unknown) => void) | null = null;
  private stopping = false;
  private pendingBegin: readonly EventRecord[] = [];
  private readonly readCounters = new WeakMap<RelationInfo, Map<string, { inc(): void }>>();
  private readonly plugin: RawPgoutputPlugin;
  /** Messages fully handled; equals plugin.parsed when nothing is queued inside the service. */
  private handled = 0;

  constructor(private readonly deps: StreamingDeps) {
    this.stored = deps.stored;
    this.plugin = new RawPgoutputPlugin({ protoVersion: 1, publicationNames: [deps.config['publication.name']], messages: true });
    // auto: false — we confirm only after the Kafka commit. timeoutSeconds: 0 — the library's timer
    // would otherwise confirm the last *received* LSN every 10 s (data loss on crash).
    this.service = new LogicalReplicationService(
      { ...clientConfig(deps.config), options: '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3' },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
  }

  /** Confirms `lsn` to Postgres (standby status update, flush = lsn + 1). */
  async confirm(lsn: bigint): Promise<void> {
    if (lsn > this.confirmedLsn) this.confirmedLsn = lsn;
    if (this.confirmedLsn > 0n) await this.service.acknowledge(formatLsn(this.confirmedLsn));
  }

  /** Runs until stop() or a fatal error (rejects with it). */
  async run(): Promise<void> {
    const plugin = this.plugin;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (e: unknown): void => {
        if (settled) return;
        settled = true;
        void this.service.stop().finally(() => reject(e));
      };
      this.fatal = fail;
      this.service.on('data', async (lsn: string, msg: Parameters<PgoutputDecoder['decode']>[0]) => {
        if (settled) return;
        try {
          this.receivedLsn = parseLsn(lsn);
          await this.handle(this.decoder.decode(msg));
          this.handled++;
        } catch (e) {
          fail(e);
        }
      });
      this.service.on('heartbeat', async (lsn: string, _ts: number, shouldRespond: boolean) => {
        try {
          await this.onKeepalive(parseLsn(lsn), shouldRespond);
        } catch (e) {
          fail(e);
        }
      });
      this.service.on('error', (e: Error) => fail(e));
      this.service
        .subscribe(plugin, this.deps.config['slot.name'])
        .then(() => {
          if (!settled) {
            settled = true;
            if (this.stopping) resolve();
            else reject(new Error('replication stream ended unexpectedly (server closed the connection)'));
          }
        })
        .catch((e: unknown) => fail(e));
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.service.stop();
  }

  /** Abort from outside (e.g. fencing detected by the publisher). */
  abort(e: unknown): void {
    this.fatal?.(e);
  }

  /**
   * Keepalive from the walsender, carrying its WAL end. When nothing is open or in flight — no PG
   * transaction being decoded, nothing buffered or unsent in the Publisher — every transaction that
   * committed before that WAL end was already received and committed to Kafka (or had nothing for
   * us), so confirming it is safe and lets the slot advance while captured tables are idle. A
   * transaction still running on the server commits later, at a higher LSN, and will be sent then.
   * Otherwise answer with the last confirmed LSN.
   */
  private async onKeepalive(walEnd: bigint, shouldRespond: boolean): Promise<void> {
    // Keepalives are emitted on receipt, data messages may still wait in the service's queue:
    // require every parsed message to be handled.
    const drained = this.handled === this.plugin.parsed;
    if (drained && this.tx === null && this.deps.publisher.idle && walEnd >= this.receivedLsn) {
      await this.confirm(walEnd);
    } else if (shouldRespond) {
      await this.confirm(this.confirmedLsn);
    }
  }

  /** Periodic status update (heartbeat): same rule as a keepalive, using the last received LSN. */
  async heartbeat(): Promise<void> {
    await this.onKeepalive(this.receivedLsn, true);
  }

  private async handle(ch: RawChange): Promise<void> {
    const { publisher } = this.deps;
    switch (ch.kind) {
      case 'begin': {
        const s = this.stored;
        this.tx = {
          xid: ch.xid,
          commitLsn: ch.commitLsn,
          commitTimeMs: ch.commitTimeMs,
          seq: 0,
          emitted: 0,
          skipAll: s !== null && ch.commitLsn < s.commitLsn,
          skipUpTo: s !== null && ch.commitLsn === s.commitLsn ? s.seq : -1,
        };
        const begin = this.deps.builder.beginTransaction({ xid: ch.xid, commitLsn: ch.commitLsn, commitTimeMs: ch.commitTimeMs });
        // BEGIN goes out with the transaction's first event (not for a skipped or resumed one).
        this.pendingBegin = !this.tx.skipAll && this.tx.skipUpTo < 0 ? begin : [];
        return;
      }
      case 'commit': {
        const tx = this.tx;
        this.tx = null;
        if (!tx) return;
        this.lastCommitLsn = tx.commitLsn;
        const end = this.deps.builder.endTransaction(tx.commitLsn);
        if (tx.emitted === 0) return;
        if (this.pendingBegin.length === 0) await publisher.push(end);
        await publisher.endTransaction(
          { connector: this.deps.config.name, last_commit_lsn: formatLsn(tx.commitLsn), last_seq: tx.seq - 1, snapshot: null },
          tx.commitTimeMs,
        );
        return;
      }
      case 'relation': {
        const info = await this.deps.relations.update(ch.relation);
        this.deps.builder.prepare(info);
        await this.deps.admin.ensureTopics([this.deps.builder.topicFor(info)]);
        this.deps.logger.debug({ table: `${info.schema}.${info.table}`, columns: info.columns.length }, 'relation described');
        return;
      }
      case 'insert':
        return this.emit((source, rel) => ({ op: 'c', relation: rel, before: null, after: ch.after, source }), ch.relation);
      case 'update':
        return this.emit((source, rel) => ({ op: 'u', relation: rel, before: ch.before, after: ch.after, source }), ch.relation);
      case 'delete':
        return this.emit((source, rel) => ({ op: 'd', relation: rel, before: ch.before, after: null, source }), ch.relation);
      case 'truncate':
        for (const r of ch.relations) await this.emit((source, rel) => ({ op: 't', relation: rel, source }), r);
        return;
      case 'message': {
        if (ch.transactional && this.tx) {
          return this.emit((source) => ({ op: 'm', prefix: ch.prefix, content: ch.content, transactional: true, source }), null);
        }
        // Non-transactional: its own single-event "transaction" at the message LSN.
        this.tx = { xid: 0, commitLsn: ch.lsn, commitTimeMs: Date.now(), seq: 0, emitted: 0, skipAll: this.stored !== null && ch.lsn <= this.stored.commitLsn, skipUpTo: -1 };
        await this.emit((source) => ({ op: 'm', prefix: ch.prefix, content: ch.content, transactional: false, source: { ...source, xid: null } }), null);
        return this.handle({ kind: 'commit', commitLsn: ch.lsn, endLsn: ch.lsn, commitTimeMs: this.tx.commitTimeMs });
      }
      case 'ignored':
        return;
    }
  }

  private async emit(make: (source: SourceInfo, rel: RelationInfo) => SourceChange, raw: Parameters<RelationCache['get']>[0] | null): Promise<void> {
    const tx = this.tx;
    if (!tx) throw new Error('pgoutput protocol error: a change arrived outside a transaction');
    const seq = tx.seq++;
    if (tx.skipAll || seq <= tx.skipUpTo) return;
    const rel = raw ? (this.deps.relations.peek(raw) ?? (await this.deps.relations.get(raw))) : (null as unknown as RelationInfo);
    const source: SourceInfo = {
      position: { commitLsn: tx.commitLsn, seq },
      xid: tx.xid,
      commitTimeMs: tx.commitTimeMs,
      lsn: this.receivedLsn,
      snapshot: 'false',
      lastCommitLsn: this.lastCommitLsn,
    };
    if (this.pendingBegin.length > 0) {
      await this.deps.publisher.push(this.pendingBegin);
      this.pendingBegin = [];
    }
    const change = make(source, rel);
    const records = this.deps.builder.build(change);
    tx.emitted++;
    if (raw) this.readCounter(rel, change.op).inc();
    await this.deps.publisher.push(records);
  }

  /** The events-read counter child of (table, op), cached per relation: labels are hashed once, not per event. */
  private readCounter(rel: RelationInfo, op: string): { inc(): void } {
    let byOp = this.readCounters.get(rel);
    if (!byOp) this.readCounters.set(rel, (byOp = new Map()));
    let child = byOp.get(op);
    if (!child) byOp.set(op, (child = metrics.sourceEventsRead.labels({ pipeline: this.deps.config.name, table: `${rel.schema}.${rel.table}`, op })));
    return child;
  }

  /** Updates the dedup boundary (after a snapshot finished before streaming). */
  setStored(p: Position | null): void {
    this.stored = p;
  }
}

export function storedPosition(o: StoredOffset | null): Position | null {
  return o ? { commitLsn: parseLsn(o.last_commit_lsn), seq: o.last_seq } : null;
}
