/**
 * The seam to the Postgres source: the pipeline's `source` block becomes a SourceHandle around a
 * fresh PostgresSource per (re)start. The source's own fields go to PostgresSource; the event
 * options of the same block are validated by the schema and passed on where the source takes them.
 */
import type { KafkaConfig } from '../kafka/config.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { sourceSpec } from '../source/config.js';
import pg from 'pg';
import { clientConfig } from '../source/connection.js';
import { PostgresSource } from '../source/postgres-source.js';
import { SignalWatcher, type SnapshotSignal } from './signals.js';
import type { SourceFactory, SourceHandle, SourceRuntimeStatus } from './handles.js';
import { metricValues } from './metric-values.js';
import type { SnapshotProgress } from './status.js';

export interface SourceAdapterInput {
  readonly pipeline: string;
  readonly source: Record<string, unknown>;
  readonly kafka: KafkaConfig;
  readonly logger: Logger;
}

export function sourceFactory(input: SourceAdapterInput): SourceFactory {
  const own: Record<string, unknown> = {};
  for (const k of Object.keys(sourceSpec.shape)) if (input.source[k] !== undefined) own[k] = input.source[k];
  const connector = String(own.name ?? input.pipeline);
  const signalTable = input.source['signal.data.collection'] as string | undefined;
  return (ctx): SourceHandle => {
    const logger = input.logger.child({ component: 'source' });
    const src = new PostgresSource(own, input.kafka, logger);
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
        const st = src.status();
        const labels = { pipeline: connector };
        const done = await metricValues(metrics.snapshotRowsDone, labels);
        const total = new Map((await metricValues(metrics.snapshotRowsTotal, labels)).map((v) => [v.labels.table, v.value]));
        const lag = await metricValues(metrics.slotLagBytes, labels);
        // The snapshot running now: the initial one, or that of tables added while streaming.
        const live = st.state === 'snapshotting' ? st.snapshot : (st.tables?.running?.progress ?? null);
        const rate = (p: NonNullable<typeof live>) => ({ rowsPerSecond: p.rowsPerSecond, etaSeconds: p.etaSeconds, chunks: { done: p.chunksDone, total: p.chunksTotal }, threads: p.threads });
        const snapshot: SnapshotProgress[] = done.map((d) => {
          const table = d.labels.table ?? '';
          const current = live !== null && live.table === table;
          const estimate = total.get(table) ?? (current && live.rowsEstimated ? live.rowsEstimated : null);
          return { table, done: d.value, total: estimate, finished: !current, ...(current ? rate(live) : {}) };
        });
        if (live?.table && !snapshot.some((s) => s.table === live.table)) {
          snapshot.push({ table: live.table, done: live.rowsDone, total: live.rowsEstimated || null, finished: false, ...rate(live) });
        }
        return {
          lastLsn: st.lastCommittedLsn,
          eventsPublished: st.eventsPublished,
          slotLagBytes: st.slot?.lagBytes ?? lag[0]?.value ?? null,
          slotLagMs: st.slot?.lagMs ?? null,
          slot: st.slot,
          snapshot,
          ...(st.incremental ? { incremental: st.incremental } : {}),
          details: { state: st.state, ...(st.standby ? { standby: st.standby } : {}), confirmedLsn: st.confirmedLsn, tables: st.tables, lastCommittedSeq: st.lastCommittedSeq, kafkaTransactions: st.kafkaTransactions, ...(watcher ? { signals: watcher.records } : {}) },
        };
      },
    };
  };
}
