/**
 * Versions by commit position (docs: /work/shared/design/exactly-once.md, "Note on versions").
 *
 * INVARIANT: a sink version grows with every change of the same row, across transactions — the
 * commit LSN of the change's transaction does (a second transaction touching the row waits on the
 * first's row lock, so it commits later). Changes of one row inside one transaction share the commit
 * LSN and are ordered by `seq`. Never the change's own LSN: a transaction that began before a
 * snapshot point and commits after it has change LSNs below the snapshot's.
 */
import { comparePositions, type Position } from '../../events/change.js';

/** Largest version the stores accept (a signed 64-bit integer: ES external versions, ClickHouse UInt64 by design). */
export const MAX_VERSION = (1n << 63n) - 1n;

/** The version of a change for a store that compares integers: its commit LSN; throws when it does not fit. */
export function sinkVersion(position: Position): bigint {
  const v = position.commitLsn;
  if (v < 0n || v > MAX_VERSION) throw new Error(`version ${v} does not fit a signed 64-bit integer`);
  return v;
}

/**
 * True when `candidate` must not overwrite `stored`: it is older by commit position. Equal positions
 * are NOT stale (a replay of the same change re-applies the same value; equal versions of a
 * transaction are applied in order).
 */
export function isStale(candidate: Position, stored: Position | undefined): boolean {
  return stored !== undefined && comparePositions(candidate, stored) < 0;
}

/**
 * isStale for a store that keeps only the commit LSN of a row (ClickHouse's `_version` per key):
 * both sides compare at the same seq, so only an older commit LSN is stale — changes of one
 * transaction (equal versions) are never stale against each other and keep their change order.
 */
export function isStaleVersion(candidate: bigint, stored: bigint | undefined): boolean {
  return isStale({ commitLsn: candidate, seq: 0 }, stored === undefined ? undefined : { commitLsn: stored, seq: 0 });
}

/**
 * A position as a fixed-width string "<commit lsn, 20 digits>:<seq, 10 digits>": string order equals
 * position order, for stores that compare strings (Lua numbers are doubles and cannot hold an LSN).
 */
export function versionString(p: Position): string {
  return `${p.commitLsn.toString().padStart(20, '0')}:${String(p.seq).padStart(10, '0')}`;
}
