/**
 * Slot ownership and start-up position checks (pure: no I/O, unit-tested).
 *
 * Invariant: a pipeline drops, recreates or streams (= advances) a replication slot only when it can
 * prove it owns it: its durable state (offsets topic) holds an ownership record for this slot name
 * on this database system, or the operator said so (`slot.takeover`), or — for state written before
 * ownership records existed — the pipeline has committed offsets and no other pipeline claims the
 * slot (adopted, logged).
 *
 * Invariant: the source never resumes past changes it did not publish. The slot's
 * confirmed_flush_lsn only moves after a Kafka commit of a position at or above it (data commit
 * LSN, or the idle watermark `flushed_lsn`), so an owned slot confirmed beyond that position lost
 * changes (someone else advanced or recreated it), and a missing or invalidated slot with offsets
 * lost everything after its last confirmation. Both fail loudly unless `snapshot.mode: when_needed`
 * (then the pipeline re-snapshots, logged).
 */
import { formatLsn, parseLsn } from '../events/change.js';
import type { SlotOwnership, StoredOffset } from '../kafka/offsets-store.js';
import type { SourceConfig } from './config.js';

export interface SlotState {
  readonly exists: boolean;
  readonly activePid: number | null;
  readonly confirmedFlushLsn: bigint | null;
  readonly restartLsn: bigint | null;
  /** reserved | extended | unreserved | lost (PG 13+), null when unknown. */
  readonly walStatus: string | null;
  readonly plugin: string | null;
  readonly database: string | null;
}

/** What IDENTIFY_SYSTEM says about the server the source streams from, plus its timeline history. */
export interface ServerTimeline {
  readonly systemId: string;
  /** Current timeline ID (a promotion starts a new one). */
  readonly timeline: number;
  /** IDENTIFY_SYSTEM's xlogpos: the server's WAL flush position (on a standby, what it has received/replayed). */
  readonly walEnd: bigint;
  /**
   * Where each ancestor timeline ended in this server's history (TIMELINE_HISTORY: parent timeline →
   * switch point LSN); empty on timeline 1. WAL of an ancestor timeline past its switch point does
   * not exist on this server.
   */
  readonly switchPoints: ReadonlyMap<number, bigint>;
}

export interface OwnershipInput {
  readonly pipeline: string;
  readonly slotName: string;
  readonly database: string;
  readonly systemId: string;
  readonly snapshotMode: 'initial' | 'never' | 'initial_only' | 'when_needed';
  readonly takeover: boolean;
  readonly dropOnStop: boolean;
  readonly slot: SlotState;
  readonly stored: StoredOffset | null;
  readonly owner: SlotOwnership | null;
  readonly otherOwners: readonly SlotOwnership[];
  /** The server's timeline, WAL end and timeline history (absent: not checked). */
  readonly server?: Pick<ServerTimeline, 'timeline' | 'walEnd' | 'switchPoints'>;
}

/** planSlot's input for a source config: its slot settings plus what the server and the offsets topic say. */
export function ownershipInput(
  cfg: SourceConfig,
  server: Pick<ServerTimeline, 'systemId' | 'timeline' | 'walEnd' | 'switchPoints'>,
  slot: SlotState,
  state: { readonly offset: StoredOffset | null; readonly owner: SlotOwnership | null; readonly otherOwners: readonly SlotOwnership[] },
): OwnershipInput {
  return {
    pipeline: cfg.name,
    slotName: cfg['slot.name'],
    database: cfg['database.dbname'],
    systemId: server.systemId,
    server,
    snapshotMode: cfg['snapshot.mode'],
    takeover: cfg['slot.takeover'],
    dropOnStop: cfg['slot.drop.on.stop'],
    slot,
    stored: state.offset,
    owner: state.owner,
    otherOwners: state.otherOwners,
  };
}

export type SlotPlan =
  /** Use the existing slot; `record` = write this ownership record first (adopted / taken over). */
  | { readonly kind: 'use'; readonly record: SlotOwnership['how'] | null; readonly notes: readonly string[] }
  /** Create the slot (dropping ours first when `drop`); snapshot per mode; `resetOffsets` = start over (re-snapshot). */
  | { readonly kind: 'create'; readonly drop: boolean; readonly resetOffsets: boolean; readonly notes: readonly string[] };

export class SlotOwnershipError extends Error {
  override readonly name = 'SlotOwnershipError';
}
export class SlotGapError extends Error {
  override readonly name = 'SlotGapError';
}

