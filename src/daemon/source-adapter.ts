/**
 * The seam to the Postgres source: the pipeline's `source` block becomes a SourceHandle around a
 * fresh PostgresSource per (re)start. The source's own fields go to PostgresSource; the event
 * options of the same block are validated by the schema and passed on where the source takes them.
 */
import type { KafkaConfig } from '../kafka/config.js';
import type { Logger } from '../observability/logger.js';
import { sourceSpec } from '../source/config.js';
import pg from 'pg';
import { clientConfig } from '../source/connection.js';
import { PostgresSource, type SourceStatus as PostgresSourceStatus } from '../source/postgres-source.js';
import { SnapshotTables } from '../source/snapshot-tables.js';
import { specFields } from '../spec/spec-fields.js';
import { SignalWatcher, type SnapshotSignal } from './signals.js';
import type { SourceFactory, SourceHandle, SourceRuntimeStatus } from './handles.js';
import type { SnapshotProgress } from './status.js';

export interface SourceAdapterInput {
  readonly pipeline: string;
  readonly source: Record<string, unknown>;
  readonly kafka: KafkaConfig;
  readonly logger: Logger;
}

export function sourceFactory(input: SourceAdapterInput): SourceFactory {
  const own = specFields(input.source, sourceSpec);
  // One for every source a restart creates: tables an earlier source finished stay in status.
  const snapshotTables = new SnapshotTables();
  const signalTable = input.source['signal.data.collection'] as string | undefined;
  return (ctx): SourceHandle => {
    const logger = input.logger.child({ component: 'source' });
    const src = new PostgresSource(own, input.kafka, logger, snapshotTables);
    src.onStandby((reason) => ctx.standby?.(reason));
    // Snapshot signals go to the source (src/source: incremental-snapshot.ts, adhoc-snapshot.ts).
    const execute = async (sig: SnapshotSignal): Promise<'done' | 'accepted'> =>
      (await src.snapshot(sig.kind === 'execute' ? { kind: 'execute', tables: sig.tables, conditions: sig.conditions, type: sig.type } : sig.kind === 'stop' ? { kind: 'stop', tables: sig.tables } : { kind: sig.kind })).status;
    const watcher = signalTable ? new SignalWatcher({ client: () => new pg.Client(clientConfig(src.writeConfig)), table: signalTable, logger, execute }) : undefined;
    return {
      async start() {
        await src.start();
        // Stopped while waiting as standby: nothing runs.
        if (src.status().state === 'stopped') return;
        src.whenStopped().catch((err: unknown) => ctx.onFailure(err instanceof Error ? err : new Error(String(err))));
        await watcher?.start();
      },
      async stop() {
        await watcher?.stop();
        await src.stop();
      },
      snapshot: (req) => src.snapshot(req),
      async status(): Promise<SourceRuntimeStatus> {
        // Read from the source itself (not from the Prometheus registry, which only exports these).
        const st = src.status();
        return {
          lastLsn: st.lastCommittedLsn,
          eventsPublished: st.eventsPublished,
          slotLagBytes: st.slot?.lagBytes ?? null,
          slotLagMs: st.slot?.lagMs ?? null,
          slot: st.slot,
          snapshot: snapshotProgress(st),
          ...(st.incremental ? { incremental: st.incremental } : {}),
          details: { state: st.state, ...(st.standby ? { standby: st.standby } : {}), confirmedLsn: st.confirmedLsn, tables: st.tables, lastCommittedSeq: st.lastCommittedSeq, kafkaTransactions: st.kafkaTransactions, ...(watcher ? { signals: watcher.records } : {}) },
        };
      },
    };
  };
}

/**
 * `source.snapshot[]`: every table the source's snapshots began (SnapshotTables), with the rate,
 * ETA, chunks and workers of the table being read now — that of the initial snapshot or of tables
 * added while streaming.
 */
export function snapshotProgress(st: Pick<PostgresSourceStatus, 'state' | 'snapshot' | 'snapshotTables' | 'tables'>): SnapshotProgress[] {
  const live = st.state === 'snapshotting' ? st.snapshot : (st.tables?.running?.progress ?? null);
  return st.snapshotTables.map((t) => {
    const current = !t.finished && live !== null && live.table === t.table;
    return {
      table: t.table,
      done: t.rowsDone,
      total: t.rowsEstimated,
      finished: t.finished,
      ...(current ? { rowsPerSecond: live.rowsPerSecond, etaSeconds: live.etaSeconds, chunks: { done: live.chunksDone, total: live.chunksTotal }, threads: live.threads } : {}),
    };
  });
}
