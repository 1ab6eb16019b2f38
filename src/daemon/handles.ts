/**
 * What the daemon needs from a source or a sink — deliberately small so the supervisor does not
 * depend on the components' internals. src/daemon/adapters.ts wraps PostgresSource and SinkRunner
 * into these.
 */
import type { IncrementalStatus } from '../source/incremental-snapshot.js';
import type { SnapshotRequest } from '../source/postgres-source.js';
import type { ComponentState, FailedTableStatus, PartitionStatus, SlotStatus, SnapshotProgress } from './status.js';

export interface HandleContext {
  /** Call when the component fails after start() resolved (the supervisor restarts it). */
  readonly onFailure: (err: Error) => void;
  /**
   * Call while start() waits because another daemon runs the component (daemon HA): the reason
   * while it waits (state STANDBY), null once it takes over (state STARTING until start() resolves).
   */
  readonly standby?: (reason: string | null) => void;
}

export interface ComponentHandle {
  /** Resolves once the component runs; rejects when it cannot start. */
  start(): Promise<void>;
  /** Graceful stop: stop intake, flush, checkpoint, close. Must be safe to call twice. */
  stop(): Promise<void>;
}

export interface SourceRuntimeStatus {
  readonly lastLsn: string | null;
  readonly eventsPublished: number;
  readonly slotLagBytes: number | null;
  readonly slotLagMs: number | null;
  readonly slot: SlotStatus | null;
  readonly snapshot: readonly SnapshotProgress[];
  /** The incremental snapshot (running, paused, or the last one finished). */
  readonly incremental?: IncrementalStatus;
  readonly details?: Record<string, unknown>;
}

export interface SourceHandle extends ComponentHandle {
  status(): Promise<SourceRuntimeStatus>;
  /** Snapshot requests (admin API): start (incremental or blocking), pause, resume, stop. */
  snapshot?(req: SnapshotRequest): Promise<{ readonly id: string; readonly status: 'accepted' | 'done' }>;
}

export interface SinkRuntimeStatus {
  readonly partitions: readonly PartitionStatus[];
  /** null = unknown. */
  readonly lag: number | null;
  readonly timeLagMs: number | null;
  readonly lagUpdatedAt: string | null;
  /** Tables stopped at a record they cannot apply (errors.tolerance=none). */
  readonly failedTables: readonly FailedTableStatus[];
  readonly details?: Record<string, unknown>;
}

export interface SinkHandle extends ComponentHandle {
  pause(): Promise<void>;
  /** Continues a paused sink; also retries its failed tables from their stored offsets. */
  resume(): Promise<void>;
  /** The component's own view, synchronously (e.g. a runner retrying a batch reports RESTARTING with the error). */
  state(): { readonly state: ComponentState; readonly reason?: string | undefined };
  status(): Promise<SinkRuntimeStatus>;
}

/** Counters of a sink that survive its restarts (the sink adapter owns them; see SinkRunnerStats). */
export interface SinkCounters {
  readonly records: number;
  readonly dlq: number;
  readonly latencySumMs: number;
  readonly latencyCount: number;
  readonly lastError: { readonly message: string; readonly at: string } | undefined;
}

export type SourceFactory = (ctx: HandleContext) => SourceHandle;
export type SinkFactory = (ctx: HandleContext) => SinkHandle;