/** 1 past the LSN: what Postgres stores as confirmed_flush_lsn after we confirm `lsn` (pg-logical-replication sends lsn + 1). */
const CONFIRM_SLACK = 1n;

/** Highest LSN this pipeline ever allowed the slot to be confirmed to, from its committed state. */
export function committedWatermark(stored: StoredOffset): bigint {
  const a = parseLsn(stored.last_commit_lsn);
  const b = stored.flushed_lsn ? parseLsn(stored.flushed_lsn) : 0n;
  return a > b ? a : b;
}

const lsnText = (l: bigint | null): string => (l === null ? 'unknown' : formatLsn(l));

export function isOurs(owner: SlotOwnership | null, i: Pick<OwnershipInput, 'slotName' | 'systemId' | 'database'>): boolean {
  return owner !== null && owner.slot === i.slotName && owner.system_id === i.systemId && owner.database === i.database;
}

/** Decides what to do with the slot at start-up, or throws an error naming the problem and the ways forward. */
export function planSlot(i: OwnershipInput): SlotPlan {
  const notes: string[] = [];
  const slot = i.slot;
  const name = `"${i.slotName}"`;
  const whenNeeded = i.snapshotMode === 'when_needed';
  const gapRemedy =
    `Ways forward: set snapshot.mode: when_needed to re-snapshot every captured table (sinks converge; events in between are not replayed), ` +
    `or re-create the pipeline's state (new topic.prefix/offsets.topic) for a fresh initial snapshot.`;

  if (!slot.exists) {
    if (!i.stored) return { kind: 'create', drop: false, resetOffsets: false, notes };
    const at = formatLsn(committedWatermark(i.stored));
    if (i.dropOnStop) {
      notes.push(`slot ${name} is missing (slot.drop.on.stop is set): recreating it; changes after ${at} made while it was missing are not captured`);
      return { kind: 'create', drop: false, resetOffsets: false, notes };
    }
    const gap =
      `replication slot ${name} does not exist, but pipeline "${i.pipeline}" committed offsets up to ${at}: the changes since then are gone from this server ` +
      `(the slot was dropped, or Postgres failed over to a standby without failover slots).`;
    if (whenNeeded) {
      notes.push(`${gap} snapshot.mode=when_needed: re-snapshotting`);
      return { kind: 'create', drop: false, resetOffsets: true, notes };
    }
    throw new SlotGapError(`${gap} ${gapRemedy}`);
  }

  const where = `(active pid ${slot.activePid ?? 'none'}, confirmed_flush_lsn ${lsnText(slot.confirmedFlushLsn)})`;
  let record: SlotOwnership['how'] | null = null;
  let legacy = false;
  if (!isOurs(i.owner, i)) {
    const claim = i.otherOwners.find((o) => o.slot === i.slotName && o.system_id === i.systemId && o.database === i.database);
    if (i.takeover) {
      record = 'taken_over';
      notes.push(`slot.takeover: taking over replication slot ${name} ${where}${claim ? ` from pipeline "${claim.pipeline}"` : ''}`);
    } else if (!i.owner && i.stored && !claim) {
      // State written before ownership records existed: offsets committed by this pipeline, slot present.
      record = 'adopted';
      legacy = true;
      notes.push(`adopting replication slot ${name} ${where}: this pipeline has committed offsets but no ownership record (written by an older version); recording ownership now`);
    } else {
      const why = claim
        ? `it belongs to pipeline "${claim.pipeline}" (created ${claim.created_at})`
        : i.owner
          ? `this pipeline's ownership record is for slot "${i.owner.slot}" on database system ${i.owner.system_id} (db "${i.owner.database}"), not this one`
          : `pipeline "${i.pipeline}" has no record of creating it (another pipeline or tool made it, or this pipeline's offsets topic was reset)`;
      throw new SlotOwnershipError(
        `replication slot ${name} exists ${where} but is not owned by pipeline "${i.pipeline}": ${why}. ` +
          `Streaming from it would steal changes from its owner, and dropping it would lose them. Ways forward: ` +
          `give this pipeline its own slot.name (and publication.name); or, if the slot really is this pipeline's and its owner is gone, ` +
          `take it over with \`slot.takeover: true\` in the source config or \`cdc-fanout run --take-over-slot ${i.pipeline}\` (the slot is then this pipeline's; remove the option afterwards).`,
      );
    }
  }

  if (slot.walStatus === 'lost') {
    const gap =
      `replication slot ${name} was invalidated by Postgres (wal_status = lost): the WAL it needed was removed (max_slot_wal_keep_size exceeded), so changes after ${lsnText(slot.confirmedFlushLsn)} are gone.`;
    if (whenNeeded) {
      notes.push(`${gap} snapshot.mode=when_needed: dropping it and re-snapshotting`);
      return { kind: 'create', drop: true, resetOffsets: true, notes };
    }
    throw new SlotGapError(`${gap} ${gapRemedy} Raise max_slot_wal_keep_size (or -1) and alert on cdc_fanout_slot_lag_bytes so it does not recur.`);
  }

  if (!i.stored) {
    // Nothing published from this slot yet: an owned slot may be recreated to export a snapshot.
    if (i.snapshotMode !== 'never') {
      notes.push(`slot ${name} exists but no offsets were committed; recreating it (owned by this pipeline) for the initial snapshot`);
      return { kind: 'create', drop: true, resetOffsets: false, notes };
    }
    return { kind: 'use', record, notes };
  }

  const forked = timelineGap(i, i.stored);
  if (forked !== null) {
    if (whenNeeded) {
      notes.push(`${forked} snapshot.mode=when_needed: re-creating the slot and re-snapshotting`);
      return { kind: 'create', drop: true, resetOffsets: true, notes };
    }
    throw new SlotGapError(`${forked} ${gapRemedy}`);
  }

  const mark = committedWatermark(i.stored);
  if (!legacy && slot.confirmedFlushLsn !== null && slot.confirmedFlushLsn > mark + CONFIRM_SLACK) {
    const gap =
      `replication slot ${name} is confirmed up to ${formatLsn(slot.confirmedFlushLsn)}, but pipeline "${i.pipeline}" only published up to ${formatLsn(mark)}: ` +
      `changes in between were consumed by someone else (another client streamed or advanced the slot, or it was dropped and recreated) and never reached Kafka.`;
    if (whenNeeded) {
      notes.push(`${gap} snapshot.mode=when_needed: re-snapshotting`);
      return { kind: 'create', drop: true, resetOffsets: true, notes };
    }
    throw new SlotGapError(`${gap} ${gapRemedy}`);
  }
  if (legacy) notes.push('(adopted slot: its position cannot be checked against the offsets once; from now on it is)');
  return { kind: 'use', record, notes };
}

