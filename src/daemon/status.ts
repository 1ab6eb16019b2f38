/** Shapes of the daemon's status, served by GET /pipelines (always redacted before it leaves). */
import type { IncrementalStatus } from '../source/incremental-snapshot.js';
import type { FailedTable } from '../sinks/runtime/runner.js';
import type { SlotHealth } from '../source/slot-health.js';

/**
 * STANDBY (sources only): another daemon with the same pipeline runs the source; this one waits,
 * polling, and takes over when it stops (docs/ha.md). Healthy: counts as ready.
 */
/** DISABLED: the component is not run by this daemon (`run --role`); another process runs it. */
export type ComponentState = 'STARTING' | 'STANDBY' | 'RUNNING' | 'PAUSED' | 'FAILED' | 'RESTARTING' | 'STOPPED' | 'DISABLED';

export interface ErrorInfo {
  readonly message: string;
  /** ISO timestamp. */
  readonly at: string;
}

export interface PartitionStatus {
  readonly topic: string;
  readonly partition: number;
  /** Next offset the sink will apply (its own store), decimal string; null while unknown. */
  readonly offset: string | null;
  /** End offset a read_committed reader can reach (last stable offset) at the last poll; null before it. */
  readonly highWatermark: string | null;
  /** highWatermark − offset; null = unknown (never shown as 0). */
  readonly lag: number | null;
  /** Age of the oldest unapplied event (ms); 0 when caught up, null = unknown. */
  readonly timeLagMs: number | null;
}

/**
 * A table of a sink stopped at a record it cannot apply (errors.tolerance=none); the sink's other
 * tables go on. Retried by the sink's resume action or a restart, from `resumeFrom`.
 */
export type FailedTableStatus = { readonly state: 'FAILED' } & FailedTable;

export interface SnapshotProgress {
  readonly table: string;
  readonly done: number;
  readonly total: number | null;
  readonly finished: boolean;
  /** While running: rows/s of this snapshot run, estimated seconds left, chunks done/planned, workers. */
  readonly rowsPerSecond?: number;
  readonly etaSeconds?: number | null;
  readonly chunks?: { readonly done: number; readonly total: number };
  readonly threads?: number;
}

export interface ComponentStatus {
  readonly state: ComponentState;
  /** Why the component is not RUNNING (set for every other state): what it waits for, or the error and the next retry. */
  readonly reason?: string | undefined;
  readonly restarts: number;
  readonly lastError?: ErrorInfo | undefined;
  /** When the next restart attempt happens (RESTARTING). */
  readonly nextRestartAt?: string | undefined;
}

/** Replication slot health from the source's last poll of pg_replication_slots (see docs/operations-slot.md). */
export type SlotStatus = SlotHealth;

export interface SourceStatus extends ComponentStatus {
  readonly lastLsn: string | null;
  readonly eventsPublished: number;
  readonly eventsPerSec: number;
  /** pg_current_wal_lsn() − confirmed_flush_lsn; null = not measured yet. */
  readonly slotLagBytes: number | null;
  /** How long ago the server had written what the slot confirmed (ms); null = not measured yet. */
  readonly slotLagMs: number | null;
  readonly slot: SlotStatus | null;
  readonly snapshot: readonly SnapshotProgress[];
  /** The incremental snapshot: running, paused, or the last one finished (rows, rate, ETA). */
  readonly incremental?: IncrementalStatus | undefined;
  readonly details?: Record<string, unknown> | undefined;
}

export interface SinkStatus extends ComponentStatus {
  readonly name: string;
  readonly type: string;
  readonly records: number;
  readonly recordsPerSec: number;
  /** Sum of the partitions' offset lag; null = unknown (not yet fetched, not assigned, sink down). */
  readonly lag: number | null;
  /** Age of the oldest unapplied event over the partitions (ms); null = unknown. */
  readonly timeLagMs: number | null;
  /** When the end offsets behind `lag` were fetched (ISO); null before the first fetch. */
  readonly lagUpdatedAt: string | null;
  /** Mean commit→applied latency (Postgres commit → sink commit, ms) over the last history interval; null when nothing was applied. */
  readonly latencyMs: number | null;
  readonly partitions: readonly PartitionStatus[];
  /** Tables stopped at a record they cannot apply while the sink runs on (see FailedTableStatus); empty when none. */
  readonly failedTables: readonly FailedTableStatus[];
  readonly details?: Record<string, unknown> | undefined;
}

export interface PipelineStatus {
  readonly name: string;
  readonly file: string;
  readonly topicPrefix: string;
  readonly kafka: { readonly bootstrapServers: string };
  readonly source: SourceStatus;
  readonly sinks: readonly SinkStatus[];
}

/** The last minutes of one component, sampled every `intervalMs` (oldest first). */
export interface ComponentHistory {
  /** Sample times (epoch ms). */
  readonly t: readonly number[];
  /** Named series, each as long as `t`; null where the value was unknown. */
  readonly series: Readonly<Record<string, readonly (number | null)[]>>;
}

export interface PipelineHistory {
  readonly name: string;
  readonly source: ComponentHistory;
  readonly sinks: readonly ({ readonly name: string } & ComponentHistory)[];
}

/** GET /history. */
export interface DaemonHistory {
  readonly intervalMs: number;
  readonly pipelines: readonly PipelineHistory[];
}
