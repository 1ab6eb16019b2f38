/**
 * Generations of a sink's target, for `cdc-fanout rebuild` (src/daemon/rebuild.ts, docs/rebuild.md):
 * what a sink type implements so a new generation of its target (an Elasticsearch index behind an
 * alias, a ClickHouse table, a Redis key namespace behind a pointer key) can be built next to the live one and swapped in. The rebuild's state
 * lives in the sink's own store, next to its offsets, so a crashed rebuild resumes.
 */
import type { PartitionOffset, TopicPartition } from './sink.js';

export type RebuildPhase = 'building' | 'swapping' | 'draining' | 'retiring' | 'done';

/** One swap: the name readers use (`name`) moves to `generation`; `previous` is dropped after the grace period. */
export interface GenerationSwap {
  /** The name readers query (an ES alias, a ClickHouse table name). */
  readonly name: string;
  /** The target built by the rebuild (an ES index, a ClickHouse table) that `name` becomes. */
  readonly generation: string;
  /** What `name` resolved to before (dropped after the grace period). */
  readonly previous: readonly string[];
  /**
   * Elasticsearch: `name` was a concrete index (written before generations), removed in the swap.
   * ClickHouse: unused (the previous table is renamed away, kept for the grace period).
   */
  readonly legacy: boolean;
  /** Backend detail a resumed swap needs (ClickHouse: the generation table's UUID before EXCHANGE). */
  readonly token?: string;
}

export interface RebuildState {
  /** The live sink's group (whose offsets the rebuild catches up with). */
  readonly group: string;
  readonly generation: number;
  /** Group (consumer group and offsets in the sink's store) of the generation being built. */
  readonly rebuildGroup: string;
  /** Suffix of this generation's target names. */
  readonly suffix: string;
  /** Tables rebuilt ("schema.table"); null = every table of the sink. */
  readonly tables: readonly string[] | null;
  readonly phase: RebuildPhase;
  readonly startedAt: string;
  /** What the generation is built from (absent: `log`, states stored before `--from snapshot` existed). */
  readonly from?: 'log' | 'snapshot';
  /** `--from snapshot`: where the generation starts reading, and the snapshot feeding it. */
  readonly snapshot?: RebuildSnapshot;
  /** The topics' high watermarks when the rebuild began: it reads at least that far before the swap (a new sink has no live offsets to catch up with). */
  readonly readTo?: readonly PartitionOffset[];
  /** Planned (phase swapping) and done (later) swaps. */
  readonly swaps?: readonly GenerationSwap[];
  readonly swappedAt?: string;
  /** High watermarks read right after the swap: the rebuild drains to them. */
  readonly drainTo?: readonly PartitionOffset[];
  /** When the previous generation may be dropped. */
  readonly dropAfter?: string;
  readonly finishedAt?: string;
}

/** The incremental snapshot a `--from snapshot` rebuild feeds its generation from. */
export interface RebuildSnapshot {
  /** The topics' ends read before the snapshot was requested: the rebuild group's first offsets. */
  readonly startAt: readonly PartitionOffset[];
  /** Tables snapshotted ("schema.table"). */
  readonly tables: readonly string[];
  /** Id of the source's incremental snapshot committed before the request (to tell ours from it). */
  readonly previousId: string | null;
  /** The signal written (absent: not yet requested). */
  readonly signal?: string;
  /** Set once the source committed the snapshot as done. */
  readonly done?: boolean;
}

export interface GenerationStore {
  /** Creates what the state needs in the sink's store (idempotent). */
  ensure(): Promise<void>;
  /** The live group of this sink (where its offsets are stored). */
  readonly liveGroup: string;
  /** Suffix of generation `n`'s target names (safe in the store's identifiers). */
  suffixFor(generation: number): string;
  load(group: string): Promise<RebuildState | null>;
  save(state: RebuildState): Promise<void>;
  /** Stored offsets of `group` by `topic|partition`; partitions without one are absent. */
  offsets(group: string, partitions: readonly TopicPartition[]): Promise<Map<string, bigint>>;
  /** Removes the offsets stored for `group` (the rebuild group, when done). */
  dropOffsets(group: string): Promise<void>;
  /** The swaps for generation `suffix`: each of its targets, what it replaces. */
  planSwaps(suffix: string): Promise<GenerationSwap[]>;
  /** Performs the swaps (skipping those already done: a resumed swap); atomic per name for readers. */
  swap(swaps: readonly GenerationSwap[]): Promise<void>;
  /**
   * Optional: a swap that is only done when the rebuild group has applied everything the live group
   * has, atomically with the live sink's commits (Redis: one script over both offsets hashes and the
   * pointer). Returns false when the live sink is ahead at this instant; the driver keeps the rebuild
   * instance running and tries again. Without it: the rebuild instance stops, `swap`, then draining.
   */
  trySwap?(swaps: readonly GenerationSwap[], state: RebuildState, partitions: readonly TopicPartition[]): Promise<boolean>;
  /** Optional: refuses a rebuild request this store cannot do (throws an Error saying why and what to run instead). */
  checkRequest?(tables: readonly string[] | null): void;
  /** Drops what the swaps replaced (never what a name serves now); returns what was dropped. */
  dropPrevious(swaps: readonly GenerationSwap[], suffix: string): Promise<string[]>;
  /**
   * Sink config overrides that make an instance of the sink write generation `state` with its own
   * group: into the generation's targets while building, into the live names from phase draining on
   * (after the swap the names serve the new generation; a ClickHouse generation table is gone or,
   * after EXCHANGE, holds the previous data).
   */
  rebuildConfig(state: RebuildState): Record<string, unknown>;
  close(): Promise<void>;
}

/** Whether the rebuild instance writes the generation's own targets (before the swap) or the live names (after). */
export const beforeSwap = (state: RebuildState): boolean => state.phase === 'building' || state.phase === 'swapping';

export const tpKey = (p: TopicPartition): string => `${p.topic}|${p.partition}`;

export function rebuildGroupOf(group: string, generation: number): string {
  return `${group}.rebuild.g${generation}`;
}
