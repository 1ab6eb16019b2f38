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
import { clientConfig, patterns } from './connection.js';
import type { SourceConfig } from './config.js';
import { PgoutputDecoder, RawPgoutputPlugin } from './decoder.js';
import type { OversizeGuard } from './oversize.js';
import type { Publisher } from './publisher.js';
import type { RecordBuilder, SourceChange, SourceInfo } from './record-adapter.js';
import type { RelationCache } from './relations.js';
import type { RawChange, RawTuple } from './raw-change.js';
import { WATERMARK_PREFIX, type IncrementalSnapshot } from './incremental-snapshot.js';

interface ReadCount {
  readonly child: { inc(n: number): void };
  pending: number;
}

interface OpenTx {
  readonly xid: number;
  readonly commitLsn: bigint;
  readonly commitTimeMs: number;
  /** The commit time in µs when pgoutput gave it (source.ts_us / ts_ns). */
  readonly commitTimeUs?: number;
  seq: number;
  emitted: number;
  /** Commit the offsets record even with no events (the incremental snapshot's state changed). */
  forceCommit?: boolean;
  readonly skipAll: boolean;
  readonly skipUpTo: number;
}

export interface StreamingDeps {
  readonly config: SourceConfig;
  readonly relations: RelationCache;
  readonly builder: RecordBuilder;
  readonly publisher: Publisher;
  /** Checks each event against its topic's size limit (event.oversize.handling.mode). */
  readonly guard: OversizeGuard;
  readonly admin: TopicAdmin;
  readonly logger: Logger;
  /** Last position committed to Kafka (from the offsets topic), or null. */
  readonly stored: Position | null;
  /**
   * Idle point reached: every change up to `walEnd` is in Kafka or not ours. The owner commits it
   * to the offsets topic (idle watermark) and confirms it after that commit; confirming it here
   * directly would let the slot pass the stored position (see slot-ownership.ts).
   */
  readonly onIdle: (walEnd: bigint) => void;
  /** The incremental snapshot: watermarks, chunk windows, its state in every offsets record. */
  readonly incremental?: IncrementalSnapshot;
}

type DecoderMessage = Parameters<PgoutputDecoder['decode']>[0];

/**
 * Whether a logical decoding message with this prefix becomes an event: message.prefix.include.list
 * (anchored patterns; absent or empty: every prefix) else message.prefix.exclude.list. The patterns
 * are compiled here, once; the returned test runs for every message.
 */
export function messagePrefixFilter(config: Pick<SourceConfig, 'message.prefix.include.list' | 'message.prefix.exclude.list'>): (prefix: string) => boolean {
  const include = patterns(config['message.prefix.include.list']);
  const exclude = patterns(config['message.prefix.exclude.list']);
  if (include.length > 0) return (prefix) => include.some((r) => r.test(prefix));
  return (prefix) => !exclude.some((r) => r.test(prefix));
}

export class StreamingSource {
  private readonly service: LogicalReplicationService;
  private readonly decoder: PgoutputDecoder;
  private tx: OpenTx | null = null;
  /**
   * End LSN of the previous transaction's commit record (source.sequence[0]): what Debezium reports
   * there (the LSN of pgoutput's Commit message), checked by test/events/debezium-differential.test.ts.
   */
  private lastCommitLsn: bigint | null = null;
  private stored: Position | null;
  /** Highest LSN confirmed to Postgres (flush position). */
  confirmedLsn = 0n;
  /** WAL position of the last message received (keepalive or data). */
  private receivedLsn = 0n;
  private fatal: ((e: unknown) => void) | null = null;
  private stopping = false;
  private pendingBegin: readonly EventRecord[] = [];
  private readonly readCounters = new WeakMap<RelationInfo, Map<string, ReadCount>>();
  private readonly dirtyReadCounts: ReadCount[] = [];
  private readonly plugin: RawPgoutputPlugin;
  /** message.prefix.include/exclude.list, compiled once: this runs for every logical message. */
  private readonly messageWanted: (prefix: string) => boolean;
  /** Messages fully handled; equals plugin.parsed when nothing is queued (here or inside the service). */
  private handled = 0;
  /**
   * Messages received while an earlier one waits (backpressure, a new relation, a commit):
   * lsn, message, lsn, message … Handled in order once it is done. Invariant: while `waiting`,
   * no message is handled out of this queue's order, and the socket is paused.
   */
  private readonly backlog: unknown[] = [];
  private backlogAt = 0;
  private waiting = false;
  /** run() failed: no further message is handled (the queued ones are dropped with the stream). */
  private failed = false;
  private fail: (e: unknown) => void = () => undefined;

