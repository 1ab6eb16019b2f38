/** Shapes of the daemon's status, served by GET /pipelines (always redacted before it leaves). */

export type ComponentState = 'STARTING' | 'RUNNING' | 'PAUSED' | 'FAILED' | 'RESTARTING' | 'STOPPED';

export interface ErrorInfo {
  readonly message: string;
  /** ISO timestamp. */
  readonly at: string;
}

export interface PartitionStatus {
  readonly topic: string;
  readonly partition: number;
  /** Next offset the sink will read (its own store), decimal string. */
  readonly offset: string | null;
  readonly highWatermark: string | null;
  readonly lag: number | null;
}

export interface SnapshotProgress {
  readonly table: string;
  readonly done: number;
  readonly total: number | null;
  readonly finished: boolean;
}

export interface ComponentStatus {
  readonly state: ComponentState;
  /** Why FAILED / RESTARTING. */
  readonly reason?: string | undefined;
  readonly restarts: number;
  readonly lastError?: ErrorInfo | undefined;
  /** When the next restart attempt happens (RESTARTING). */
  readonly nextRestartAt?: string | undefined;
}

/** Replication slot health from the source's last poll of pg_replication_slots (see docs/operations-slot.md). */
export interface SlotStatus {
  readonly slot: string;
  readonly checkedAt: string;
  readonly exists: boolean;
  readonly activePid: number | null;
  /** reserved | extended | unreserved | lost */
  readonly walStatus: string | null;
  readonly currentWalLsn: string;
  readonly confirmedFlushLsn: string | null;
  readonly restartLsn: string | null;
  readonly lagBytes: number | null;
  readonly lagMs: number | null;
  readonly retainedBytes: number | null;
  readonly safeWalSize: number | null;
  /** Thresholds passed, wal_status unreserved. */
  readonly warnings: readonly string[];
}

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
  readonly details?: Record<string, unknown> | undefined;
}

export interface SinkStatus extends ComponentStatus {
  readonly name: string;
  readonly type: string;
  readonly records: number;
  readonly recordsPerSec: number;
  readonly lag: number | null;
  readonly partitions: readonly PartitionStatus[];
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