/**
 * Invariant: the source never resumes from a position that is not in this server's WAL history.
 * After a promotion the new primary continues on a new timeline from the switch point; WAL the old
 * primary wrote past it (and the source may have published: a failover slot without
 * synchronized_standby_slots, or a restore) does not exist here, and positions on the new timeline
 * restart below the stored one — resuming would skip them as already published. Detected from the
 * stored record's timeline and the server's timeline history, and, for records without a timeline,
 * from a stored position beyond the server's WAL end. null when the position is in this history.
 */
export function timelineGap(i: Pick<OwnershipInput, 'pipeline' | 'server'>, stored: StoredOffset): string | null {
  const server = i.server;
  if (!server) return null;
  const mark = committedWatermark(stored);
  const at = `pipeline "${i.pipeline}" published changes up to ${formatLsn(mark)}`;
  const consequence =
    `Those changes are in Kafka but not in this database, and resuming at ${formatLsn(mark)} would skip this server's own changes up to there ` +
    `(a failover to a standby that had not received that WAL — with slot.failover, set synchronized_standby_slots on the primary, docs/ha.md — or a restore from a backup).`;
  const st = stored.timeline;
  if (st !== undefined && st !== server.timeline) {
    if (st > server.timeline) {
      return `${at} on timeline ${st}, but this server is on timeline ${server.timeline}, an earlier one: the position is not in its history. ${consequence}`;
    }
    const sw = server.switchPoints.get(st);
    if (sw === undefined) {
      const known = [...server.switchPoints.keys()].join(', ') || 'none';
      return `${at} on timeline ${st}, which is not in the history of this server (timeline ${server.timeline}, ancestors ${known}): another branch of the cluster's history. ${consequence}`;
    }
    if (mark > sw) {
      return `${at} on timeline ${st}, but this server left timeline ${st} at ${formatLsn(sw)} (promoted to a later timeline, now ${server.timeline}): the WAL between ${formatLsn(sw)} and ${formatLsn(mark)} never reached it. ${consequence}`;
    }
    return null;
  }
  if (mark > server.walEnd + CONFIRM_SLACK) {
    return `${at}, beyond this server's WAL end ${formatLsn(server.walEnd)} (timeline ${server.timeline}): the position comes from WAL this server does not have. ${consequence}`;
  }
  return null;
}