  constructor(private readonly deps: StreamingDeps) {
    this.stored = deps.stored;
    this.messageWanted = messagePrefixFilter(deps.config);
    this.plugin = new RawPgoutputPlugin({ protoVersion: 1, publicationNames: [deps.config['publication.name']], messages: true });
    this.decoder = new PgoutputDecoder(this.plugin);
    // auto: false — we confirm only after the Kafka commit. timeoutSeconds: 0 — the library's timer
    // would otherwise confirm the last *received* LSN every 10 s (data loss on crash).
    this.service = new LogicalReplicationService(
      { ...clientConfig(deps.config), options: '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3' },
      // flowControl off: the library's own queue awaits two promises per message (emitAsync,
      // _acknowledge); we keep the order and the backpressure ourselves (see `onData`).
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
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
        this.failed = true;
        void this.service.stop().finally(() => reject(e));
      };
      this.fatal = fail;
      this.fail = fail;
      // The service emits every message synchronously as it is parsed (flowControl off). Not async:
      // a change that needs no waiting is handled without allocating a promise.
      this.service.on('data', (lsn: string, msg: DecoderMessage): void => {
        if (settled) return;
        if (this.waiting) {
          this.backlog.push(lsn, msg);
          return;
        }
        this.onData(lsn, msg);
      });
      this.service.on('heartbeat', async (lsn: string, _ts: number, shouldRespond: boolean) => {
        try {
          await this.onKeepalive(parseLsn(lsn), shouldRespond);
        } catch (e) {
          fail(e);
        }
      });
      this.service.on('error', (e: Error) => fail(e));
      // A stop() that came while subscribe() was still connecting found no connection to end:
      // end it once replication starts, or the stream would run on after its stop.
      this.service.on('start', () => {
        if (this.stopping) void this.service.stop();
      });
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

  /** Handles one message now; if it has to wait, later messages queue in `backlog` until it is done. */
  private onData(lsn: string, msg: DecoderMessage): void {
    try {
      this.receivedLsn = parseLsn(lsn);
      const pending = this.handle(this.decoder.decode(msg));
      if (!pending) {
        this.handled++;
        return;
      }
      this.waiting = true;
      this.pauseStream(true);
      pending.then(() => {
        this.handled++;
        this.waiting = false;
        this.drainBacklog();
      }, this.fail);
    } catch (e) {
      this.fail(e);
    }
  }

  /** Handles the queued messages in order until one has to wait again or none is left; then reads on. */
  private drainBacklog(): void {
    const q = this.backlog;
    while (this.backlogAt < q.length && !this.waiting && !this.stopping && !this.failed) {
      const lsn = q[this.backlogAt] as string;
      const msg = q[this.backlogAt + 1] as DecoderMessage;
      q[this.backlogAt] = q[this.backlogAt + 1] = undefined;
      this.backlogAt += 2;
      this.onData(lsn, msg);
    }
    if (this.backlogAt >= q.length) {
      q.length = 0;
      this.backlogAt = 0;
    }
    if (!this.waiting && !this.stopping && !this.failed) this.pauseStream(false);
  }

  /** Stops/starts reading the replication socket (what the library's own flow control does, through the same field). */
  private pauseStream(pause: boolean): void {
    const stream = (this.service as unknown as { _connection?: { stream?: { pause?(): void; resume?(): void } } | null })._connection?.stream;
    if (pause) stream?.pause?.();
    else stream?.resume?.();
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
   * us), so that WAL end is an idle point: handed to `onIdle`, which records it in Kafka and then
   * confirms it, letting the slot advance while captured tables are idle. A transaction still
   * running on the server commits later, at a higher LSN, and will be sent then. A keepalive that
   * asks for a reply gets the last confirmed LSN.
   */
  private async onKeepalive(walEnd: bigint, shouldRespond: boolean): Promise<void> {
    // Keepalives are emitted on receipt, data messages may still wait in the service's queue:
    // require every parsed message to be handled.
    const drained = this.handled === this.plugin.parsed;
    if (drained && this.tx === null && this.deps.publisher.idle && walEnd >= this.receivedLsn && walEnd > this.confirmedLsn) this.deps.onIdle(walEnd);
    if (shouldRespond) await this.confirm(this.confirmedLsn);
  }

  /** Periodic status update (heartbeat): same rule as a keepalive, using the last received LSN. */
  async heartbeat(): Promise<void> {
    await this.onKeepalive(this.receivedLsn, true);
  }

  /** Handles one decoded message; a promise only when it has to wait (backpressure, a new relation, commit work). */
  private handle(ch: RawChange): Promise<void> | undefined {
    switch (ch.kind) {
      case 'begin': {
        const s = this.stored;
        this.tx = {
          xid: ch.xid,
          commitLsn: ch.commitLsn,
          commitTimeMs: ch.commitTimeMs,
          ...(ch.commitTimeUs === undefined ? {} : { commitTimeUs: ch.commitTimeUs }),
          seq: 0,
          emitted: 0,
          skipAll: s !== null && ch.commitLsn < s.commitLsn,
          skipUpTo: s !== null && ch.commitLsn === s.commitLsn ? s.seq : -1,
        };
        // receivedLsn: the Begin message's own LSN (the transaction's first record), Debezium's id part
        const begin = this.deps.builder.beginTransaction({ xid: ch.xid, commitLsn: ch.commitLsn, beginLsn: this.receivedLsn, commitTimeMs: ch.commitTimeMs });
        // BEGIN goes out with the transaction's first event (not for a skipped or resumed one).
        this.pendingBegin = !this.tx.skipAll && this.tx.skipUpTo < 0 ? begin : [];
        return undefined;
      }
      case 'commit': {
        const tx = this.tx;
        this.tx = null;
        if (!tx) return undefined;
        this.lastCommitLsn = ch.endLsn;
        this.flushReadCounts();
        const end = this.deps.builder.endTransaction(tx.commitLsn);
        if (tx.emitted === 0 && !tx.forceCommit) return undefined;
        return this.commit(tx, end);
      }
      case 'relation':
        return this.relation(ch.relation);
      case 'insert':
        return this.emitRow('c', null, ch.after, ch.relation);
      case 'update':
        return this.emitRow('u', ch.before, ch.after, ch.relation);
      case 'delete':
        return this.emitRow('d', ch.before, null, ch.relation);
      case 'truncate':
        return this.truncate(ch.relations);
      case 'message':
        return this.message(ch);
      case 'ignored':
        return undefined;
    }
  }

  private async commit(tx: OpenTx, end: readonly EventRecord[]): Promise<void> {
    const { publisher } = this.deps;
    if (this.pendingBegin.length === 0) await publisher.push(end);
    const inc = this.deps.incremental?.checkpoint();
    await publisher.endTransaction({ connector: this.deps.config.name, last_commit_lsn: formatLsn(tx.commitLsn), last_seq: tx.seq - 1, snapshot: null, ...(inc ? { incremental: inc } : {}) }, tx.commitTimeMs);
  }

  private async relation(raw: Parameters<RelationCache['update']>[0]): Promise<void> {
    const info = await this.deps.relations.update(raw);
    this.deps.builder.prepare(info);
    await this.deps.admin.ensureTopics([this.deps.builder.topicFor(info)]);
    this.deps.logger.debug({ table: `${info.schema}.${info.table}`, columns: info.columns.length }, 'relation described');
  }

  private async truncate(relations: Extract<RawChange, { kind: 'truncate' }>['relations']): Promise<void> {
    for (const r of relations) await this.emit((source, rel) => ({ op: 't', relation: rel, source }), r);
  }

  private async message(ch: Extract<RawChange, { kind: 'message' }>): Promise<void> {
    const inc = this.deps.incremental;
    if (ch.prefix === WATERMARK_PREFIX || ch.prefix.startsWith(`${WATERMARK_PREFIX}:`)) {
      // Incremental-snapshot messages (incremental-snapshot.ts) are never published as message
      // events; only this pipeline's act, and not in a replayed transaction Kafka already has.
      const tx = this.tx;
      if (!inc || ch.prefix !== inc.prefix || !ch.transactional || !tx || tx.skipAll) return;
      const out = inc.onMessage(ch.content);
      if (out === null) return;
      tx.forceCommit = true;
      if (out === true) return;
      for (const row of out.rows) {
        const seq = tx.seq++;
        if (seq <= tx.skipUpTo) continue;
        const waiting = this.emitTo((source, rel) => ({ op: 'r', relation: rel, before: null, after: row, source: { ...source, snapshot: 'incremental' } }), out.relation, tx, seq);
        if (waiting) await waiting;
      }
      return;
    }
    // message.prefix.include/exclude.list: a filtered-out message is not an event (as in Debezium);
    // its transaction still commits with the row changes it holds.
    if (!this.messageWanted(ch.prefix)) return;
    if (ch.transactional && this.tx) {
      await this.emit((source) => ({ op: 'm', prefix: ch.prefix, content: ch.content, transactional: true, source }), null);
      return;
    }
    // Non-transactional: its own single-event "transaction" at the message LSN.
    this.tx = { xid: 0, commitLsn: ch.lsn, commitTimeMs: Date.now(), seq: 0, emitted: 0, skipAll: this.stored !== null && ch.lsn <= this.stored.commitLsn, skipUpTo: -1 };
    await this.emit((source) => ({ op: 'm', prefix: ch.prefix, content: ch.content, transactional: false, source: { ...source, xid: null } }), null);
    await this.handle({ kind: 'commit', commitLsn: ch.lsn, endLsn: ch.lsn, commitTimeMs: this.tx.commitTimeMs });
  }

  /** One change of the open transaction: position it, skip it if Kafka has it, else build and queue its records. */
  private emit(make: (source: SourceInfo, rel: RelationInfo) => SourceChange, raw: Parameters<RelationCache['get']>[0] | null): Promise<void> | undefined {
    const tx = this.tx;
    if (!tx) throw new Error('pgoutput protocol error: a change arrived outside a transaction');
    const seq = tx.seq++;
    if (tx.skipAll || seq <= tx.skipUpTo) return undefined;
    if (raw) {
      const known = this.deps.relations.peek(raw);
      if (!known) return this.deps.relations.get(raw).then((rel) => this.emitTo(make, rel, tx, seq));
      return this.emitTo(make, known, tx, seq);
    }
    return this.emitTo(make, null, tx, seq);
  }

  /**
   * An insert/update/delete: as `emit`, without a closure per change (the hot path: one per row).
   * Same positions, skips and order as `emit`.
   */
  private emitRow(op: 'c' | 'u' | 'd', before: RawTuple | null, after: RawTuple | null, raw: Parameters<RelationCache['get']>[0]): Promise<void> | undefined {
    const tx = this.tx;
    if (!tx) throw new Error('pgoutput protocol error: a change arrived outside a transaction');
    const seq = tx.seq++;
    if (tx.skipAll || seq <= tx.skipUpTo) return undefined;
    const known = this.deps.relations.peek(raw);
    if (!known) return this.deps.relations.get(raw).then((rel) => this.emitRowTo(op, before, after, rel, tx, seq));
    return this.emitRowTo(op, before, after, known, tx, seq);
  }

  private emitRowTo(op: 'c' | 'u' | 'd', before: RawTuple | null, after: RawTuple | null, rel: RelationInfo, tx: OpenTx, seq: number): Promise<void> | undefined {
    const change: SourceChange = { op, relation: rel, before, after, source: this.sourceInfo(tx, seq) };
    if (this.pendingBegin.length > 0) {
      const waiting = this.pushBegin();
      if (waiting) return waiting.then(() => this.publish(change, rel, tx));
    }
    return this.publish(change, rel, tx);
  }

  /** The `source` facts of change `seq` of `tx` (one object shape per commit-time kind: no spread on the hot path). */
  private sourceInfo(tx: OpenTx, seq: number): SourceInfo {
    const position = { commitLsn: tx.commitLsn, seq };
    return tx.commitTimeUs === undefined
      ? { position, xid: tx.xid, commitTimeMs: tx.commitTimeMs, lsn: this.receivedLsn, snapshot: 'false', lastCommitLsn: this.lastCommitLsn }
      : { position, xid: tx.xid, commitTimeMs: tx.commitTimeMs, commitTimeUs: tx.commitTimeUs, lsn: this.receivedLsn, snapshot: 'false', lastCommitLsn: this.lastCommitLsn };
  }

  /** Sends the held BEGIN record ahead of the transaction's first event. */
  private pushBegin(): Promise<void> | undefined {
    const begin = this.pendingBegin;
    this.pendingBegin = [];
    return this.deps.publisher.push(begin);
  }

  private emitTo(make: (source: SourceInfo, rel: RelationInfo) => SourceChange, rel: RelationInfo | null, tx: OpenTx, seq: number): Promise<void> | undefined {
    const source = this.sourceInfo(tx, seq);
    if (this.pendingBegin.length > 0) {
      const waiting = this.pushBegin();
      if (waiting) return waiting.then(() => this.publish(make(source, rel as RelationInfo), rel, tx));
    }
    return this.publish(make(source, rel as RelationInfo), rel, tx);
  }

  private publish(change: SourceChange, rel: RelationInfo | null, tx: OpenTx): Promise<void> | undefined {
    const guard = this.deps.guard;
    const records = guard.check(this.deps.builder.build(change), rel);
    tx.emitted++;
    if (rel) {
      this.countRead(rel, change.op);
      // An open incremental-snapshot window: this change's keys leave the chunk.
      const inc = this.deps.incremental;
      if (inc && inc.watching !== null && (change.op === 'c' || change.op === 'u' || change.op === 'd') && inc.watching === `${rel.schema}.${rel.table}`) inc.observe(change.before ?? null, change.after ?? null);
    }
    return this.deps.publisher.push(records, guard.lastBytes);
  }

  /**
   * Events-read counts, kept in plain numbers per (table, op) and added to the Prometheus counter
   * at each commit (or every 1,024 events): a labelled counter's inc() hashes its labels each call.
   */
  private countRead(rel: RelationInfo, op: string): void {
    let byOp = this.readCounters.get(rel);
    if (!byOp) this.readCounters.set(rel, (byOp = new Map()));
    let entry = byOp.get(op);
    if (!entry) {
      byOp.set(op, (entry = { child: metrics.sourceEventsRead.labels({ pipeline: this.deps.config.name, table: `${rel.schema}.${rel.table}`, op }), pending: 0 }));
    }
    if (entry.pending++ === 0) this.dirtyReadCounts.push(entry);
    if (entry.pending >= 1024) {
      entry.child.inc(entry.pending);
      entry.pending = 0;
      this.dirtyReadCounts.splice(this.dirtyReadCounts.indexOf(entry), 1);
    }
  }

  private flushReadCounts(): void {
    for (const e of this.dirtyReadCounts) {
      if (e.pending > 0) e.child.inc(e.pending);
      e.pending = 0;
    }
    this.dirtyReadCounts.length = 0;
  }

  /** Updates the dedup boundary (after a snapshot finished before streaming). */
  setStored(p: Position | null): void {
    this.stored = p;
  }
}

export function storedPosition(o: StoredOffset | null): Position | null {
  return o ? { commitLsn: parseLsn(o.last_commit_lsn), seq: o.last_seq } : null;
}
